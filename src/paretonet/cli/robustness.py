"""`paretonet robustness` and `paretonet variance`."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
    Table,
    AttackPresetOpt,
    DataDirOpt,
    DatasetOpt,
    EpsOpt,
    FormatOpt,
    ImagesOpt,
    ModelArg,
    OutputOpt,
    SeedOpt,
    SplitSeedOpt,
    app,
    architecture,
    check_format,
    err,
    names,
    numbers,
    say,
    show,
    write_records,
)


def warn_failed_checks(where: str, checks: list[dict]) -> None:
    for c in checks:
        if not c["passed"]:
            err.print(f"warning: sanity check {c['name']} failed at {where}: {c['value']:.4g} against "
                      f"{c['threshold']:.4g} ({c['detail']})", markup=False, highlight=False, soft_wrap=True)


def print_sanity(results, fmt: str = "table") -> None:  # noqa: ANN001
    """Every eps's checks, and one warning line per failed check at any eps."""
    for r in results:
        if not r.sanity:
            continue
        st = Table(title=f"sanity checks at eps {r.eps:g} ({r.gradient_mode})")
        for col in ("check", "result", "value", "threshold"):
            st.add_column(col)
        for c in r.sanity:
            st.add_row(c.name, "pass" if c.passed else "FAIL", f"{c.value:.4g}", f"{c.threshold:.4g}")
        show(st, fmt)
    for r in results:
        warn_failed_checks(f"eps {r.eps:g}", [asdict(c) for c in r.sanity])
    if any(r.gradient_masking_suspected for r in results):
        err.print("warning: gradient masking suspected; " +
                  ("robust accuracy above used BPDA, transfer and Square" if results[0].gradient_mode != "white-box"
                   else "white-box numbers may overstate robustness"))


@app.command("robustness")
def robustness_cmd(
    model: ModelArg,
    preset: AttackPresetOpt = "standard",
    attacks: Annotated[Optional[str], typer.Option(help="Comma-separated attacks instead of a preset.")] = None,
    eps: Annotated[str, typer.Option(help="Perturbation size(s) in [0, 1], comma-separated for a curve.")] = "0.1",
    norm: Annotated[str, typer.Option(help="Linf or L2.")] = "Linf",
    steps: Annotated[Optional[int], typer.Option(help="Iterations of PGD/APGD/FAB (default 20/100/100).")] = None,
    restarts: Annotated[int, typer.Option(help="Random restarts of PGD/APGD/Square.")] = 1,
    queries: Annotated[int, typer.Option(help="Square's query budget.")] = 5000,
    noise: Annotated[Optional[list[str]], typer.Option(help="Noise curve, e.g. gaussian:0.1,0.2 (repeatable).")] = None,
    draws: Annotated[int, typer.Option(help="Noise draws per level.")] = 5,
    images: ImagesOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    split_seed: SplitSeedOpt = 0,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Worst-case adversarial robustness at each eps with sanity checks, and noise curves: one Record."""
    check_format(fmt)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..evaluate import BASIC_OBJECTIVES, RobustnessConfig, noise_robustness, parse_noise_spec, priced_objectives
    from ..evaluate import robustness_curve
    from ..pipeline import load_for_eval
    from ..records import Record, accuracy_objective, versions
    from ..variant import select_images

    eps_values = numbers("--eps", eps)
    cfg = RobustnessConfig(eps=eps_values[0], norm=norm, preset=preset, attacks=names(attacks) or None, steps=steps,
                           restarts=restarts, queries=queries, seed=seed)
    noise_specs = [parse_noise_spec(n) for n in noise or []]
    net, meta, data = load_for_eval(model, dataset, data_dir, split_seed)
    x, y = select_images(data, images, seed)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                        disable=not err.is_terminal)
    with progress:
        task = progress.add_task("attacks", total=None)

        def on_progress(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        curve = robustness_curve(net, x, y, eps_values, cfg, progress=on_progress)
    t = Table(title=f"{meta.architecture}: worst case over {cfg.label}, {len(x)} images, {curve[0].gradient_mode}")
    for col in ("eps", "clean", "robust", *[a.name for a in curve[0].attacks]):
        t.add_column(col, justify="right")
    for r in curve:
        t.add_row(f"{r.eps:g}", f"{r.clean_accuracy:.4f}", f"{r.robust_accuracy:.4f}", *[str(a.images_broken) for a in r.attacks])
    show(t, fmt)
    say("(attack columns: images each attack broke that every earlier attack left standing)", fmt)
    print_sanity(curve, fmt)
    noise_points = []
    for kind, levels in noise_specs:
        noise_points += noise_robustness(net, x, y, kind, levels, draws=draws, seed=seed)
    if noise_points:
        nt = Table(title=f"accuracy under noise ({draws} draws per level)")
        for col in ("noise", "level", "mean", "std"):
            nt.add_column(col, justify="right")
        for p in noise_points:
            nt.add_row(p.kind, f"{p.level:g}", f"{p.mean_accuracy:.4f}", f"{p.std_accuracy:.4f}")
        show(nt, fmt)
    basic, unpriced = priced_objectives(net, data, BASIC_OBJECTIVES)
    if unpriced:
        say(f"note: {unpriced}", fmt)
    objectives = [*basic, *(r.objective() for r in curve),
                  *(accuracy_objective(f"accuracy@noise:{p.kind}:{p.level:g}", p.mean_accuracy, len(x))
                    for p in noise_points)]
    budgets = {"test_images": len(data.test), "robust_images": len(x), "noise_draws": draws,
               "attacks": {f"{a.name}@{r.eps:g}": a.budget for r in curve for a in r.attacks}}
    rec = Record(meta.architecture, data.name, meta.seed, tuple(objectives), variant=meta.variant, budgets=budgets,
                 versions=versions(), details={"robustness": [r.details() for r in curve],
                                               "noise": [asdict(p) for p in noise_points]})
    write_records(output, [rec])


@app.command("variance")
def variance_cmd(
    arch: Annotated[list[str], typer.Option(help="Architecture (repeat for two to count ranking flips); "
                                                  "'entry:package.module:factory' trains your own network.")],
    space: Annotated[str, typer.Option(help="Search space of bare architecture strings.")] = "lenet",
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "digits",
    data_dir: DataDirOpt = None,
    seeds: Annotated[int, typer.Option(help="Number of training seeds (0..k-1).")] = 5,
    epochs: Annotated[int, typer.Option(help="Training epochs per seed.")] = 15,
    preset: AttackPresetOpt = "fast",
    eps: EpsOpt = 0.1,
    images: ImagesOpt = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Clean and robust accuracy over training seeds: mean, std, min, max, 95 % interval, ranking flips."""
    check_format(fmt)
    from ..data import DataConfig, load_dataset
    from ..evaluate import RobustnessConfig, ranking_flips
    from ..pipeline import seed_variance
    from ..train import TrainConfig

    if seeds < 1:
        raise ConfigError(f"--seeds: got {seeds}, expected an integer >= 1")
    if len(arch) > 2:
        raise ConfigError(f"--arch: got {len(arch)} architectures, expected one or two")
    archs = [a if a.startswith("entry:") else architecture(a, space) for a in arch]  # entry: a user's factory
    data = load_dataset(DataConfig(name=dataset, root=data_dir))
    cfg = RobustnessConfig(eps=eps, preset=preset, seed=seed)
    results = []
    for a in archs:
        results.append(seed_variance(a, data, TrainConfig(epochs=epochs), tuple(range(seeds)), cfg, images=images,
                                     on_seed=lambda s, a=a: err.print(f"{a}: seed {s} done")))
    summaries = [s for s, _ in results]
    t = Table(title=f"{seeds} seeds, {summaries[0].n_images} images, robust = worst case {summaries[0].robustness}")
    for col in ("architecture", "metric", "mean", "std", "min", "max", "95% interval"):
        t.add_column(col, overflow="fold")
    for r in summaries:
        for metric, s in (("clean", r.clean), ("robust", r.robust)):
            t.add_row(r.architecture, metric, f"{s.mean:.4f}", f"{s.std:.4f}", f"{s.min:.4f}", f"{s.max:.4f}",
                      f"[{s.ci95_low:.4f}, {s.ci95_high:.4f}]")
    show(t, fmt)
    flips = None
    if len(summaries) == 2:
        flips = asdict(ranking_flips(*summaries))
        say(f"better on average: {flips['better_on_average']}; ranking flips on {flips['paired_flip_rate']:.0%} "
            f"of seeds, {flips['cross_flip_rate']:.0%} of cross-seed pairs", fmt)
    for _, rs in results:
        for r in rs:
            warn_failed_checks(f"{r.architecture} seed {r.seed}, eps {eps:g}", r.details["robustness"]["sanity"])
    records = [replace(r, details={**r.details, "seed_variance": asdict(s), **({"ranking_flips": flips} if flips else {})})
               for s, rs in results for r in rs]
    write_records(output, records + [_over_seeds(s, rs) for s, rs in results])


def _over_seeds(s, per_seed: list):  # noqa: ANN001, ANN202
    """One Record of an architecture over its seeds (seed -1): each accuracy of the per-seed Records is the mean
    over the seeds with the 95 % t-interval of that mean in the interval field (images: each seed's count)."""
    from ..evaluate import summarize
    from ..records import Objective, Record

    first = per_seed[0]
    objectives = []
    for o in first.objectives:
        if o.unit != "fraction":
            continue
        m = summarize([r.value(o.name) for r in per_seed])
        objectives.append(Objective(o.name, m.mean, o.unit, o.direction, images=o.images,
                                    interval=(m.ci95_low, m.ci95_high)))
    objectives = tuple(objectives)
    return Record(first.architecture, first.dataset, -1, objectives, variant=first.variant,
                  budgets={**first.budgets, "seeds": list(s.seeds), "interval": "95 % t-interval of the mean over seeds"},
                  versions=first.versions, details={"seed_variance": asdict(s)})
