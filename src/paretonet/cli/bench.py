"""`paretonet bench build` and `paretonet predict evaluate`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
    AttackPresetOpt, DataDirOpt, EpsOpt, FormatOpt, OutputOpt, Table, app, check_format, err, names, numbers, out, say, show,
    write_json, write_records,
)

bench_app = typer.Typer(no_args_is_help=True, help="Tabular benchmarks: build one, resumable and parallel.")
predict_app = typer.Typer(no_args_is_help=True, help="Predict clean and robust accuracy from proxies.")
app.add_typer(bench_app, name="bench")
app.add_typer(predict_app, name="predict")


@bench_app.command("build")
def build_cmd(
    space: Annotated[str, typer.Option(help="Search space to sample.")] = "lenet",
    dataset: Annotated[str, typer.Option(help="Dataset to train and evaluate on.")] = "digits",
    n: Annotated[int, typer.Option(help="Architectures in the finished benchmark.")] = 500,
    store: Annotated[Path, typer.Option(help="SQLite store; an existing one is resumed.")] = Path("runs/bench.db"),
    epochs: Annotated[int, typer.Option(help="Training epochs per architecture.")] = 8,
    eps: EpsOpt = 0.1,
    preset: AttackPresetOpt = "fast",
    images: Annotated[int, typer.Option(help="Test images attacked per architecture (a seeded sample).")] = 200,
    proxies: Annotated[Optional[str], typer.Option(help="Comma-separated proxies (default: all).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the sample, the training and the attacks.")] = 0,
    data_dir: DataDirOpt = None,
    csv: Annotated[Optional[Path], typer.Option(help="Also write the table as CSV here.")] = None,
    output: OutputOpt = None,
) -> None:
    """Train, attack, cost and score sampled architectures into a resumable store of Records."""
    from ..bench import BenchStore, BuildConfig, build_bench

    cfg = BuildConfig(space=space, dataset=dataset, n=n, seed=seed, epochs=epochs, eps=eps, preset=preset,
                      robust_images=images, proxies=names(proxies), workers=workers, data_dir=data_dir)
    BenchStore(store).close()  # a folder or a file of another kind is refused before any work
    t0 = time.perf_counter()
    bench = build_bench(store, cfg, lambda done, total, a: err.print(f"[{done}/{total}] {a}", markup=False,
                                                                       highlight=False, soft_wrap=True))
    out.print(f"{len(bench)} architectures in {store} ({time.perf_counter() - t0:.0f} s this run); "
              f"columns: {', '.join(sorted(bench.columns))}")
    if csv is not None:
        bench.to_csv(csv)
    if output is not None:
        s = BenchStore(store, must_exist=True)
        try:
            write_records(output, s.records())
        finally:
            s.close()


@predict_app.command("evaluate")
def evaluate_cmd(
    bench: Annotated[str, typer.Option(help="nb201-cifar10, a Jung et al. folder, a benchmark .csv or a build store.")] = "nb201-cifar10",
    train_sizes: Annotated[str, typer.Option(help="Comma-separated training-set sizes.")] = "100,1000",
    seeds: Annotated[int, typer.Option(help="Random splits per size.")] = 5,
    eps: Annotated[float, typer.Option(help="Robustness eps of NAS-Bench-201 targets, in [0, 1] like everywhere "
                                            "(the tables hold multiples of 1/255: 0.1/255 .. 8/255).")] = 1 / 255,
    jung_dataset: Annotated[str, typer.Option(help="Dataset inside a Jung et al. folder (cifar10, cifar100, ImageNet16-120).")] = "cifar10",
    targets: Annotated[Optional[str], typer.Option(help="Comma-separated objective names (default: every accuracy column).")] = None,
    features: Annotated[str, typer.Option(help="Feature set: proxies, proxies+encoding, encoding.")] = "proxies+encoding",
    importance_plot: Annotated[Optional[Path], typer.Option(help="Write the SHAP importance chart (SVG) here.")] = None,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Fit on n architectures, test on all the rest: R^2, Kendall tau and Spearman, mean and std over seeds."""
    check_format(fmt)
    from ..bench import open_bench
    from ..errors import check_choice
    from ..predict import FEATURE_SETS, PUBLISHED_R2, evaluate_protocol, feature_importance, importance_svg

    check_choice("features", features, FEATURE_SETS)
    sizes = list(numbers("--train-sizes", train_sizes, int, "100,1000"))
    t0 = time.perf_counter()
    data = open_bench(bench, eps, jung_dataset)
    wanted = list(names(targets)) or data.targets
    if not wanted:
        raise ConfigError(f"--bench: {data.name!r} has no accuracy columns (accuracy, robust_accuracy@...)")
    cells = evaluate_protocol(data, sizes, seeds, wanted, (features, "params+flops"))
    t = Table(title=f"{data.name}: R^2 / Kendall tau / Spearman, mean ± std over {seeds} seeds, "
                    f"{len(data.unique())} architectures (isomorphs removed)")
    t.add_column("features")
    t.add_column("n", justify="right")
    for target in wanted:
        t.add_column(target, justify="right")
    for fs in (features, "params+flops"):
        for n in sizes:
            row = {c.target: c for c in cells if c.features == fs and c.train_size == n}
            t.add_row(fs, str(n), *(f"{row[x].r2.mean:.3f}±{row[x].r2.std:.3f} / {row[x].kendall.mean:.3f} / "
                                    f"{row[x].spearman.mean:.3f}" for x in wanted))
    for n in sizes:
        if n in PUBLISHED_R2 and bench == "nb201-cifar10":  # the published figures are of that table, not a user's
            t.add_row("published R^2", str(n), *(f"{PUBLISHED_R2[n].get(x, float('nan')):.3f}" for x in wanted))
    show(t, fmt)
    # importance for the worst case (or the last target): largest size, seed 0
    target = next((x for x in wanted if "@worst:" in x or "@min:" in x), wanted[-1])
    imp = feature_importance(data, features, target, max(sizes))
    top = sorted(imp.items(), key=lambda kv: -kv[1][1])[:15]
    it = Table(title=f"feature importance for {target} (n={max(sizes)}, seed 0)")
    for col in ("feature", "total gain", "mean |SHAP|"):
        it.add_column(col, justify="left" if col == "feature" else "right")
    for name, (gain, shap) in top:
        it.add_row(name, f"{gain:.4g}", f"{shap:.4g}")
    show(it, fmt)
    if importance_plot is not None:
        importance_svg([(k, v[1]) for k, v in top], importance_plot, f"mean |SHAP| for {target}")
    seconds = time.perf_counter() - t0
    say(f"wall time {seconds:.0f} s", fmt)
    # a predictor's evaluation, not a model's measurement: its own versioned form
    write_json(output, {"format": 1, "bench": data.name, "seeds": seeds, "seconds": seconds, "cells": [
        {"features": c.features, "train_size": c.train_size, "target": c.target, "r2": c.r2.__dict__,
         "kendall": c.kendall.__dict__, "spearman": c.spearman.__dict__} for c in cells],
        "importance": {k: {"total_gain": v[0], "mean_abs_shap": v[1]} for k, v in imp.items()}})
