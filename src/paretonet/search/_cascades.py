"""Cascades of front members, added to the front where nothing dominates them (train evaluator).

After the search, pairs of front members (the one with fewer MACs first) become confidence cascades: the
threshold is the one of least expected MACs whose validation accuracy is within `max_drop` of the second
member alone, and every objective of the search is measured on the cascade itself (accuracy and costs on
the test split, robust accuracy with the search's attacks on the search's images). front.csv / front.json
become the non-dominated set of the front trials and the feasible cascades together: a cascade nothing
dominates joins (trial 'cascade-<k>', no model file), a trial a cascade dominates leaves the front files
(it stays in trials.csv, the study and models/). Every cascade measured is in cascades.csv / cascades.json.
"""

from __future__ import annotations

import csv
import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..records import Record, versions
from ._front import nondominated

CASCADE_MEMBERS = 4  # front members (spread along the front) combined pairwise
_MEASURED = ("accuracy", "params", "size_bytes", "macs", "input_values")


def cascade_objective_names(problem: Any) -> list[str]:  # noqa: ANN401
    """What a cascade can be measured on: refuse the others before any work."""
    from ..evaluate import ENERGY_DATAFLOW, ENERGY_HARDWARE, ENERGY_PARTS, energy_name

    ok = {*_MEASURED, problem.budget.robust_objective, *(energy_name(ENERGY_HARDWARE, ENERGY_DATAFLOW, p)
                                                        for p in ENERGY_PARTS)}
    names = [s.name for s in (*problem.objectives, *problem.constraints)]
    missing = [n for n in names if n not in ok]
    if missing:
        raise ConfigError(f"--cascades: cascades are not measured on {', '.join(missing)}; they have "
                          f"{', '.join(sorted(ok))}")
    return names


def _cascade_record(problem: Any, models: list, metas: list, max_drop: float) -> Record:  # noqa: ANN401
    from ..cascade import Cascade, cascade_objectives, choose_threshold, stage_costs
    from ..evaluate import evaluate_robustness

    data = problem.dataset
    c = Cascade(models, 0.5, data.input_shape).eval()
    c.threshold, _ = choose_threshold(c, data.val, stage_costs(c), max_drop)
    objectives, point = cascade_objectives(c, data)
    budgets: dict = {"evaluator": "train", "test_images": len(data.test), "threshold_chosen_on": "val",
                     "target_accuracy_drop": max_drop}
    if any(s.name == problem.budget.robust_objective for s in (*problem.objectives, *problem.constraints)):
        r = evaluate_robustness(c, *problem.images, problem.budget.robustness())
        objectives += (r.objective(),)
        budgets.update(r.budgets())
    name = f"cascade:softmax>{c.threshold:.6g}:" + " -> ".join(f"{m.architecture}{' ' + m.variant if m.variant else ''}"
                                                               for m in metas)
    return Record(name, data.name, problem.budget.train_seed, objectives, budgets=budgets, versions=versions(),
                  details={"threshold": c.threshold, "answered": list(point.answered), "members": [str(m.trial) for m in metas]})


class _Member:
    def __init__(self, trial: str, record: Record) -> None:
        self.trial, self.architecture, self.variant = trial, record.architecture, record.variant


def add_cascades(output: Path, problem: Any, front: list[Record], max_drop: float = 0.01,  # noqa: ANN401
                 members: int = CASCADE_MEMBERS) -> tuple[list[Record], list[Record]]:
    """Measure cascades of pairs of front members and rewrite the front files as the non-dominated set of both.
    Returns every cascade's Record, and the front trials' Records that stay on the front (in front.csv's order)."""
    from ..hw import count_macs
    from ..modelfile import load_model

    names = cascade_objective_names(problem)
    with (output / "front.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    usable = [(row, rec) for row, rec in zip(rows, front) if row["model"]]
    step = max(1, len(usable) // members)
    chosen = usable[::step][:members]
    loaded = []
    for row, rec in chosen:
        model, _ = load_model(output / row["model"])
        loaded.append((float(count_macs(model, problem.dataset.input_shape).total_macs), model, _Member(row["trial"], rec)))
    loaded.sort(key=lambda m: m[0])
    cascades = [_cascade_record(problem, [a[1], b[1]], [a[2], b[2]], max_drop)
                for a, b in combinations(loaded, 2) if a[0] < b[0]]
    if not cascades:
        return [], front
    objs = list(problem.objectives)
    value = {r.key: {o.name: o.value for o in r.objectives} for r in [*front, *cascades]}
    feasible = [k for k, r in enumerate(cascades)  # indices into cascades
                if all(c.violation(value[r.key][c.name]) <= 0 for c in problem.constraints)]
    pts = np.array([[s.sign * value[r.key][s.name] for s in objs] for r in [*front, *(cascades[k] for k in feasible)]],
                   dtype=float)
    on = nondominated(pts)
    kept = [k for k in range(len(front)) if on[k]]
    joined = [k for k, ok in zip(feasible, on[len(front):]) if ok]
    with (output / "cascades.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cascade", "architecture", *names, "feasible", "on_front"])
        for k, r in enumerate(cascades):
            w.writerow([f"cascade-{k + 1}", r.architecture, *(repr(value[r.key][n]) for n in names), k in feasible,
                        k in joined])
    (output / "cascades.json").write_text(json.dumps([r.to_dict() for r in cascades], indent=1) + "\n")
    head = list(rows[0].keys())
    chained = [{"trial": f"cascade-{k + 1}", "architecture": cascades[k].architecture, "variant": "", "worker": "",
                "model": "", **{s.name: repr(value[cascades[k].key][s.name]) for s in objs}} for k in joined]
    with (output / "front.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows([[row[h] for h in head] for row in [*(rows[k] for k in kept), *chained]])
    records = json.loads((output / "front.json").read_text())
    (output / "front.json").write_text(json.dumps([*(records[k] for k in kept), *(cascades[k].to_dict() for k in joined)],
                                                  indent=1) + "\n")
    return cascades, [front[k] for k in kept]
