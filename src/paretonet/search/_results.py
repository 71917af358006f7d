"""A finished search as files in its run folder (paretonet.records.run_folder.RunFolder owns them)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np

from ..records import Record, records_from_json, versions
from ..records.run_folder import RunFolder
from ._front import hypervolume, nondominated
from ._guided import GuidedProposer
from ._run import SearchConfig, SearchResult, completed_trials, mask_url, stopped_trials, total_violation
from ._stopping import FINAL
from ._table import TableProblem

CURVE_MEMBERS = 3  # front members whose robustness and noise curves are measured at the end


def trial_record(problem: Any, trial: Any, seed: int) -> Record:  # noqa: ANN401
    """The Record of a completed trial: stored with it (train), or the table's row."""
    if "record" in trial.user_attrs:
        return records_from_json(json.loads(trial.user_attrs["record"]))[0]
    return problem.record(int(trial.user_attrs["row"]), seed)


def _local_model(folder: RunFolder, trial: Any) -> str:  # noqa: ANN401
    """The trial's model file relative to the run folder, if it is in this run folder (a worker of a shared
    study keeps the models of its own trials)."""
    from ..modelfile import model_paths

    rel = trial.user_attrs.get("model", "")
    return rel if rel and model_paths(folder.model(rel))[0].is_file() else ""


def write_results(folder: RunFolder, problem: Any, config: SearchConfig, result: SearchResult, study: Any,  # noqa: ANN401
                  command: str, proposer: GuidedProposer | None = None) -> list[Record]:
    """Write the run folder's files; returns the front's Records (sorted by the first objective)."""
    trials = completed_trials(study)
    by_number = {t.number: t for t in trials}
    names = [s.name for s in problem.objectives]
    folder.write_trials(["trial", "key", "worker", *names, "feasible", "violation"],
                        [[t.number, t.user_attrs["key"], t.user_attrs.get("worker", ""), *(repr(float(v)) for v in t.values),
                          all(v <= 0 for v in t.constraints.values()), repr(total_violation(t, problem))] for t in trials])
    sign = problem.objectives[0].sign
    front = sorted((by_number[n] for n in result.front), key=lambda t: sign * t.values[0])
    records = [trial_record(problem, t, config.seed) for t in front]
    folder.write_front(["trial", "architecture", "variant", *names, "worker", "model"],
                       [[t.number, r.architecture, r.variant, *(repr(float(v)) for v in t.values),
                         t.user_attrs.get("worker", ""), _local_model(folder, t)] for t, r in zip(front, records)], records)
    rows, feasible = [], []
    for n, t in enumerate(trials, 1):
        if all(v <= 0 for v in t.constraints.values()):
            feasible.append(t.values)
        pts = problem.normalize(np.array(feasible, dtype=float)) if feasible else np.zeros((0, len(names)))
        rows.append([n, repr(hypervolume(pts[nondominated(pts)], problem.reference_point) if len(pts) else 0.0)])
    closest = [by_number[n] for n in result.least_violating]
    run_before = folder.run()
    if closest or run_before.get("least_violating"):  # a rerun that found a feasible trial clears the old list
        folder.write_least_violating(
            ["trial", "architecture", "variant", *names, "violation", "worker", "model"],
            [[t.number, r.architecture, r.variant, *(repr(float(v)) for v in t.values), repr(total_violation(t, problem)),
              t.user_attrs.get("worker", ""), _local_model(folder, t)]
             for t, r in ((t, trial_record(problem, t, config.seed)) for t in closest)])
    folder.write_hypervolume(rows)
    folder.write_importance(_importance(problem, proposer, trials))
    units = {o.name: o.unit for o in records[0].objectives} if records else {}
    evaluator: dict[str, Any]
    if isinstance(problem, TableProblem):
        evaluator = {"kind": "table", "bench": problem.bench.name, "space": problem.bench.space}
    else:
        evaluator = {"kind": "train", "space": problem.space_name, "dataset": problem.dataset.name,
                     "budget": asdict(problem.budget), "hardware": asdict(problem.hardware),
                     "test_images": len(problem.dataset.test)}
    run = {"format": 1, "command": mask_url(command), "versions": versions(), "evaluator": evaluator,
           "search": {"trials": config.trials, "sampler": config.sampler, "predictor": config.predictor,
                      "seed": config.seed, "study": config.study, "storage": mask_url(config.storage or "memory"),
                      "guidance": {k: getattr(config.guidance, k) for k in config.guidance.__dataclass_fields__}},
           "objectives": [{"name": s.name, "direction": s.direction, "unit": units.get(s.name, "")}
                          for s in problem.objectives],
           "constraints": [str(c) for c in problem.constraints],
           "normalization": {"scale": [float(v) for v in problem.scale],
                             "reference_point": [float(v) for v in problem.reference_point]},
           "completed": len(trials), "front": len(front), "hypervolume": result.hypervolume,
           "least_violating": list(result.least_violating)}
    if config.stopping is not None:
        stopped = stopped_trials(study)
        run["early_stopping"] = {**asdict(config.stopping), "stopped": len(stopped),
                                 "stopped_at": {r: sum(t.user_attrs.get("stopped_at") == r for t in stopped)
                                                for r in [*map(str, config.stopping.rungs), FINAL]},
                                 "epochs_trained": sum(int(t.user_attrs.get("epochs_trained", 0))
                                                       for t in [*trials, *stopped])}
    folder.write_run(run)
    return records


def _importance(problem: Any, proposer: GuidedProposer | None, trials: list) -> dict[str, list]:  # noqa: ANN401
    """Gain importance of the surrogate's features per predicted objective, refitted on every evaluated
    pool candidate (the same surrogate the guidance uses)."""
    if proposer is None:
        return {}
    from ..predict import Surrogate

    pool = proposer.pool
    seen = [(pool.index[t.user_attrs["key"]], t.values) for t in trials if t.user_attrs["key"] in pool.index]
    if len(seen) < 3:  # too few to fit anything
        return {}
    idx = np.array([i for i, _ in seen])
    observed = problem.normalize(np.array([v for _, v in seen], dtype=float))
    out = {}
    for j in np.flatnonzero(~pool.free):
        model = Surrogate(n_estimators=proposer.guidance.trees, learning_rate=0.08, max_depth=4, n_members=2,
                          random_state=proposer.seed).fit(pool.features[idx], observed[:, j])
        imp = model.importance(pool.features[idx], pool.names)
        ranked = sorted(((n, float(g)) for n, (g, _) in imp.items()), key=lambda r: -r[1])[:15]
        out[problem.objectives[j].name] = ranked
    return out


def write_curves(folder: RunFolder, problem: Any, members: int = CURVE_MEMBERS) -> None:  # noqa: ANN401
    """Worst-case robust accuracy over eps and accuracy under Gaussian noise of front members spread along
    the front, each measured on its saved model with the search's attack budget (train evaluator only).
    The point at the search's eps is the trial's own measurement (same model, images and attacks); the
    others are measured now, without repeating the sanity checks the trial ran. Float members also get
    their certified accuracy by interval bounds at the same eps (a lower bound under the attacks' upper one)."""
    from ..modelfile import load_model
    from ..pipeline.curves import member_curves

    budget = problem.budget
    x, y = problem.images
    trials = [(r, row["model"]) for r, row in zip(folder.front_records(), folder.front_rows())
              if not row["trial"].startswith("cascade")]  # cascades of members (search --cascades) have no model file
    front_records, front_models = [r for r, _ in trials], [m for _, m in trials]
    step = max(1, len(front_records) // members) if front_records else 1
    curves = []
    for rec, model_path in list(zip(front_records, front_models))[::step][:members]:
        if not model_path:
            continue
        model, _ = load_model(folder.model(model_path))
        at = {o.name: o.value for o in rec.objectives}
        curves.append({"architecture": rec.architecture, "variant": rec.variant, "model": model_path,
                       **member_curves(model, x, y, budget.robustness(), at[budget.robust_objective],
                                       noise_seed=budget.train_seed)})
    folder.write_curves(curves)
