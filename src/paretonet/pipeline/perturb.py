"""The perturb jobs: accuracy under computation noise (analog accelerators) and under bit flips in stored codes, with
the most vulnerable neurons protected by TMR or splitting and what that costs. One Record each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..data import select_images
from ..errors import ConfigError
from ..evaluate import (BASIC_OBJECTIVES, evaluate_objectives, fault_accuracy, layer_vulnerability, neuron_vulnerability,
                        noise_accuracy, perturbed_name, top_neurons)
from ..hw import FaultModel, NoiseModel, Protection, compute_layers, protection_cost, weight_format
from ..records import Record, accuracy_objective, versions
from ..variant import CALIBRATION_IMAGES
from .measure import SavedModel

# (stage label, done, total or None) while a stage runs
StageProgress = Callable[[str, int, int | None], None]


def _record(net, meta, data, variant, extra_objectives, budgets: dict, details: dict) -> Record:  # noqa: ANN001
    objectives = (*evaluate_objectives(net, data, BASIC_OBJECTIVES), *extra_objectives)
    return Record(meta.architecture, data.name, meta.seed, objectives, variant=str(variant),
                  budgets={"test_images": len(data.test), **budgets}, versions=versions(), details=details)


@dataclass(frozen=True, kw_only=True)
class NoiseJob:
    models: tuple[NoiseModel, ...]  # one per level of the curve
    draws: int = 20  # a fresh draw per forward pass
    images: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.draws < 1:
            raise ConfigError(f"--draws: got {self.draws}, expected an integer >= 1")


def run_noise(model: SavedModel, job: NoiseJob, *, progress: StageProgress | None = None) -> list[Record]:
    """Mean, std and worst accuracy over the draws of each noise model (its objective: the mean)."""
    net, meta, data, variant = model.load()
    x, y = select_images(data, job.images, job.seed)
    results = []
    for nm in job.models:
        on = None if progress is None else (lambda d, t, label=nm.label: progress(label, d, t))
        results.append(noise_accuracy(net, x, y, nm, draws=job.draws, seed=job.seed,
                                      calibration=data.train.x[:CALIBRATION_IMAGES], progress=on))
    objectives = [accuracy_objective(perturbed_name(nm), r.mean, r.images) for nm, r in zip(job.models, results)]
    return [_record(net, meta, data, variant, objectives,
                    {"noise_images": len(x), "noise_draws": job.draws, "noise_seed": job.seed},
                    {"noise": [asdict(r) for r in results]})]


@dataclass(frozen=True, kw_only=True)
class FaultJob:
    faults: tuple[FaultModel, ...]  # one per rate of the curve (or one fixed count)
    trials: int = 100
    protect: str | None = None  # tmr or split: protect the `top` most vulnerable neurons
    top: int = 10
    rank_trials: int = 4  # trials per neuron when ranking vulnerability
    vulnerability: bool = False  # also rank layers (each faulted alone) and neurons
    images: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"--trials: got {self.trials}, expected an integer >= 1")
        if self.protect is not None:
            Protection(self.protect)
            if self.top < 1:
                raise ConfigError(f"--top: got {self.top}, expected an integer >= 1")


def run_faults(model: SavedModel, job: FaultJob, *, progress: StageProgress | None = None) -> list[Record]:
    """Accuracy under each fault model (mean over trials); with `vulnerability`, layers and neurons ranked; with
    `protect`, the same faults with the top neurons protected, and the protection's bytes, MACs and energy."""
    net, meta, data, variant = model.load()
    positions = job.faults[0].bits  # every fault model of one job flips the same positions
    for name, m in compute_layers(net).items():  # a float layer or a bit beyond the width fails before any work
        width = weight_format(m).width
        if any(b >= width for b in positions):
            raise ConfigError(f"--bit-positions: bit {max(positions)} is beyond the {width}-bit codes of layer "
                              f"{name!r} (positions 0..{width - 1})")
    x, y = select_images(data, job.images, job.seed)
    # neurons are ranked on the validation split, so protection is not chosen on the images it is scored on
    rx, ry = (data.val.x, data.val.y) if len(data.val) else (x, y)

    def on(label: str):  # noqa: ANN202
        return None if progress is None else (lambda d, t: progress(label, d, t))

    results = [fault_accuracy(net, x, y, f, trials=job.trials, seed=job.seed, progress=on(f.label)) for f in job.faults]
    details: dict = {"faults": [asdict(r) for r in results], "labels": [f.label for f in job.faults],
                     "rank_images": len(rx), "ranked_on": "validation" if len(data.val) else "test"}
    ranking = []
    if job.vulnerability:
        if progress is not None:
            progress("layers", 0, None)
        details["layer_vulnerability"] = [asdict(v) for v in layer_vulnerability(net, rx, ry, job.faults[-1],
                                                                               trials=job.trials, seed=job.seed)]
    if job.protect is not None or job.vulnerability:
        ranking = neuron_vulnerability(net, rx, ry, bits=positions, trials=job.rank_trials, seed=job.seed,
                                       progress=on("neurons"))
        details["vulnerability"] = [asdict(v) for v in ranking[: max(job.top, 20)]]
    if job.protect is not None:
        mode = Protection(job.protect).mode
        protection = Protection(mode, top_neurons(ranking, job.top))
        costs = protection_cost(net, data.input_shape, protection)
        protected = [fault_accuracy(net, x, y, f, trials=job.trials, seed=job.seed, protection=protection,
                                    progress=on(f"{f.label} {mode}")) for f in job.faults]
        details["protection"] = {"mode": mode, "top": job.top, "neurons": top_neurons(ranking, job.top),
                                 "cost": asdict(costs), "faults": [asdict(p) for p in protected]}
    objectives = [accuracy_objective(perturbed_name(f), r.mean, r.images) for f, r in zip(job.faults, results)]
    return [_record(net, meta, data, variant, objectives,
                    {"fault_images": len(x), "fault_trials": job.trials, "fault_seed": job.seed,
                     **({"rank_trials": job.rank_trials, "rank_images": len(rx)} if ranking else {})}, details)]
