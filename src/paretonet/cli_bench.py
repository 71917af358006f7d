"""CLI: `paretonet bench build` and `paretonet predict evaluate`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from .cli import DataDirOpt, OutputOpt, _names, _numbers, _write_json, app, err, out
from .errors import ConfigError

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
    eps: Annotated[float, typer.Option(help="Perturbation size of the robust accuracies.")] = 0.1,
    preset: Annotated[str, typer.Option(help="Attack preset: each attack alone plus the worst case.")] = "fast",
    images: Annotated[int, typer.Option(help="Test images attacked per architecture.")] = 200,
    proxies: Annotated[Optional[str], typer.Option(help="Comma-separated proxies (default: all).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the sample, the training and the attacks.")] = 0,
    data_dir: DataDirOpt = None,
    csv: Annotated[Optional[Path], typer.Option(help="Also write the table as CSV here.")] = None,
) -> None:
    """Train, attack, cost and score sampled architectures into a resumable store."""
    from .bench import BuildConfig, build_bench

    names = _names(proxies)
    cfg = BuildConfig(space=space, dataset=dataset, n=n, seed=seed, epochs=epochs, eps=eps, preset=preset,
                      robust_images=images, proxies=names, workers=workers, data_dir=data_dir)
    store.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bench = build_bench(store, cfg, lambda done, total, a: err.print(f"[{done}/{total}] {a}", markup=False,
                                                                       highlight=False, soft_wrap=True))
    out.print(f"{len(bench)} architectures in {store} ({time.perf_counter() - t0:.0f} s this run); "
              f"columns: {', '.join(sorted(bench.columns))}")
    if csv is not None:
        bench.to_csv(csv)


def _importance_svg(rows: list[tuple[str, float]], path: Path, title: str) -> None:
    """A horizontal bar chart as a self-contained SVG (no plotting dependency)."""
    width, bar_h, left = 640, 18, 200
    top = max(v for _, v in rows) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{40 + bar_h * len(rows)}" '
             'font-family="sans-serif" font-size="11">', f'<text x="8" y="18" font-size="13">{title}</text>']
    for i, (name, v) in enumerate(rows):
        y = 30 + i * bar_h
        w = (width - left - 70) * v / top
        parts += [f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{name}</text>',
                  f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" fill="#4477aa"/>',
                  f'<text x="{left + w + 4:.1f}" y="{y + 12}">{v:.3g}</text>']
    path.write_text("\n".join(parts + ["</svg>"]) + "\n")


@predict_app.command("evaluate")
def evaluate_cmd(
    bench: Annotated[str, typer.Option(help="nb201-cifar10, a Jung et al. folder, a benchmark .csv or a build store.")] = "nb201-cifar10",
    train_sizes: Annotated[str, typer.Option(help="Comma-separated training-set sizes.")] = "100,1000",
    seeds: Annotated[int, typer.Option(help="Random splits per size.")] = 5,
    eps: Annotated[float, typer.Option(help="Robustness eps of NAS-Bench-201 targets (units of 1/255).")] = 1.0,
    jung_dataset: Annotated[str, typer.Option(help="Dataset inside a Jung et al. folder (cifar10, cifar100, ImageNet16-120).")] = "cifar10",
    targets: Annotated[Optional[str], typer.Option(help="Comma-separated targets (default: all present).")] = None,
    features: Annotated[str, typer.Option(help="Feature set: proxies, proxies+encoding, encoding.")] = "proxies+encoding",
    importance_plot: Annotated[Optional[Path], typer.Option(help="Write the SHAP importance chart (SVG) here.")] = None,
    output: OutputOpt = None,
) -> None:
    """Fit on n architectures, test on all the rest: R^2, Kendall tau and Spearman, mean and std over seeds."""
    from .bench import TARGETS, open_bench
    from .predict import FEATURE_SETS, PUBLISHED_R2, evaluate_protocol, feature_matrix, surrogate_for
    from .errors import check_choice

    check_choice("features", features, FEATURE_SETS)
    sizes = list(_numbers("--train-sizes", train_sizes, int, "100,1000"))
    t0 = time.perf_counter()
    data = open_bench(bench, eps, jung_dataset)
    wanted = list(_names(targets)) or [t for t in TARGETS if t in data.columns]
    if not wanted:
        raise ConfigError(f"--bench: {data.name!r} has none of the targets {', '.join(TARGETS)}")
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
        if n in PUBLISHED_R2 and data.space == "nb201":
            t.add_row("published R^2", str(n), *(f"{PUBLISHED_R2[n].get(x, float('nan')):.3f}" for x in wanted))
    out.print(t)
    # importance for the worst case (or the last target): largest size, seed 0
    target = "worst" if "worst" in wanted else wanted[-1]
    unique = data.unique()
    names, X = feature_matrix(unique, features)
    y = unique.columns[target]
    rows = np.random.default_rng(0).permutation(np.flatnonzero(np.isfinite(y)))[: max(sizes)]
    model = surrogate_for(max(sizes), 0).fit(X[rows], y[rows])
    imp = model.importance(X[rows], names)
    top = sorted(imp.items(), key=lambda kv: -kv[1][1])[:15]
    it = Table(title=f"feature importance for {target} (n={max(sizes)}, seed 0)")
    for col in ("feature", "total gain", "mean |SHAP|"):
        it.add_column(col, justify="left" if col == "feature" else "right")
    for name, (gain, shap) in top:
        it.add_row(name, f"{gain:.4g}", f"{shap:.4g}")
    out.print(it)
    if importance_plot is not None:
        _importance_svg([(k, v[1]) for k, v in top], importance_plot, f"mean |SHAP| for {target}")
    seconds = time.perf_counter() - t0
    out.print(f"wall time {seconds:.0f} s")
    _write_json(output, {"bench": data.name, "seeds": seeds, "seconds": seconds, "cells": [
        {"features": c.features, "train_size": c.train_size, "target": c.target, "r2": c.r2.__dict__,
         "kendall": c.kendall.__dict__, "spearman": c.spearman.__dict__} for c in cells],
        "importance": {k: {"total_gain": v[0], "mean_abs_shap": v[1]} for k, v in imp.items()}})

