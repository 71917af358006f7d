"""XGBoost surrogate with a scikit-learn interface and an ensemble for prediction uncertainty."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._threads import run_independent, user_threads


class Surrogate(RegressorMixin, BaseEstimator):
    """Gradient-boosted trees (xgboost-cpu) per target; `n_members` seeds of row/column
    subsampling form an ensemble whose spread is the uncertainty (predict_std).

    y may be 1-D (one target) or 2-D (one model per column: joint targets, fitted separately).
    Defaults are tuned for small training sets (100 architectures): shallow trees, slow learning.
    """

    def __init__(self, n_estimators: int = 500, learning_rate: float = 0.03, max_depth: int = 3,
                 subsample: float = 0.7, colsample_bytree: float = 0.4, min_child_weight: float = 2.0,
                 n_members: int = 1, random_state: int = 0, n_jobs: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.n_members = n_members
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _member(self, seed: int, threads: int):  # noqa: ANN202
        import xgboost as xgb

        return xgb.XGBRegressor(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                max_depth=self.max_depth, subsample=self.subsample,
                                colsample_bytree=self.colsample_bytree, min_child_weight=self.min_child_weight,
                                n_jobs=threads, random_state=seed, missing=np.nan)

    def fit(self, X, y):  # noqa: ANN001, ANN201, N803
        """One model per (target, member); with several, they are fitted side by side, one thread each
        (n_jobs, else the user's thread count, is the number of workers)."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=float)
        self.multi_output_ = y.ndim == 2
        ys = y if self.multi_output_ else y[:, None]
        threads = self.n_jobs if self.n_jobs is not None else user_threads()
        cells = [(t, m) for t in range(ys.shape[1]) for m in range(self.n_members)]
        each = 1 if len(cells) > 1 else threads
        fitted = run_independent([lambda t=t, m=m: self._member(self.random_state + 7919 * m, each).fit(X, ys[:, t])
                                  for t, m in cells], threads)
        self.models_ = [fitted[t * self.n_members : (t + 1) * self.n_members] for t in range(ys.shape[1])]
        return self

    def _all(self, X) -> np.ndarray:  # noqa: ANN001, N803
        check_is_fitted(self, "models_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.stack([[m.predict(X) for m in members] for members in self.models_])  # (targets, members, n)

    def predict(self, X) -> np.ndarray:  # noqa: ANN001, N803
        mean = self._all(X).astype(np.float64).mean(axis=1).T
        return mean if self.multi_output_ else mean[:, 0]

    def predict_std(self, X) -> np.ndarray:  # noqa: ANN001, N803
        """Spread of the ensemble (0 with one member)."""
        std = self._all(X).astype(np.float64).std(axis=1).T
        return std if self.multi_output_ else std[:, 0]

    def importance(self, X, feature_names: list[str], target: int = 0) -> dict[str, tuple[float, float]]:  # noqa: ANN001, N803
        """Per feature: (total gain, mean |SHAP value|) of the first member of `target`."""
        import xgboost as xgb

        booster = self.models_[target][0].get_booster()
        gain = booster.get_score(importance_type="total_gain")
        contribs = booster.predict(xgb.DMatrix(np.asarray(X, dtype=float), missing=np.nan), pred_contribs=True)
        shap = np.abs(contribs[:, :-1]).mean(axis=0)
        return {n: (float(gain.get(f"f{i}", 0.0)), float(shap[i])) for i, n in enumerate(feature_names)}

    def __sklearn_tags__(self):  # noqa: ANN204
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.multi_output = True
        return tags
