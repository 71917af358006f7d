"""The train evaluator: each trial trains an architecture (once; its variants reuse it), makes the
variant its hardware choices name (bit width, approximate multiplier, pruning) and measures every
objective on that variant's own model into a Record, with the budgets that produced it.

The searched genotype is the space's own parameters plus `arith` (float, int<bits> or an approximate
multiplier) and `prune` (unstructured magnitude pruning ratio). Trained float models and every
evaluated variant are saved as model files in the run folder, so the front's models are there and a
resumed search does not train an architecture twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset
from ..errors import ConfigError, check_choice, check_float, check_int
from ..records import Record
from ..records.names import ObjectiveName, robust_name
from ..records.run_folder import RunFolder
from ..spaces import SPACES, Architecture
from ..variant import Variant
from ._problem import Evaluation, Pool, group_ids, proxy_score
from ._spec import Constraint, ObjectiveSpec, parse_constraint, parse_objectives, perturbed_names
from ._stopping import FINAL, StopFn, rung_values

POOL_SIZE = 400  # candidates the predictor screens (drawn once per seed): 50 architectures x 8 hardware choices
POOL_PROXIES = ("nwot",)  # a cheap zero-cost proxy (one minibatch of 32) that ranks the warm start


@dataclass(frozen=True)
class TrainBudget:
    """What one trial costs; recorded in every Record the train evaluator writes."""

    epochs: int = 6
    train_seed: int = 0
    eps: float = 0.1
    preset: str = "fast"  # attack preset of the per-image worst case
    robust_images: int = 100  # a seeded sample of test images
    queries: int = 300  # Square's queries (it runs on every variant without useful gradients)
    sanity_images: int = 50
    sanity_queries: int = 200

    def __post_init__(self) -> None:
        from ..evaluate import PRESETS

        check_int("epochs", self.epochs, minimum=1)
        check_int("train_seed", self.train_seed, minimum=0)
        check_float("eps", self.eps, minimum=0.0, maximum=1.0)
        check_choice("preset", self.preset, tuple(PRESETS))
        for name in ("robust_images", "queries", "sanity_images", "sanity_queries"):
            check_int(name, getattr(self, name), minimum=1)

    @property
    def robust_objective(self) -> str:
        return robust_name(f"worst:{self.preset}", self.eps)

    def robustness(self):  # noqa: ANN201
        from ..evaluate import RobustnessConfig

        return RobustnessConfig(eps=self.eps, preset=self.preset, queries=self.queries, seed=self.train_seed,
                                sanity_images=self.sanity_images, sanity_queries=self.sanity_queries)

    def train_config(self):  # noqa: ANN201
        from ..train import TrainConfig

        return TrainConfig(epochs=self.epochs, seed=self.train_seed)


@dataclass(frozen=True)
class HardwareChoices:
    """The hardware part of the genotype: float is always a choice; bit widths, multipliers and pruning
    ratios add to it. HardwareChoices(bits=(), multipliers=(), prune=(0.0,)) searches architectures only."""

    bits: tuple[int, ...] = (8, 4)
    multipliers: tuple[str, ...] = ("trunc:k=6",)  # built-in designs, or EvoApprox names with lut_dirs
    prune: tuple[float, ...] = (0.0, 0.5)

    def __post_init__(self) -> None:
        for b in self.bits:
            check_int("bits", b, minimum=2, maximum=16)
        if not self.prune:
            raise ConfigError("prune: got no ratios, expected at least 0")
        for p in self.prune:
            check_float("prune", p, minimum=0.0, maximum=1.0, max_inclusive=False)

    @property
    def arith(self) -> tuple[str, ...]:
        return ("float", *(f"int{b}" for b in self.bits), *(f"mult:{m}" for m in self.multipliers))

    @staticmethod
    def variant(arith: str, prune: float) -> Variant:
        if arith == "float":
            return Variant(prune=prune)
        if arith.startswith("int"):
            return Variant(bits=int(arith[3:]), prune=prune)
        return Variant(multiplier=arith.removeprefix("mult:"), prune=prune)


class _Stopped(Exception):
    def __init__(self, epoch: int) -> None:
        super().__init__(f"stopped at epoch {epoch}")
        self.epoch = epoch


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class TrainProblem:
    """Architectures of a space x hardware choices, trained and measured on a dataset."""

    def __init__(self, space: str, dataset: Dataset, objectives: list[str] | tuple[str, ...],
                 constraints: list[str] | tuple[str, ...] = (), budget: TrainBudget = TrainBudget(),
                 hardware: HardwareChoices = HardwareChoices(), run_dir: str | Path | None = None,
                 lut_dirs: tuple[str, ...] = (), pool_size: int = POOL_SIZE) -> None:
        check_int("pool_size", pool_size, minimum=1)
        self.space = SPACES.get(space)
        self.space_name, self.dataset, self.budget, self.hardware = space, dataset, budget, hardware
        self.lut_dirs, self.pool_size = lut_dirs, pool_size
        self.space.search_params()  # a space without sampler parameters fails here, before any work
        names = self.available() + perturbed_names([*objectives, *constraints])
        self.objectives: tuple[ObjectiveSpec, ...] = parse_objectives(objectives, names)
        self.constraints: tuple[Constraint, ...] = tuple(parse_constraint(c, names) for c in constraints)
        for m in hardware.multipliers:  # an unknown multiplier fails now, not in the middle of the search
            from ..hw.approx import get_multiplier

            get_multiplier(m, dirs=lut_dirs)
        self.folder = RunFolder(run_dir) if run_dir is not None else None
        self._models: dict[str, Any] = {}
        self._done: dict[str, Evaluation] = {}  # a sampler may propose a candidate again: same key, same numbers
        self._scale: np.ndarray | None = None
        from ..data import select_images

        self.images = select_images(dataset, min(budget.robust_images, len(dataset.test)), budget.train_seed)

    def available(self) -> list[str]:
        from ..evaluate import measurable_names

        return [*measurable_names(), self.budget.robust_objective]

    # -- normalization: accuracies as fractions, costs over the largest float cost of a seeded sample --
    @property
    def scale(self) -> np.ndarray:
        if self._scale is None:
            rng = np.random.default_rng(np.random.SeedSequence([0, 0x5CA]))
            costs = []
            for _ in range(100):
                c = self.candidate(self._draw(rng))
                if c is not None:
                    costs.append(self._float_costs(c[0]))
            if not costs:
                raise ConfigError(f"space: no network of {self.space_name!r} fits the input {self.dataset.input_shape} "
                                  f"of {self.dataset.name!r} in 100 draws")
            worst = np.max(np.array(costs), axis=0)
            self._scale = np.where([s.direction == "max" or w <= 0 for s, w in zip(self.objectives, worst)], 1.0, worst)
        return self._scale

    @property
    def reference_point(self) -> np.ndarray:
        return np.array([0.0 if s.direction == "max" else 1.0 for s in self.objectives])

    def normalize(self, values: np.ndarray) -> np.ndarray:
        signs = np.array([s.sign for s in self.objectives])
        return np.asarray(values, dtype=float).reshape(-1, len(self.objectives)) * signs / self.scale

    def _float_costs(self, arch: Architecture) -> np.ndarray:
        """The objectives of the untrained float network that need no training (accuracies: 0)."""
        model = arch.build(self.dataset.input_shape, self.dataset.n_classes)
        values = {o.name: o.value for o in self._costs(model, [s.name for s in self.objectives if s.direction == "min"])}
        return np.array([values.get(s.name, 0.0) for s in self.objectives])

    def _costs(self, model, names: list[str]) -> list:  # noqa: ANN001
        """Objectives of `model` as it is, by name, measured by the measure job (the robust one is the trial's)."""
        from ..pipeline.measure import measure_names

        return measure_names(model, self.dataset, [n for n in names if n != self.budget.robust_objective])

    # -- the genotype ------------------------------------------------------------------------------
    def distributions(self) -> dict:
        import optuna

        dists = {k: optuna.distributions.CategoricalDistribution(v) for k, v in self.space.search_params().items()}
        dists["arith"] = optuna.distributions.CategoricalDistribution(self.hardware.arith)
        dists["prune"] = optuna.distributions.CategoricalDistribution(self.hardware.prune)
        return dists

    def _draw(self, rng: np.random.Generator) -> dict[str, Any]:
        return {k: d.choices[int(rng.integers(len(d.choices)))] for k, d in self.distributions().items()}

    def candidate(self, params: dict[str, Any]) -> tuple[Architecture, Variant] | None:
        g = self.space.from_params(params)
        if not self.space.fits(g, self.dataset.input_shape):
            return None
        return Architecture.of(self.space_name, g), self.hardware.variant(str(params["arith"]), float(params["prune"]))

    def key(self, candidate: tuple[Architecture, Variant]) -> str:
        arch, variant = candidate
        return f"{arch}#{variant}"

    # -- evaluation --------------------------------------------------------------------------------
    def _trained(self, arch: Architecture, on_rung: Callable[[Any, int, float], bool] | None = None,
                 rungs: tuple[int, ...] = ()) -> tuple[Any, list[float], int]:
        """The float model of `arch` trained with the budget (from memory, the run folder, or trained now), its
        validation accuracy per epoch and the epochs trained by this call. While training, at each of `rungs`
        on_rung(model, epoch, best validation accuracy so far) may stop it: then _Stopped is raised."""
        from ..modelfile import ModelMeta, load_model, model_paths, save_model
        from ..pipeline.train import initial_model
        from ..train import train

        name = str(arch)
        if name in self._models:
            return (*self._models[name], 0)
        config = self.budget.train_config()
        path = self.folder.models / f"float-{_slug(name)}" if self.folder is not None else None
        if path is not None and model_paths(path)[0].exists():
            model, meta = load_model(path)
            if meta.architecture == name and meta.train_config == config.to_dict():
                history = [float(meta.metrics[f"val_accuracy_epoch{e}"]) for e in range(1, config.epochs + 1)
                           if f"val_accuracy_epoch{e}" in meta.metrics]
                if not all(0.0 <= v <= 1.0 for v in history):  # a file's numbers are used only when they make sense
                    history = []
                self._models[name] = (model, history)
                return model, history, 0
        model = initial_model(arch, self.dataset, config)
        history: list[float] = []

        def on_epoch(stats) -> None:  # noqa: ANN001
            if stats.val_accuracy is None:
                return
            history.append(stats.val_accuracy)
            if on_rung is not None and stats.epoch in rungs and stats.epoch < config.epochs:
                if on_rung(model, stats.epoch, max(history)):
                    raise _Stopped(stats.epoch)

        result = train(model, self.dataset, config, on_epoch=on_epoch)
        metrics = {"training_seconds": result.seconds, **{f"val_accuracy_epoch{e}": v for e, v in enumerate(history, 1)}}
        if path is not None:
            save_model(path, model, ModelMeta(name, self.dataset.input_shape, self.dataset.n_classes, self.dataset.name,
                                              config.seed, metrics=metrics, train_config=config.to_dict()))
        self._models[name] = (model, history)
        return model, history, config.epochs

    def evaluate(self, candidate: tuple[Architecture, Variant], stop: StopFn | None = None,
                 rungs: tuple[int, ...] = ()) -> Evaluation:
        """Train (or reuse) the architecture, make the variant, measure it. With `stop`, the trial reports at each of
        `rungs` and at the last rung (the variant's accuracy, before any attack) and ends there if `stop` says so:
        an Evaluation with `stopped_at` and a partial Record (the costs measured, how far training got)."""
        from ..evaluate import (FAULT_TRIALS, INPUT_NOISE_DRAWS, NOISE_DRAWS, RobustnessAbandoned, SmoothingConfig,
                                is_input_noise_objective, is_perturbed_objective)
        from ..modelfile import ModelMeta, save_model
        from ..pipeline.compress import partial_record, variant_record, with_robustness
        from ..variant import apply_variant

        if self.key(candidate) in self._done:
            return self._done[self.key(candidate)]
        arch, variant = candidate
        config = self.budget.train_config()
        costs = [s.name for s in self.objectives if s.direction == "min"]  # measured on the variant: no training needed
        known: dict[str, Any] = {}  # the variant at the first rung and its costs
        budgets = {"evaluator": "train", "training": config.to_dict(), "search_budget": asdict(self.budget)}

        def measured(model) -> list[float | None]:  # noqa: ANN001
            if not known:  # once, at the first rung: the variant of the model as it is then
                known["variant"] = apply_variant(model, arch, self.dataset, variant, config, self.lut_dirs)
                known["costs"] = {o.name: o for o in self._costs(known["variant"].model, costs)}
            return [known["costs"][s.name].value if s.name in known["costs"] else None for s in self.objectives]

        def on_rung(model, epoch: int, value: float) -> bool:  # noqa: ANN001
            return stop is not None and stop(str(epoch), value, measured(model))

        try:
            model, history, epochs = self._trained(arch, on_rung if stop is not None else None, rungs)
        except _Stopped as s:
            partial = partial_record(known["variant"], self.dataset, config.seed, list(known["costs"].values()), budgets)
            return self._stopped(candidate, str(s.epoch), s.epoch, s.epoch, partial)
        attrs: dict[str, Any] = {"epochs_trained": epochs, "rungs": rung_values(history, rungs), "val_accuracy": history}
        vm = apply_variant(model, arch, self.dataset, variant, config, self.lut_dirs)
        named = [s.name for s in (*self.objectives, *self.constraints)]
        perturbed = {"noise_draws": NOISE_DRAWS, "fault_trials": FAULT_TRIALS, "perturbation_seed": 0} if any(
            is_perturbed_objective(n) for n in named) else {}
        if any(is_input_noise_objective(n) for n in named):
            perturbed.update(input_noise_draws=INPUT_NOISE_DRAWS, perturbation_seed=0)
        if any(ObjectiveName.parse(s.name).method == "smoothing" for s in (*self.objectives, *self.constraints)):
            perturbed["smoothing"] = asdict(SmoothingConfig())
        rec = variant_record(vm, self.dataset, config.seed, None, self.images, budgets={**budgets, **perturbed})
        have = {o.name for o in rec.objectives}
        extra = self._costs(vm.model, [s.name for s in (*self.objectives, *self.constraints) if s.name not in have])
        if extra:  # energy on other hardware, measured on the same model
            rec = replace(rec, objectives=(*rec.objectives, *extra))
        by_name = {o.name: o.value for o in rec.objectives}
        accuracy = float(by_name["accuracy"])
        attrs["rungs"][FINAL] = accuracy
        robust = self.budget.robust_objective

        def give_up(at_most: float) -> bool:  # the robust accuracy bound before each attack, all else measured
            return stop is not None and stop(FINAL, accuracy, [at_most if s.name == robust else by_name.get(s.name)
                                                               for s in self.objectives])

        if robust in named:
            try:
                rec = with_robustness(rec, vm.model, self.images, self.budget.robustness(), give_up)
            except RobustnessAbandoned as a:
                rec = replace(rec, budgets={**rec.budgets, "attacks_run": list(a.ran)},
                              details={**rec.details, "robustness": {"at_most": a.at_most, "seconds": a.seconds}})
                return self._stopped(candidate, FINAL, config.epochs, epochs, rec)
            by_name[robust] = rec.objectives[-1].value
        elif stop is not None and stop(FINAL, accuracy, [by_name.get(s.name) for s in self.objectives]):
            return self._stopped(candidate, FINAL, config.epochs, epochs, rec)
        values = tuple(float(by_name[s.name]) for s in self.objectives)
        violations = tuple(c.violation(float(by_name[c.name])) for c in self.constraints)
        attrs.update({"architecture": str(vm.architecture), "variant": str(vm.variant), "record": json.dumps(rec.to_dict())})
        if self.folder is not None:
            rel = self.folder.models.relative_to(self.folder.path) / _slug(self.key(candidate))
            save_model(self.folder.model(rel), vm.model, ModelMeta(str(vm.architecture), self.dataset.input_shape,
                                                               self.dataset.n_classes, self.dataset.name, config.seed,
                                                               variant=str(vm.variant), metrics=by_name,
                                                               train_config=config.to_dict()))
            attrs["model"] = str(rel)
        self._done[self.key(candidate)] = Evaluation(self.key(candidate), values, violations, attrs)
        return self._done[self.key(candidate)]

    def _stopped(self, candidate: tuple[Architecture, Variant], rung: str, epochs_run: int, epochs_trained: int,
                 record: Record) -> Evaluation:
        """A trial stopped at `rung`: its partial Record holds what was measured on its variant (the costs; at the last
        rung also the accuracy), its budgets how far training got. Never cached: a later front may let it through."""
        record = replace(record, budgets={**record.budgets, "epochs_run": epochs_run, "stopped_at": rung})
        attrs = {"architecture": str(candidate[0]), "variant": str(candidate[1]), "record": json.dumps(record.to_dict()),
                 "epochs_trained": epochs_trained}
        return Evaluation(self.key(candidate), (), (), attrs, stopped_at=rung)

    # -- the predictor's pool ------------------------------------------------------------------------
    def pool(self, seed: int) -> Pool:
        """About `pool_size` candidates: distinct architectures drawn with `seed`, each with every hardware choice
        (once an architecture is trained, its other variants cost no training); features: the space's encoding, the
        hardware choice, log parameter count; score: cheap zero-cost proxies of the architecture."""
        from ..hw.approx import get_multiplier
        from ..proxies import compute_proxies

        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9001]))
        params, keys, cands = [], [], []
        hardware = [(a, p) for a in self.hardware.arith for p in self.hardware.prune]
        archs = max(1, self.pool_size // len(hardware))
        for _ in range(50 * archs):
            if len(keys) >= archs * len(hardware):
                break
            p = self._draw(rng)
            c = self.candidate(p)
            if c is None or any(str(c[0]) == str(a) for a, _ in cands):
                continue
            for arith, prune in hardware:  # every hardware choice of each architecture: its variants need no training
                params.append({**p, "arith": arith, "prune": prune})
                c = self.candidate(params[-1])
                keys.append(self.key(c))
                cands.append(c)
        proxies: dict[str, dict[str, float]] = {}
        sizes: dict[str, float] = {}
        for arch, _ in cands:
            name = str(arch)
            if name not in proxies:
                proxies[name] = compute_proxies(arch, self.dataset, POOL_PROXIES, batch_size=32, seeds=(seed,))
                sizes[name] = float(sum(p.numel() for p in arch.build(self.dataset.input_shape,
                                                                       self.dataset.n_classes).parameters()))
        rows, names = [], []
        for arch, variant in cands:
            enc_names, enc = arch.encode()
            bits = 32 if variant.bits is None and variant.multiplier is None else (variant.bits or 8)
            power = 1.0
            if variant.multiplier is not None:
                power = get_multiplier(variant.multiplier, dirs=self.lut_dirs).relative_power or 1.0
            p = proxies[str(arch)]
            names = [*enc_names, "bits", "multiplier_power", "prune", "log_params",
                     *(f"proxy_{n}" for n in POOL_PROXIES)]
            rows.append([*enc, bits, power, variant.prune, np.log10(sizes[str(arch)]), *(p[n] for n in POOL_PROXIES)])
        features = np.array(rows, dtype=float)
        size_est = features[:, names.index("log_params")] + np.log10(features[:, names.index("bits")])
        groups = group_ids([f"{arch.canonical()}#{variant}" for arch, variant in cands])
        return Pool(tuple(params), tuple(keys), names, features, np.zeros((len(keys), len(self.objectives))),
                    np.zeros(len(self.objectives), dtype=bool), size_est, proxy_score(features, names), groups)
