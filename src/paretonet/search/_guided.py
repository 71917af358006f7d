"""Predictor guidance over a pool of candidates: warm start from the proxies and the farthest candidates, then
batches chosen by the hypervolume gain of optimistic surrogate predictions, refitted as results come in.

Zero-cost proxies and free objectives (FLOPs, device costs) are known for every candidate; the
surrogate (an ensemble of XGBoost models on the pool's features) predicts the others with an
uncertainty. A candidate's promise is the hypervolume its optimistic point (mean + optimism x std)
would add to the evaluated front; a batch is filled greedily, each pick added to the front at its
predicted mean before the next is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_float, check_int
from ._front import hypervolume, nondominated
from ._problem import Pool


@dataclass(frozen=True)
class Guidance:
    initial: int = 20  # warm start: one per cost bin, alternately the best proxy and the farthest candidate
    batch_fraction: float = 0.125  # batch = max(min_batch, evaluated x this): refits get rarer as data grows
    min_batch: int = 10
    optimism: float = 1.5  # standard deviations added to the predicted accuracies (nb201 table, 10 seeds, front's
    # hypervolume at 100 / 300 evaluations and front members at 300: 1.0 0.960 / 0.982 / 28.2, 1.5 0.965 / 0.984 / 27.3,
    # 2.0 0.952 / 0.984 / 24.3)
    members: int = 4  # surrogate ensemble size (the uncertainty)
    candidates: int = 300  # screened by hypervolume gain, taken from the best optimistic Pareto ranks
    trees: int = 200

    def __post_init__(self) -> None:
        check_int("initial", self.initial, minimum=1)
        check_int("min_batch", self.min_batch, minimum=1)
        check_int("members", self.members, minimum=2)
        check_int("candidates", self.candidates, minimum=1)
        check_int("trees", self.trees, minimum=1)
        check_float("optimism", self.optimism, minimum=0.0)
        check_float("batch_fraction", self.batch_fraction, minimum=0.0)


class GuidedProposer:
    """Proposes pool candidates to evaluate next, given the candidates evaluated so far and their results."""

    def __init__(self, pool: Pool, reference_point: np.ndarray, guidance: Guidance = Guidance(), seed: int = 0) -> None:
        self.pool, self.ref, self.guidance, self.seed = pool, reference_point, guidance, seed
        self.models: list = []  # the last fitted surrogates, one per predicted objective (feature importance)

    def warm_start(self) -> list[int]:
        """One candidate per cost bin: alternately the best proxy score and the candidate farthest (standardized
        features) from those picked so far. Proxies predict clean accuracy; the farthest picks show the surrogate
        what they miss (10 seeds with pixel3 latency: 0.960 of the front's hypervolume at 100 evaluations; with
        proxy picks only 0.850, the robust cells, which every proxy ranks low, still unseen on half the seeds)."""
        p = self.pool
        rng = np.random.default_rng(self.seed)
        z = np.nan_to_num(np.asarray(p.features, dtype=float))
        z = (z - z.mean(0)) / np.where(z.std(0) > 0, z.std(0), 1.0)
        picks: list[int] = []
        for i, b in enumerate(np.array_split(np.argsort(p.cost, kind="stable"), min(self.guidance.initial, len(p.keys)))):
            if not len(b):
                continue
            if i % 2 == 0 or not picks:
                picks.append(int(b[np.argmax(p.score[b] + 1e-9 * rng.random(len(b)))]))
            else:
                distance = ((z[b][:, None, :] - z[picks][None]) ** 2).sum(-1).min(axis=1)
                picks.append(int(b[np.argmax(distance)]))
        return picks

    def next_batch(self, evaluated: list[int], observed: np.ndarray, budget_left: int) -> list[int]:
        """Pool indices to evaluate next. `evaluated` are pool indices, `observed` their normalized values."""
        from ..predict import Surrogate

        g, p = self.guidance, self.pool
        if not evaluated:
            return self.warm_start()[:budget_left]
        done = np.array(evaluated)
        todo = np.setdiff1d(np.arange(len(p.keys)), done)
        if len(todo) == 0 or budget_left <= 0:
            return []
        observed = np.asarray(observed, dtype=float)
        mean = np.where(p.free, p.known[todo], 0.0)
        optimistic = mean.copy()
        self.models = []
        for j in np.flatnonzero(~p.free):
            model = Surrogate(n_estimators=g.trees, learning_rate=0.08, max_depth=4, n_members=g.members,
                              random_state=self.seed).fit(p.features[done], observed[:, j])
            mu, sd = model.predict(p.features[todo]), model.predict_std(p.features[todo])
            if p.group is not None:
                mu, sd = from_siblings(p.group, done, observed[:, j], todo, mu, sd)
            mean[:, j], optimistic[:, j] = mu, mu - g.optimism * sd  # minimization form: lower is better
            self.models.append(model)
        import moocore

        order = np.argsort(moocore.pareto_rank(optimistic), kind="stable")
        if p.group is not None:  # the best-ranked candidate of each group: siblings do not crowd the screened list
            _, first = np.unique(p.group[todo][order], return_index=True)
            order = order[np.sort(first)]
        order = order[: g.candidates]
        front = observed[nondominated(observed)]
        base = hypervolume(front, self.ref)
        size = min(budget_left, len(todo), max(g.min_batch, int(len(evaluated) * g.batch_fraction)))
        picks: list[int] = []
        for _ in range(size):
            gains = np.array([-1.0 if c in picks else hypervolume(np.vstack([front, optimistic[c]]), self.ref) - base
                              for c in order])
            c = int(order[np.argmax(gains)])
            picks.append(c)
            front = np.vstack([front, mean[c]])  # believe the mean until the evaluation answers
            front = front[nondominated(front)]
            base = hypervolume(front, self.ref)
        return [int(todo[c]) for c in picks]


def from_siblings(group: np.ndarray, done: np.ndarray, observed: np.ndarray, todo: np.ndarray, mu: np.ndarray,
                  sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions (mean, std) of the `todo` candidates for one objective, where a candidate isomorphic to evaluated
    ones takes their mean, uncertain by the training noise: the pooled spread within groups evaluated twice or more,
    zero until there is one (the same function; a table may hold one measurement per class, as NAS-Bench-201's
    robustness data does). The surrogate's std would make a sibling look unknown, and with a free cost that differs
    between siblings (a device's latency) the search spent its early batches on siblings (10 seeds on pixel3
    latency: 0.899 of the front's hypervolume at 100 evaluations, 0.951 with zero). `done`, `todo`: pool indices;
    `observed`: the values of `done`."""
    seen: dict[int, list[float]] = {}
    for gid, v in zip(group[done].tolist(), np.asarray(observed, dtype=float).tolist()):
        seen.setdefault(gid, []).append(v)
    spreads = [np.var(v, ddof=1) for v in seen.values() if len(v) > 1]
    noise = float(np.sqrt(np.mean(spreads))) if spreads else 0.0
    mu, sd = np.array(mu, dtype=float), np.array(sd, dtype=float)
    for k, gid in enumerate(group[todo].tolist()):
        if gid in seen:
            mu[k] = float(np.mean(seen[gid]))
            sd[k] = noise
    return mu, sd
