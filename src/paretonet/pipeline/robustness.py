"""The robustness jobs: the worst case over attacks at each eps with its sanity checks and accuracy under input noise
(one Record); clean and robust accuracy over training seeds (a Record per seed and one over the seeds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from ..data import DataConfig, Dataset, load_dataset, select_images
from ..errors import ConfigError
from ..evaluate import (BASIC_OBJECTIVES, RobustnessConfig, SeedVariance, evaluate_robustness, noise_robustness,
                        parse_noise_spec, priced_objectives, ranking_flips, robustness_curve, summarize)
from ..records import Objective, Record, accuracy_objective, versions
from ..records.names import input_noise_name
from ..spaces import Architecture
from ..train import TrainConfig
from .measure import SavedModel
from .train import train_architecture

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True, kw_only=True)
class RobustnessJob:
    """Attacks at each eps (the first eps's config holds the rest of the budget) and input-noise curves."""

    attacks: RobustnessConfig = field(default_factory=RobustnessConfig)
    eps: tuple[float, ...] = (0.1,)
    noise: tuple[str, ...] = ()  # 'gaussian:0.1,0.2' each
    draws: int = 5  # noise draws per level
    images: int | None = None  # a seeded sample of test images (None: all)

    def __post_init__(self) -> None:
        if not self.eps:
            raise ConfigError("eps: got an empty list, expected at least one value")
        for n in self.noise:
            parse_noise_spec(n)  # malformed noise fails before any work


def run_robustness(model: SavedModel, job: RobustnessJob, *, progress: ProgressFn | None = None) -> list[Record]:
    """One Record: the basic objectives, robust accuracy at each eps and accuracy under each noise level, with the
    per-attack tables and sanity checks of every eps and the noise points in the details."""
    net, meta, data, variant = model.load()
    x, y = select_images(data, job.images, job.attacks.seed)
    curve = robustness_curve(net, x, y, job.eps, replace(job.attacks, eps=job.eps[0]), progress=progress)
    noise_points = []
    for spec in job.noise:
        kind, levels = parse_noise_spec(spec)
        noise_points += noise_robustness(net, x, y, kind, levels, draws=job.draws, seed=job.attacks.seed)
    basic, unpriced = priced_objectives(net, data, BASIC_OBJECTIVES)
    objectives = [*basic, *(r.objective() for r in curve),
                  *(accuracy_objective(input_noise_name(p.kind, p.level), p.mean_accuracy, len(x)) for p in noise_points)]
    budgets = {"test_images": len(data.test), "robust_images": len(x), "noise_draws": job.draws,
               "attacks": {f"{a.name}@{r.eps:g}": a.budget for r in curve for a in r.attacks}}
    details = {"robustness": [r.details() for r in curve], "noise": [asdict(p) for p in noise_points],
               "attack_label": job.attacks.label}
    if unpriced:
        details["unpriced"] = unpriced
    return [Record(meta.architecture, data.name, meta.seed, tuple(objectives), variant=str(variant), budgets=budgets,
                   versions=versions(), details=details)]


def seed_variance(
    arch: Architecture | str,
    data: DataConfig | Dataset,
    config: TrainConfig,
    seeds: tuple[int, ...],
    robustness: RobustnessConfig,
    *,
    images: int | None = None,
    on_seed: Callable[[int], None] | None = None,
) -> tuple[SeedVariance, list[Record]]:
    """Train `arch` once per seed; clean and worst-case robust accuracy on the same test images.

    Returns the summary and one Record per seed (accuracy on the whole test split, robust accuracy
    on the selected images, size and energy; the sanity checks in its details)."""
    if not seeds:
        raise ConfigError("seeds: got none, expected at least one")
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    x, y = select_images(dataset, images, robustness.seed)
    clean, robust, records = [], [], []
    for s in seeds:
        trained = train_architecture(arch, dataset, replace(config, seed=s))
        r = evaluate_robustness(trained.model, x, y, robustness)
        clean.append(r.clean_accuracy)
        robust.append(r.robust_accuracy)
        rec = trained.record
        records.append(replace(rec, objectives=(*rec.objectives, r.objective()),
                               budgets={**rec.budgets, **r.budgets()},
                               details={**rec.details, "robustness": r.details()}))
        if on_seed is not None:
            on_seed(s)
    name = str(records[0].architecture)
    summary = SeedVariance(name, tuple(seeds), len(x), f"{robustness.label}@{robustness.eps:g}", tuple(clean),
                           tuple(robust), summarize(clean), summarize(robust))
    return summary, records


@dataclass(frozen=True, kw_only=True)
class VarianceJob:
    """One or two architectures (a space's or 'entry:package.module:factory'), trained once per seed."""

    archs: tuple[Architecture | str, ...]
    data: DataConfig | Dataset = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    attacks: RobustnessConfig = field(default_factory=lambda: RobustnessConfig(preset="fast"))
    images: int | None = None

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ConfigError("--seeds: got 0, expected an integer >= 1")
        if not 1 <= len(self.archs) <= 2:
            raise ConfigError(f"--arch: got {len(self.archs)} architectures, expected one or two")


def run_variance(job: VarianceJob, *, on_seed: Callable[[str, int], None] | None = None) -> list[Record]:
    """A Record per architecture and seed (the summary over seeds and, for two, the ranking flips in the details),
    then one Record per architecture over its seeds (seed -1)."""
    data = job.data if isinstance(job.data, Dataset) else load_dataset(job.data)
    results = [seed_variance(a, data, job.train, job.seeds, job.attacks, images=job.images,
                             on_seed=None if on_seed is None else (lambda s, a=a: on_seed(str(a), s)))
               for a in job.archs]
    flips = asdict(ranking_flips(results[0][0], results[1][0])) if len(results) == 2 else None
    per_seed = [replace(r, details={**r.details, "seed_variance": asdict(s), **({"ranking_flips": flips} if flips else {})})
                for s, rs in results for r in rs]
    return per_seed + [over_seeds(s, rs) for s, rs in results]


def over_seeds(s: SeedVariance, per_seed: list[Record]) -> Record:
    """One Record of an architecture over its seeds (seed -1): each accuracy of the per-seed Records is the mean
    over the seeds with the 95 % t-interval of that mean in the interval field (images: each seed's count)."""
    first = per_seed[0]
    objectives = []
    for o in first.objectives:
        if o.unit != "fraction":
            continue
        m = summarize([r.value(o.name) for r in per_seed])
        objectives.append(Objective(o.name, m.mean, o.unit, o.direction, images=o.images,
                                    interval=(m.ci95_low, m.ci95_high)))
    return Record(first.architecture, first.dataset, -1, tuple(objectives), variant=first.variant,
                  budgets={**first.budgets, "seeds": list(s.seeds), "interval": "95 % t-interval of the mean over seeds"},
                  versions=first.versions, details={"seed_variance": asdict(s)})
