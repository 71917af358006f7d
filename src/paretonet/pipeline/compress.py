"""The compress jobs: a trained model made into variants (quantized, pruned, approximate multipliers), each measured
on its own model into a Record; one approximate layer at a time; a multiplier per layer chosen greedily."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ..data import Dataset, select_images
from ..errors import ConfigError
from ..evaluate import BASIC_OBJECTIVES, EvalContext, RobustnessConfig, evaluate_objectives, evaluate_robustness
from ..hw.approx import get_multiplier
from ..modelfile import architecture_of, save_model
from ..records import Objective, Record, versions
from ..spaces import Architecture
from ..train import TrainConfig
from ..variant import Variant, VariantModel, apply_variant, greedy_assignment, layer_sensitivity
from ._load import load_for_eval


def variant_record(vm: VariantModel, dataset: Dataset, seed: int, robustness: RobustnessConfig | None,
                   images: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                   budgets: dict | None = None) -> Record:
    """Accuracy, params, size, MACs and energy (and robust accuracy when asked) of the variant's model.

    `seed` is the training seed of the model the variant was made from; the record's key is
    (architecture after channel pruning, variant string, dataset, seed).
    """
    m = vm.model
    ctx = EvalContext(m, dataset)
    objectives = list(evaluate_objectives(m, dataset, BASIC_OBJECTIVES, context=ctx))
    details: dict = {"energy": ctx.energy_breakdown()}  # per layer, from the estimate the objectives read
    record = Record(str(vm.architecture), dataset.name, seed, tuple(objectives), variant=str(vm.variant),
                    budgets={"test_images": len(dataset.test), **(budgets or {})}, versions=versions(), details=details)
    if robustness is None:
        return record
    return with_robustness(record, m, images if images is not None else (dataset.test.x, dataset.test.y), robustness)


def partial_record(vm: VariantModel, dataset: Dataset, seed: int, objectives: Sequence[Objective],
                   budgets: dict) -> Record:
    """A Record of what was measured on the variant's model before the work stopped (a search's trial stopped at a
    rung: its costs); `budgets` say how far it got."""
    return Record(str(vm.architecture), dataset.name, seed, tuple(objectives), variant=str(vm.variant),
                  budgets=budgets, versions=versions())


def with_robustness(record: Record, model: torch.nn.Module, images: tuple[torch.Tensor, torch.Tensor],
                    robustness: RobustnessConfig, give_up: Callable[[float], bool] | None = None) -> Record:
    """`record` (of `model`) with the model's robust accuracy on `images` added, its attacks' details and budgets
    (`give_up`: see evaluate_robustness)."""
    r = evaluate_robustness(model, *images, robustness, give_up=give_up)
    return replace(record, objectives=(*record.objectives, r.objective()), budgets={**record.budgets, **r.budgets()},
                   details={**record.details, "robustness": r.details()})


def variant_objectives(vm: VariantModel, dataset: Dataset, robustness: RobustnessConfig | None,
                       images: tuple[torch.Tensor, torch.Tensor] | None = None):  # noqa: ANN201
    return variant_record(vm, dataset, 0, robustness, images).objectives


def compare_variants(model: torch.nn.Module, arch: Architecture, dataset: Dataset, seed: int,
                     variants: Sequence[Variant], robustness: RobustnessConfig | None,
                     images: tuple[torch.Tensor, torch.Tensor] | None = None,
                     train_config: TrainConfig = TrainConfig(), lut_dirs: tuple[str, ...] = (),
                     base: Variant = Variant()) -> tuple[list[Record], VariantModel]:
    """Records of the model as trained (`base`: the variant it is, its training recipe) and of each variant
    (all on the same images); the last variant's model."""
    records = [variant_record(VariantModel(model, arch, base), dataset, seed, robustness, images)]
    vm = None
    for variant in variants:
        vm = apply_variant(model, arch, dataset, variant, train_config, lut_dirs)
        trains = variant.qat or variant.finetune or variant.retrain
        budgets = {"variant_training": {"base_lr": train_config.lr, "batch_size": train_config.batch_size,
                                        "seed": train_config.seed}} if trains else {}
        records.append(variant_record(vm, dataset, seed, robustness, images, budgets=budgets))
    return records, vm


@dataclass(frozen=True, kw_only=True)
class CompressJob:
    """Variants of a float model, all measured on the same images with the same attacks."""

    variants: tuple[Variant, ...]
    attacks: RobustnessConfig | None = None  # None: no robust accuracy
    images: int | None = None
    seed: int = 0  # images, attacks and any (re)training
    lut_dirs: tuple[str, ...] = ()
    data_dir: str | None = None
    save: Path | None = None  # the last variant's model is saved here


def _float_model(path: Path, data_dir: str | None):  # noqa: ANN202
    net, meta, data = load_for_eval(path, None, data_dir, 0)
    base = Variant.parse(meta.variant)
    if not base.is_base:
        raise ConfigError(f"model: {path} is already the variant {meta.variant!r}; start from the float model")
    return net, meta, data, base


def run_compress(model: Path, job: CompressJob) -> list[Record]:
    """The model as trained, then each variant (fine-tuning follows the model's training recipe); the last variant's
    model saved with its objectives when asked. Channel pruning shows in the variant's architecture."""
    net, meta, data, base = _float_model(model, job.data_dir)
    variants = [replace(v, recipe=base.recipe) for v in job.variants]
    cfg = TrainConfig.from_dict({**meta.train_config, "seed": job.seed}) if meta.train_config else TrainConfig(seed=job.seed)
    records, vm = compare_variants(net, architecture_of(meta), data, meta.seed, variants, job.attacks,
                                   select_images(data, job.images, job.seed), cfg, job.lut_dirs, base)
    if job.save is not None:
        save_model(job.save, vm.model, replace(meta, architecture=str(vm.architecture), variant=str(vm.variant),
                                               metrics={o.name: o.value for o in records[-1].objectives}))
    return records


def run_sensitivity(model: Path, multiplier: str, job: CompressJob, signed: bool | None = None) -> list[Record]:
    """The exact 8-bit model, then `multiplier` in one layer at a time, every other layer exact 8-bit: a Record each,
    whose details say the accuracy (and robust accuracy) change and the MAC energy saved against exact 8-bit."""
    mult = get_multiplier(multiplier, dirs=job.lut_dirs, signed=signed)
    net, meta, data = load_for_eval(model, None, job.data_dir, 0)
    robust_images = None if job.attacks is None else select_images(data, job.images, job.seed)
    base, rows = layer_sensitivity(net, data, [mult], robustness=job.attacks, robust_images=robust_images)
    robust = base.robust_accuracy is not None
    budgets = {"test_images": len(data.test), **({"robust_images": len(robust_images[0]), "eps": job.attacks.eps,
                                                  "preset": job.attacks.preset, "square_queries": job.attacks.queries}
                                                 if robust else {})}
    records = [Record(meta.architecture, data.name, meta.seed, base.objectives, variant=str(Variant(multiplier="exact")),
                      budgets=budgets, versions=versions(), details={"multiplier": mult.name})]
    for r in rows:
        details = {"layer": r.layer, "accuracy_change": r.change, "energy_mac_saved_pj": r.energy_mac_saved_pj}
        if robust:
            details["robust_accuracy_change"] = r.robust_change
        records.append(Record(meta.architecture, data.name, meta.seed, r.measured.objectives,
                              variant=str(Variant(multipliers=(f"{r.layer}@{multiplier}",))), budgets=budgets,
                              versions=versions(), details=details))
    return records


@dataclass(frozen=True, kw_only=True)
class AssignJob:
    multipliers: tuple[str, ...]  # candidates: names, designs or .bin files
    budget: float = 0.01  # accuracy the assignment may lose against exact 8-bit
    split: str = "val"  # where the choices are measured: val or test
    measure: CompressJob = CompressJob(variants=())  # how the exact 8-bit and chosen models are measured after

    def __post_init__(self) -> None:
        if self.split not in ("val", "test"):
            raise ConfigError(f"--choose-on: got {self.split!r}, expected val or test")


def run_assign(model: Path, job: AssignJob) -> list[Record]:
    """A multiplier per layer chosen greedily within the budget, then the model as trained, exact 8-bit and the chosen
    assignment measured as `compress` measures them. The chosen Record's details hold the steps of the choice."""
    net, _, data, _ = _float_model(model, job.measure.data_dir)
    g = greedy_assignment(net, data, job.multipliers, job.budget, lut_dirs=job.measure.lut_dirs, split=job.split)
    records = run_compress(model, replace(job.measure, variants=(Variant(multiplier="exact"), g.variant)))
    choice = {"split": g.split, "base_accuracy": g.base_accuracy, "accuracy": g.accuracy, "budget": g.budget,
              "variant": str(g.variant), "steps": [asdict(s) for s in g.steps],
              "without_power": [s for s in job.multipliers
                                if get_multiplier(s, dirs=job.measure.lut_dirs).relative_power is None]}
    return [*records[:-1], replace(records[-1], details={**records[-1].details, "assignment": choice})]


def multipliers_without_power(specs: Sequence[str], lut_dirs: tuple[str, ...] = (), signed: bool | None = None,
                              ) -> list[str]:
    """Check every multiplier named (an unknown one fails before any model work); the names of those without
    circuit power data (their energy is counted as the exact multiplier's)."""
    return [m.name for m in (get_multiplier(s, dirs=lut_dirs, signed=signed) for s in specs) if m.relative_power is None]


def multiplier_list(lut_dirs: Sequence[str] = (), meta: Sequence[str] = (), signed: bool | None = None) -> list[dict]:
    """Built-in designs and the tables found: error metrics, circuit data and relative power (multipliers, not models:
    no Record)."""
    from ..hw.approx import list_multipliers

    rows = []
    for i in list_multipliers(lut_dirs, meta, signed):
        m, e = i.multiplier, i.metrics
        rows.append({"name": m.name, "signed": m.signed, "power_mw": m.power_mw, "area_um2": m.area_um2,
                     "delay_ns": m.delay_ns, "relative_power": m.relative_power, "source": m.source,
                     "table_sha256": m.table_sha256, "mae": e.mae, "mae_pct": e.mae_pct, "wce": e.wce,
                     "wce_pct": e.wce_pct, "mse": e.mse, "mre_pct": e.mre_pct, "ep_pct": e.ep_pct,
                     "mean_error_bias": e.mean_error_bias})
    return rows
