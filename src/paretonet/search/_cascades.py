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

from itertools import combinations
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..records import Record
from ..records.run_folder import RunFolder
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


def _cascade_record(problem: Any, models: list, members: list, max_drop: float) -> Record:  # noqa: ANN401
    from ..pipeline.cascade import CascadeJob, cascade_record

    robust = any(s.name == problem.budget.robust_objective for s in (*problem.objectives, *problem.constraints))
    job = CascadeJob(target_accuracy_drop=max_drop, attacks=problem.budget.robustness() if robust else None)
    return cascade_record(models, members, problem.dataset, job, problem.images, problem.budget.train_seed,
                          budgets={"evaluator": "train"})


def add_cascades(folder: RunFolder, problem: Any, max_drop: float = 0.01,  # noqa: ANN401
                 members: int = CASCADE_MEMBERS) -> tuple[list[Record], list[Record]]:
    """Measure cascades of pairs of front members and rewrite the front files as the non-dominated set of both.
    Returns every cascade's Record, and the front trials' Records that stay on the front (in front.csv's order)."""
    from ..hw import count_macs
    from ..modelfile import load_model
    from ..pipeline.cascade import Member

    names = cascade_objective_names(problem)
    rows, front = folder.front_rows(), folder.front_records()
    usable = [(row, rec) for row, rec in zip(rows, front) if row["model"]]
    step = max(1, len(usable) // members)
    chosen = usable[::step][:members]
    loaded = []
    for row, rec in chosen:
        model, _ = load_model(folder.model(row["model"]))
        loaded.append((float(count_macs(model, problem.dataset.input_shape).total_macs), model,
                       Member(rec.architecture, rec.variant, row["trial"])))
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
    folder.write_cascades(["cascade", "architecture", *names, "feasible", "on_front"],
                          [[f"cascade-{k + 1}", r.architecture, *(repr(value[r.key][n]) for n in names), k in feasible,
                            k in joined] for k, r in enumerate(cascades)], cascades)
    head = list(rows[0].keys())
    chained = [{"trial": f"cascade-{k + 1}", "architecture": cascades[k].architecture, "variant": "", "worker": "",
                "model": "", **{s.name: repr(value[cascades[k].key][s.name]) for s in objs}} for k in joined]
    records = folder.front_json()
    folder.write_front(head, [[row[h] for h in head] for row in [*(rows[k] for k in kept), *chained]],
                       [*(records[k] for k in kept), *(cascades[k] for k in joined)])
    return cascades, [front[k] for k in kept]
