"""The evaluation protocol: fit on n random architectures (isomorphs removed), test on all the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import r2_score

from ..bench import DEFAULT_EPS, Bench, target_names
from ..errors import ConfigError, check_int
from ._features import feature_matrix
from .._threads import run_independent
from ._surrogate import Surrogate

# published XGBoost-on-proxies R^2 (NAS-Bench-201, CIFAR-100, eps 1/255) at 100 / 1000 training architectures
_PUBLISHED = {100: {"clean": 0.697, "apgd-ce": 0.261, "square": 0.329, "fgsm": 0.668, "pgd": 0.227, "worst": 0.261},
              1000: {"clean": 0.892, "apgd-ce": 0.513, "square": 0.579, "fgsm": 0.813, "pgd": 0.509, "worst": 0.514}}
PUBLISHED_R2 = {n: {target_names(DEFAULT_EPS)[k]: v for k, v in row.items()} for n, row in _PUBLISHED.items()}


@dataclass(frozen=True)
class Score:
    mean: float
    std: float


@dataclass(frozen=True)
class ProtocolCell:
    features: str
    train_size: int
    target: str
    r2: Score
    kendall: Score
    spearman: Score


def _score(values: list[float]) -> Score:
    return Score(float(np.mean(values)), float(np.std(values)))


def surrogate_for(train_size: int, seed: int, n_jobs: int | None = None) -> Surrogate:
    """Shallow, slow trees for small training sets; deeper ones once there are enough rows."""
    if train_size <= 300:
        return Surrogate(random_state=seed, n_jobs=n_jobs)
    return Surrogate(n_estimators=600, learning_rate=0.04, max_depth=6, subsample=0.8, colsample_bytree=0.8,
                     min_child_weight=1.0, random_state=seed, n_jobs=n_jobs)


def _split_and_predict(X: np.ndarray, y: np.ndarray, ok: np.ndarray, n: int,  # noqa: N803
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) values of the architectures left out of seed's random training set of n."""
    perm = np.random.default_rng(seed).permutation(np.flatnonzero(ok))
    train, test = perm[:n], perm[n:]
    return y[test], surrogate_for(n, seed, n_jobs=1).fit(X[train], y[train]).predict(X[test])


def evaluate_protocol(bench: Bench, train_sizes: Sequence[int], seeds: int, targets: Sequence[str],
                      feature_sets: Sequence[str] = ("proxies+encoding", "params+flops")) -> list[ProtocolCell]:
    bench.require(list(targets), "target column")
    data = bench.unique()
    check_int("seeds", seeds, minimum=1)
    for n in train_sizes:
        check_int("train size", n, minimum=2)
        if n >= len(data):
            raise ConfigError(f"train-sizes: {n} is not below the {len(data)} architectures of {bench.name!r} "
                              "(isomorphs removed); at least one must be left to test on")
    cells = []
    for fs in feature_sets:
        _, X = feature_matrix(data, fs)
        for n in train_sizes:
            for target in targets:
                y = data.columns[target]
                ok = np.isfinite(y)
                # the seeds' fits side by side, one thread each (no barrier between them on a busy machine)
                r2, tau, rho = [], [], []
                jobs = [lambda s=s: _split_and_predict(X, y, ok, n, s) for s in range(seeds)]
                for truth, pred in run_independent(jobs):
                    r2.append(r2_score(truth, pred))
                    tau.append(kendalltau(truth, pred).statistic)
                    rho.append(spearmanr(truth, pred).statistic)
                cells.append(ProtocolCell(fs, n, target, _score(r2), _score(tau), _score(rho)))
    return cells


def feature_importance(bench: Bench, features: str, target: str, train_size: int,
                       seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per feature (total gain, mean |SHAP|) of a surrogate fitted on `train_size` random architectures."""
    bench.require([target], "target column")
    data = bench.unique()
    names, X = feature_matrix(data, features)
    y = data.columns[target]
    rows = np.random.default_rng(seed).permutation(np.flatnonzero(np.isfinite(y)))[:train_size]
    return surrogate_for(train_size, seed).fit(X[rows], y[rows]).importance(X[rows], names)
