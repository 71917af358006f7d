"""A finished search as files in its run folder, which the report reads:

run.json          command, versions, evaluator, budgets, objectives (units, directions), reference point
trials.csv        every completed trial: number, key, worker, objectives, feasible
front.csv/.json   the Pareto front of the feasible trials (CSV, and Records)
hypervolume.csv   hypervolume of the feasible front after each completed trial (normalized space)
importance.json   predictor feature importance per predicted objective (guided searches)
curves.json       robustness and noise curves of front members (train evaluator)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..records import Record, records_from_json, versions
from ._front import hypervolume, nondominated
from ._guided import GuidedProposer
from ._run import SearchConfig, SearchResult, completed_trials, mask_url
from ._table import TableProblem

CURVE_MEMBERS = 3  # front members whose robustness and noise curves are measured at the end
NOISE_LEVELS = (0.05, 0.1, 0.2, 0.3)


def trial_record(problem: Any, trial: Any, seed: int) -> Record:  # noqa: ANN401
    """The Record of a completed trial: stored with it (train), or the table's row."""
    if "record" in trial.user_attrs:
        return records_from_json(json.loads(trial.user_attrs["record"]))[0]
    return problem.record(int(trial.user_attrs["row"]), seed)


def _local_model(output: Path, trial: Any) -> str:  # noqa: ANN401
    """The trial's model file relative to the run folder, if it is in this run folder (a worker of a shared
    study keeps the models of its own trials)."""
    from ..modelfile import model_paths

    rel = trial.user_attrs.get("model", "")
    return rel if rel and model_paths(output / rel)[0].is_file() else ""


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_results(output: Path, problem: Any, config: SearchConfig, result: SearchResult, study: Any,  # noqa: ANN401
                  command: str, proposer: GuidedProposer | None = None) -> list[Record]:
    """Write the run folder's files; returns the front's Records (sorted by the first objective)."""
    trials = completed_trials(study)
    by_number = {t.number: t for t in trials}
    names = [s.name for s in problem.objectives]
    _write_csv(output / "trials.csv", ["trial", "key", "worker", *names, "feasible"],
               [[t.number, t.user_attrs["key"], t.user_attrs.get("worker", ""), *(repr(float(v)) for v in t.values),
                 all(v <= 0 for v in t.constraints.values())] for t in trials])
    sign = problem.objectives[0].sign
    front = sorted((by_number[n] for n in result.front), key=lambda t: sign * t.values[0])
    records = [trial_record(problem, t, config.seed) for t in front]
    _write_csv(output / "front.csv", ["trial", "architecture", "variant", *names, "worker", "model"],
               [[t.number, r.architecture, r.variant, *(repr(float(v)) for v in t.values), t.user_attrs.get("worker", ""),
                 _local_model(output, t)] for t, r in zip(front, records)])
    (output / "front.json").write_text(json.dumps([r.to_dict() for r in records], indent=1) + "\n")
    rows, feasible = [], []
    for n, t in enumerate(trials, 1):
        if all(v <= 0 for v in t.constraints.values()):
            feasible.append(t.values)
        pts = problem.normalize(np.array(feasible, dtype=float)) if feasible else np.zeros((0, len(names)))
        rows.append([n, repr(hypervolume(pts[nondominated(pts)], problem.reference_point) if len(pts) else 0.0)])
    _write_csv(output / "hypervolume.csv", ["evaluations", "hypervolume"], rows)
    importance = _importance(problem, proposer, trials)
    (output / "importance.json").write_text(json.dumps(importance, indent=1) + "\n")
    units = {o.name: o.unit for o in records[0].objectives} if records else {}
    evaluator: dict[str, Any]
    if isinstance(problem, TableProblem):
        evaluator = {"kind": "table", "bench": problem.bench.name, "space": problem.bench.space}
    else:
        from dataclasses import asdict

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
           "completed": len(trials), "front": len(front), "hypervolume": result.hypervolume}
    (output / "run.json").write_text(json.dumps(run, indent=1) + "\n")
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


def write_curves(output: Path, problem: Any, front_records: list[Record], front_models: list[str],  # noqa: ANN401
                 members: int = CURVE_MEMBERS) -> None:
    """Worst-case robust accuracy over eps and accuracy under Gaussian noise of front members spread along
    the front, each measured on its saved model with the search's attack budget (train evaluator only).
    The point at the search's eps is the trial's own measurement (same model, images and attacks); the
    others are measured now, without repeating the sanity checks the trial ran. Float members also get
    their certified accuracy by interval bounds at the same eps (a lower bound under the attacks' upper one)."""
    from dataclasses import replace

    from ..evaluate import evaluate_robustness, ibp_certified, noise_robustness, predict_logits
    from ..layers import has_gradient_free_layers
    from ..modelfile import load_model

    budget = problem.budget
    x, y = problem.images
    step = max(1, len(front_records) // members) if front_records else 1
    curves = []
    for rec, model_path in list(zip(front_records, front_models))[::step][:members]:
        if not model_path:
            continue
        model, _ = load_model(output / model_path)
        at = {o.name: o.value for o in rec.objectives}
        points = {budget.eps: at[budget.robust_objective]}
        for eps in (budget.eps / 2, budget.eps * 2):
            r = evaluate_robustness(model, x, y, replace(budget.robustness(), eps=min(eps, 1.0), sanity=False))
            points[r.eps] = r.robust_accuracy
        noise = noise_robustness(model, x, y, "gaussian", NOISE_LEVELS, draws=3, seed=budget.train_seed)
        clean = float((predict_logits(model, x).argmax(1) == y).double().mean())
        try:  # a layer interval bounds do not know leaves the member without a certified curve
            certified = [] if has_gradient_free_layers(model) else [
                [e, float(ibp_certified(model, x, y, e).mean())] for e in sorted(points)]
        except ConfigError:
            certified = []
        curves.append({"architecture": rec.architecture, "variant": rec.variant, "model": model_path,
                       "clean": clean, "robust": sorted([e, a] for e, a in points.items()), "certified": certified,
                       "noise": [[p.level, p.mean_accuracy, p.std_accuracy] for p in noise],
                       "images": len(x), "attacks": budget.preset})
    (output / "curves.json").write_text(json.dumps(curves, indent=1) + "\n")
