"""`paretonet search`: a multi-objective search as an Optuna study (the table evaluator for now)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..errors import ConfigError
from ._common import app, err, names, out, write_json

DEFAULT_OBJECTIVES = "accuracy,robust_accuracy@apgd-ce:1/255,proxy_flops"


@app.command("search")
def search_cmd(
    bench: Annotated[str, typer.Option(help="Table evaluator: nb201-cifar10, a benchmark .csv or a `bench build` store.")] = "nb201-cifar10",
    objectives: Annotated[str, typer.Option(help="Comma-separated objective names (':max'/':min' where the name does not say).")] = DEFAULT_OBJECTIVES,
    constraints: Annotated[Optional[list[str]], typer.Option("--constraint", help="e.g. proxy_flops<=100 (repeatable).")] = None,
    sampler: Annotated[str, typer.Option(help="nsga2, nsga3, tpe or random (Optuna's).")] = "nsga2",
    trials: Annotated[int, typer.Option(help="Completed trials the study ends with (evaluations).")] = 300,
    predictor: Annotated[bool, typer.Option("--predictor/--no-predictor", help="Predictor-guided proposals.")] = True,
    storage: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL of the study's database (default: a SQLite file in the run folder).")] = None,
    study: Annotated[str, typer.Option(help="Study name.")] = "paretonet",
    worker: Annotated[bool, typer.Option("--worker", help="Join the existing study in --storage as one more worker.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the sampler and the predictor.")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: study, front (CSV and Records), hypervolume.")] = Path("runs/search"),
) -> None:
    """Search for the Pareto front; a rerun of the same command resumes the study."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..bench import open_bench
    from ..search import SearchConfig, TableProblem, hypervolume, mask_url, nondominated, run_table_search

    if worker and storage is None:
        raise ConfigError("--worker: joining a study needs --storage URL (the database the other workers use)")
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output: {output} exists and is not a folder")
    config = SearchConfig(trials=trials, sampler=sampler, predictor=predictor, seed=seed, study=study,
                          storage=storage or f"sqlite:///{output / 'study.db'}")
    problem = TableProblem.from_names(open_bench(bench), names(objectives), tuple(constraints or ()))
    output.mkdir(parents=True, exist_ok=True)
    err.print(f"study {study!r} in {mask_url(config.storage)}: {trials} trials, sampler {sampler}, "
              f"predictor {'on' if predictor else 'off'}, {len(problem.rows)} architectures in {problem.bench.name}")
    progress = Progress(TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TextColumn("hypervolume {task.fields[hv]}"),
                        TimeElapsedColumn(), console=err, disable=not err.is_terminal)
    with progress:
        task = progress.add_task("search", total=trials, hv="-")
        result = run_table_search(problem, config, worker=worker,
                                  progress=lambda done, total, hv: progress.update(task, completed=done, hv=f"{hv:.4f}"))
    ref = problem.reference_point
    t = Table(title=f"Pareto front: {len(result.front)} of {len(result.rows)} trials, hypervolume {result.hypervolume:.4f} "
                    f"(normalized, reference point {tuple(float(v) for v in ref)})")
    t.add_column("architecture", overflow="fold")
    for s in problem.objectives:
        t.add_column(f"{s.name} ({s.direction})", justify="right")
    front = sorted(result.front, key=lambda r: -problem.values[r, 0] * problem.objectives[0].sign)
    for r in front:
        t.add_row(problem.bench.architectures[r], *(f"{v:.4g}" for v in problem.values[r]))
    out.print(t)
    with (output / "front.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["architecture", *(s.name for s in problem.objectives)])
        for r in front:
            w.writerow([problem.bench.architectures[r], *(repr(float(v)) for v in problem.values[r])])
    write_json(output / "front.json", [problem.record(r, seed).to_dict() for r in front])
    with (output / "hypervolume.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["evaluations", "hypervolume"])
        for n in range(1, len(result.rows) + 1):
            pts = problem.min_space(result.rows[:n])
            w.writerow([n, repr(hypervolume(pts[nondominated(pts)], ref))])
    out.print(f"front: {output / 'front.csv'} and {output / 'front.json'}; hypervolume per evaluation: "
              f"{output / 'hypervolume.csv'}")
