"""`paretonet robustness` and `paretonet variance`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
    TrustCodeOpt,
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


def print_sanity(results: list[dict], fmt: str = "table") -> None:
    """Every eps's checks (each result a Record's details['robustness'] entry), one warning line per failed check."""
    for r in results:
        if not r["sanity"]:
            continue
        # old Records lack the timings: their footer is left out
        timed = "sanity_seconds" in r and "attack_seconds" in r
        reused = " (the black-box check read the evaluation's Square)" if r.get("sanity_square_reused") else ""
        st = Table(title=f"sanity checks at eps {r['eps']:g} ({r['gradient_mode']})",
                   caption=f"attacks {r['attack_seconds']:.2f} s, sanity checks {r['sanity_seconds']:.2f} s{reused}"
                   if timed else None)
        for col in ("check", "result", "value", "threshold"):
            st.add_column(col)
        for c in r["sanity"]:
            st.add_row(c["name"], "pass" if c["passed"] else "FAIL", f"{c['value']:.4g}", f"{c['threshold']:.4g}")
        show(st, fmt)
    for r in results:
        warn_failed_checks(f"eps {r['eps']:g}", r["sanity"])
    if any(r["gradient_masking_suspected"] for r in results):
        err.print("warning: gradient masking suspected; " +
                  ("robust accuracy above used BPDA, transfer and Square" if results[0]["gradient_mode"] != "white-box"
                   else "white-box numbers may overstate robustness"))


@app.command("robustness")
def robustness_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
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

    from ..pipeline import RobustnessConfig, RobustnessJob, SavedModel, run_robustness

    eps_values = numbers("--eps", eps)
    job = RobustnessJob(attacks=RobustnessConfig(eps=eps_values[0], norm=norm, preset=preset, attacks=names(attacks) or None,
                                                 steps=steps, restarts=restarts, queries=queries, seed=seed),
                        eps=eps_values, noise=tuple(noise or ()), draws=draws, images=images)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                        disable=not err.is_terminal)
    with progress:
        task = progress.add_task("attacks", total=None)

        def on_progress(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        [rec] = run_robustness(SavedModel(path=model, dataset=dataset, data_dir=data_dir, split_seed=split_seed), job,
                               progress=on_progress)
    curve = rec.details["robustness"]
    t = Table(title=f"{rec.architecture}: worst case over {rec.details['attack_label']}, {rec.budgets['robust_images']} "
                    f"images, {curve[0]['gradient_mode']}")
    for col in ("eps", "clean", "robust", *[a["name"] for a in curve[0]["attacks"]]):
        t.add_column(col, justify="right")
    for r in curve:
        t.add_row(f"{r['eps']:g}", f"{r['clean_accuracy']:.4f}", f"{r['robust_accuracy']:.4f}",
                  *[str(a["images_broken"]) for a in r["attacks"]])
    show(t, fmt)
    say("(attack columns: images each attack broke that every earlier attack left standing)", fmt)
    print_sanity(curve, fmt)
    if rec.details["noise"]:
        nt = Table(title=f"accuracy under noise ({draws} draws per level)")
        for col in ("noise", "level", "mean", "std"):
            nt.add_column(col, justify="right")
        for p in rec.details["noise"]:
            nt.add_row(p["kind"], f"{p['level']:g}", f"{p['mean_accuracy']:.4f}", f"{p['std_accuracy']:.4f}")
        show(nt, fmt)
    if "unpriced" in rec.details:
        say(f"note: {rec.details['unpriced']}", fmt)
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
    from ..pipeline import RobustnessConfig, TrainConfig, VarianceJob, run_variance

    if seeds < 1:
        raise ConfigError(f"--seeds: got {seeds}, expected an integer >= 1")
    if len(arch) > 2:
        raise ConfigError(f"--arch: got {len(arch)} architectures, expected one or two")
    archs = tuple(a if a.startswith("entry:") else architecture(a, space) for a in arch)  # entry: a user's factory
    data = load_dataset(DataConfig(name=dataset, root=data_dir))
    records = run_variance(VarianceJob(archs=archs, data=data, train=TrainConfig(epochs=epochs), seeds=tuple(range(seeds)),
                                       attacks=RobustnessConfig(eps=eps, preset=preset, seed=seed), images=images),
                           on_seed=lambda a, s: err.print(f"{a}: seed {s} done"))
    summaries = [r.details["seed_variance"] for r in records if r.seed == -1]
    t = Table(title=f"{seeds} seeds, {summaries[0]['n_images']} images, robust = worst case {summaries[0]['robustness']}")
    for col in ("architecture", "metric", "mean", "std", "min", "max", "95% interval"):
        t.add_column(col, overflow="fold")
    for r in summaries:
        for metric, s in (("clean", r["clean"]), ("robust", r["robust"])):
            t.add_row(r["architecture"], metric, f"{s['mean']:.4f}", f"{s['std']:.4f}", f"{s['min']:.4f}",
                      f"{s['max']:.4f}", f"[{s['ci95_low']:.4f}, {s['ci95_high']:.4f}]")
    show(t, fmt)
    flips = records[0].details.get("ranking_flips")
    if flips:
        say(f"better on average: {flips['better_on_average']}; ranking flips on {flips['paired_flip_rate']:.0%} "
            f"of seeds, {flips['cross_flip_rate']:.0%} of cross-seed pairs", fmt)
    for r in records:
        if r.seed >= 0:
            warn_failed_checks(f"{r.architecture} seed {r.seed}, eps {eps:g}", r.details["robustness"]["sanity"])
    write_records(output, records)
