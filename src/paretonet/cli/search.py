"""`paretonet search` (a multi-objective search as an Optuna study) and `paretonet report` (its HTML report)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ..records.run_folder import RunFolder
from ._common import DataDirOpt, FormatOpt, Table, app, check_format, err, names, out, say, show

TABLE_OBJECTIVES = "accuracy,robust_accuracy@apgd-ce:1/255,proxy_flops"
TRAIN_OBJECTIVES = "accuracy,{robust},energy,size_bytes"


def _floats(option: str, text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in names(text))
    except ValueError:
        raise ConfigError(f"{option}: got {text!r}, expected comma-separated numbers") from None


def _ints(option: str, text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in names(text))
    except ValueError:
        raise ConfigError(f"{option}: got {text!r}, expected comma-separated integers") from None


@app.command("search")
def search_cmd(
    space: Annotated[str, typer.Option(help="Search space of the train evaluator (lenet, nb201).")] = "lenet",
    dataset: Annotated[str, typer.Option(help="Dataset of the train evaluator.")] = "digits",
    bench: Annotated[Optional[str], typer.Option(help="Table evaluator instead of training: nb201-cifar10, a benchmark .csv or a `bench build` store.")] = None,
    objectives: Annotated[Optional[str], typer.Option(help="Comma-separated objective names (':max'/':min' where the name does not say). Default: accuracy, worst-case robust accuracy, energy, size (train); accuracy, APGD-CE at 1/255, FLOPs (table).")] = None,
    constraints: Annotated[Optional[list[str]], typer.Option("--constraint", "--constraints", help="e.g. size_bytes<=50000 (repeatable).")] = None,
    sampler: Annotated[str, typer.Option(help="nsga2, nsga3, tpe or random (Optuna's).")] = "nsga2",
    trials: Annotated[Optional[int], typer.Option(help="Trials the study ends with: completed, or stopped early (evaluations). Default 20 (train), 300 (table).")] = None,
    predictor: Annotated[bool, typer.Option("--predictor/--no-predictor", help="Predictor-guided proposals.")] = True,
    storage: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL of the study's database (default: a SQLite file in the run folder).")] = None,
    study: Annotated[str, typer.Option(help="Study name.")] = "paretonet",
    worker: Annotated[bool, typer.Option("--worker", help="Join the existing study in --storage as one more worker.")] = False,
    heartbeat: Annotated[int, typer.Option(help="Seconds between a running trial's heartbeats in the study's database; a trial whose process stops beating for 3 of them is failed and retried once, by whichever process comes next.")] = 10,
    storage_retry: Annotated[float, typer.Option(help="Seconds a database outage (a restart, a lost connection) is waited out, retrying with backoff, before the search stops.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the sampler, the predictor and the training.")] = 0,
    epochs: Annotated[int, typer.Option(help="Train evaluator: training epochs per architecture.")] = 6,
    eps: Annotated[float, typer.Option(help="Train evaluator: Linf eps of the worst-case robust accuracy (pixels in [0, 1]).")] = 0.1,
    attack_preset: Annotated[str, typer.Option("--attack-preset", help="Train evaluator: attacks of the worst case (fast, standard, full).")] = "fast",
    robust_images: Annotated[int, typer.Option(help="Train evaluator: test images attacked (a seeded sample).")] = 100,
    queries: Annotated[int, typer.Option(help="Train evaluator: Square's queries.")] = 300,
    bits: Annotated[str, typer.Option(help="Hardware choices: bit widths (besides float), comma-separated; '' for none.")] = "8,4",
    multipliers: Annotated[str, typer.Option(help="Hardware choices: approximate multipliers, comma-separated ('' for none).")] = "trunc:k=6",
    prune: Annotated[str, typer.Option(help="Hardware choices: unstructured pruning ratios, comma-separated.")] = "0,0.5",
    early_stopping: Annotated[bool, typer.Option("--early-stopping/--no-early-stopping", help="Train evaluator: stop a trial at a rung when an optimistic estimate of its objectives is dominated by completed trials (it is not attacked; it counts as a trial, as Optuna's pruned trials do).")] = True,
    rungs: Annotated[str, typer.Option(help="Train evaluator: epochs at which a trial may be stopped, comma-separated (the last rung, after training, is always there).")] = "1,2,4",
    pool_size: Annotated[int, typer.Option(help="Train evaluator: candidates the predictor screens: architectures drawn with --seed, each with every hardware choice.")] = 400,
    lut_dir: Annotated[Optional[list[str]], typer.Option("--lut-dir", help="Folder of EvoApprox .bin tables for --multipliers.")] = None,
    device: Annotated[Optional[list[Path]], typer.Option("--device", help="Table evaluator: a device model file (`paretonet device fit`); its objective (latency_ms@NAME) becomes a column (repeatable).")] = None,
    data_dir: DataDirOpt = None,
    cascades: Annotated[bool, typer.Option("--cascades", help="Train evaluator: also measure cascades of pairs of front "
                                                             "members and add the non-dominated ones to the front.")] = False,
    cascade_drop: Annotated[float, typer.Option(help="--cascades: validation accuracy a cascade may lose against its "
                                                     "second member (0.01: one point).")] = 0.01,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write report.html at the end.")] = True,
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: study, front (CSV, Records, models), hypervolume, report.")] = Path("runs/search"),
    fmt: FormatOpt = "table",
) -> None:
    """Search for the Pareto front of architectures and their hardware variants; a rerun resumes the study."""
    check_format(fmt)
    from ..bench import open_bench
    from ..search import (EarlyStopping, Guidance, GuidedProposer, HardwareChoices, SearchConfig, TableProblem, TrainBudget,
                          TrainProblem, mask_url, open_study, write_curves, write_results)

    if worker and storage is None:
        raise ConfigError("--worker: joining a study needs --storage URL (the database the other workers use)")
    folder = RunFolder(output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output: {output} exists and is not a folder")
    trials = trials if trials is not None else (300 if bench else 20)
    config = SearchConfig(trials=trials, sampler=sampler, predictor=predictor, seed=seed, study=study,
                          storage=storage or folder.study_url,
                          guidance=Guidance(initial=min(20, max(2, trials // 4)), min_batch=min(10, max(2, trials // 8))),
                          stopping=EarlyStopping(rungs=_ints("--rungs", rungs)) if early_stopping and bench is None else None,
                          heartbeat_s=heartbeat, storage_retry_s=storage_retry)
    constraint_list = tuple(constraints or ())
    if device and bench is None:
        raise ConfigError("--device: a device model prices the architectures of a table (--bench); the train evaluator's "
                          "variants (bits, multipliers, pruning) are not what it was fitted on")
    if bench is not None:
        from ..bench import with_device_models

        table = with_device_models(open_bench(bench), list(device or ()))
        problem = TableProblem.from_names(table, names(objectives or TABLE_OBJECTIVES), constraint_list)
        what = f"{len(problem.rows)} architectures in {problem.bench.name}"
    else:
        from ..data import DataConfig, load_dataset

        budget = TrainBudget(epochs=epochs, train_seed=seed, eps=eps, preset=attack_preset,
                             robust_images=robust_images, queries=queries)
        hardware = HardwareChoices(bits=_ints("--bits", bits), multipliers=names(multipliers), prune=_floats("--prune", prune))
        data = load_dataset(DataConfig(dataset, root=data_dir, seed=0))
        problem = TrainProblem(space, data, names(objectives or TRAIN_OBJECTIVES.format(robust=budget.robust_objective)),
                               constraint_list, budget, hardware, run_dir=output, lut_dirs=tuple(lut_dir or ()),
                               pool_size=pool_size)
        what = f"{space} on {data.name}, {epochs} epochs per architecture, hardware choices {', '.join(hardware.arith)}"
        if cascades:
            from ..search import cascade_objective_names

            cascade_objective_names(problem)  # objectives a cascade has no measurement of fail now
    if cascades and bench is not None:
        raise ConfigError("--cascades: a table has no models to chain; cascades need the train evaluator")
    if not 0.0 <= cascade_drop <= 1.0:
        raise ConfigError(f"--cascade-drop: got {cascade_drop:g}, expected a number in [0, 1]")
    folder.create()
    err.print(f"study {study!r} in {mask_url(config.storage)}: {trials} trials, sampler {sampler}, "
              f"predictor {'on' if predictor else 'off'}; {what}")
    open_study(problem, config, create=not worker)  # an unreachable database fails now, before any work
    proposer = None
    if predictor:
        err.print("predictor: building the candidate pool (proxies, encodings) ...")
        proposer = GuidedProposer(problem.pool(seed), problem.reference_point, config.guidance, seed)
    result = _run_with_progress(problem, config, worker, proposer)
    command = " ".join(shlex.quote(a) for a in ["paretonet", *sys.argv[1:]])
    study_obj = open_study(problem, config, create=False)
    front = write_results(folder, problem, config, result, study_obj, command, proposer)
    if cascades and front:
        from ..search import add_cascades

        err.print("combining front members into cascades ...")
        measured, front = add_cascades(folder, problem, cascade_drop)
        err.print(f"{len(measured)} cascades measured ({output / 'cascades.csv'}); the non-dominated ones joined the front, "
                  "the trials they dominate left it")
    _print_front(problem, result, folder, fmt)
    if report:
        if isinstance(problem, TrainProblem) and front:
            err.print("measuring robustness and noise curves of front members ...")
            write_curves(folder, problem)
        from ..report import write_report

        path = write_report(output)
        say(f"report: {path}", fmt)


def _run_with_progress(problem, config, worker, proposer):  # noqa: ANN001, ANN202
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..search import run_search

    progress = Progress(TextColumn("trials"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("running {task.fields[running]}  stopped {task.fields[stopped]}  "
                                   "failed {task.fields[failed]}  "
                                   "front {task.fields[front]}  hypervolume {task.fields[hv]}"),
                        TimeElapsedColumn(), console=err, disable=not err.is_terminal)
    with progress:
        task = progress.add_task("search", total=config.trials, running=0, stopped=0, failed=0, front=0, hv="-")
        last = [-1]

        def on_progress(p) -> None:  # noqa: ANN001
            progress.update(task, completed=p.completed + p.stopped, running=p.running, stopped=p.stopped, failed=p.failed, front=p.front_size,
                            hv=f"{p.hypervolume:.4f}")
            if not err.is_terminal and p.completed + p.stopped != last[0]:  # a log line per trial when not a terminal
                last[0] = p.completed + p.stopped
                err.print(f"trials {p.completed + p.stopped}/{p.budget}  running {p.running}  stopped {p.stopped}  failed {p.failed}  "
                          f"front {p.front_size}  hypervolume {p.hypervolume:.4f}")

        return run_search(problem, config, on_progress, worker=worker, proposer=proposer)


def _print_front(problem, result, folder, fmt: str) -> None:  # noqa: ANN001
    rows = folder.front_rows()
    output = folder.path
    ref = tuple(float(v) for v in problem.reference_point)
    chained = sum(r["trial"].startswith("cascade") for r in rows)
    t = Table(title=f"Pareto front: {len(rows) - chained} of {len(result.trials)} trials"
                    + (f" and {chained} cascades of front members" if chained else "")
                    + f", hypervolume {result.hypervolume:.4f} (trials, normalized, reference point {ref})")
    t.add_column("trial", justify="right")
    t.add_column("architecture", overflow="fold")
    t.add_column("variant")
    for s in problem.objectives:
        t.add_column(f"{s.name} ({s.direction})", justify="right")
    for r in rows:
        t.add_row(r["trial"], r["architecture"], r["variant"] or "-", *(f"{float(r[s.name]):.4g}" for s in problem.objectives))
    show(t, fmt)
    closest = folder.least_violating()
    if closest:
        err.print(f"no trial meets the constraints {', '.join(str(c) for c in problem.constraints)}; the "
                  f"{len(closest)} least-violating trials (violation: each constraint's excess over its bound, summed):")
        lv = Table(title=f"Least-violating trials ({output / 'least_violating.csv'})")
        for col in ("trial", "architecture", "variant", *(f"{s.name} ({s.direction})" for s in problem.objectives),
                    "violation"):
            lv.add_column(col, overflow="fold" if col == "architecture" else "ellipsis")
        for r in closest:
            lv.add_row(r["trial"], r["architecture"], r["variant"] or "-",
                       *(f"{float(r[s.name]):.4g}" for s in problem.objectives), f"{float(r['violation']):.4g}")
        show(lv, fmt)
    say(f"front: {output / 'front.csv'}, Records {output / 'front.json'}, models in {output / 'models'}; "
        f"hypervolume per evaluation: {output / 'hypervolume.csv'}", fmt)


@app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="The --output folder of a `paretonet search`.")],
    member: Annotated[Optional[int], typer.Option(help="Front trial whose energy breakdown is shown (default: the first).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="HTML file (default RUN_DIR/report.html).")] = None,
) -> None:
    """Write the search's self-contained HTML report (opens with no network)."""
    from ..report import write_report

    out.print(f"report: {write_report(run_dir, member, output)}")
