"""Device models: a device's cost (latency or energy) fitted from networks measured on it.

No fixed analytic model ranks networks the way every device does (HW-NAS-Bench's devices disagree
with each other), so a device is described by its measurements. Features come from each network's
layer table (layer_shapes, fused as layers.fuse says): per operation kind (conv by kernel size,
linear, pooling, sums, activations, batch norms, concatenations) the operations, MACs or other
arithmetic, words read and words written, and where results go (read by one activation, by one
other operation, by several), which decides what a runtime fuses into one kernel. Models:

- "linear": non-negative least squares on those features (each kind has a non-negative cost per
  operation, per MAC and per word), fitted on relative errors;
- "kernels": nn-Meter's idea (Zhang et al., MobiSys 2021): a gradient-boosted model predicts each
  kernel's cost from its own features (kind, MACs, words, channels, area, kernel size) and a
  network costs the sum of its kernels. With measured networks only, the trees are fitted on the
  networks' relative error, each kernel's gradient being its network's;
- "encoding": ridge regression on the layer features plus the space's device encoding (the position of
  each operation and, for nb201, which readers each node has: what a runtime fuses);
- "auto": the one with the smallest k-fold cross-validated relative error on the training networks.

A fitted model is a JSON file (the data it was fitted on named and hashed) and names an objective
like a preset does: `latency_ms@<name>`, `energy_mj@<name>`. This module knows layer tables only;
paretonet.analytic turns architectures into them (fit_device, device_costs, read_calibration).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._threads import user_threads
from ..errors import ConfigError, DataError, check_choice, check_int
from ..records.names import device_name
from ..layers import LayerShape

DEVICE_MODELS = ("auto", "linear", "kernels", "encoding")
QUANTITIES = {"latency": "ms", "energy": "mJ"}
_KINDS = ("conv1x1", "conv3x3", "conv", "linear", "pool", "add", "activation", "batchnorm", "concat")
_PARTS = ("ops", "arith", "read", "write")
# where an operation's result goes decides what a runtime fuses it with (a sum read by one ReLU becomes one kernel)
_CONTEXTS = ("to_activation", "to_other", "to_several_activations", "to_several_others")
FEATURES = tuple(f"{k}:{p}" for k in _KINDS for p in _PARTS) + tuple(f"{k}:{c}" for k in _KINDS for c in _CONTEXTS)
FORMAT = 1


def _kind(s: LayerShape) -> str:
    if s.kind == "conv":
        return {1: "conv1x1", 9: "conv3x3"}.get(s.kernel_area, "conv")
    return s.kind


def _arith(s: LayerShape) -> float:
    if s.kind in ("conv", "linear"):
        return float(s.macs)
    if s.kind == "pool":
        return float(s.output_count * s.kernel_area)
    return float(s.output_count)


def _moved(s: LayerShape) -> tuple[float, float]:
    """(words read, words written) once per datum: what the layer table says this operation moves."""
    if s.fused and s.kind != "add":
        return 0.0, 0.0
    return float(s.input_count + s.weight_count), 0.0 if s.fused else float(s.output_count)


def _context(s: LayerShape) -> tuple[float, float, float, float]:
    if s.fan_out == 1:
        return (1.0, 0.0, 0.0, 0.0) if s.to_activations else (0.0, 1.0, 0.0, 0.0)
    return 0.0, 0.0, float(s.to_activations), float(s.fan_out - s.to_activations)


def layer_features(layers: list[LayerShape] | tuple[LayerShape, ...]) -> np.ndarray:
    """The network-level features (FEATURES) of a layer table."""
    parts, contexts = np.zeros((len(_KINDS), len(_PARTS))), np.zeros((len(_KINDS), len(_CONTEXTS)))
    for s in layers:
        r, w = _moved(s)
        k = _KINDS.index(_kind(s))
        parts[k] += (1.0, _arith(s), r, w)
        contexts[k] += _context(s)
    return np.concatenate([parts.ravel(), contexts.ravel()])


def kernel_rows(layers: list[LayerShape] | tuple[LayerShape, ...]) -> np.ndarray:
    """One row per operation: kind one-hot, arithmetic, words read and written, channels, areas, kernel, fused,
    readers of its result and how many of them are activations."""
    rows = []
    for s in layers:
        onehot = [float(_kind(s) == k) for k in _KINDS]
        r, w = _moved(s)
        rows.append([*onehot, _arith(s), r, w, s.in_channels, s.out_channels, s.in_area, s.out_area, s.kernel_area,
                     float(s.fused), float(s.fan_out), float(s.to_activations)])
    return np.array(rows, dtype=float)


@dataclass(frozen=True, eq=False)
class Network:
    """What a device model reads of one network: its layer table's features and kernel rows, and the
    architecture's encoding in its space (paretonet.analytic.network builds one from an architecture)."""

    features: np.ndarray
    kernels: np.ndarray
    encoding: np.ndarray


def describe(layers: list[LayerShape] | tuple[LayerShape, ...], encoding: np.ndarray | list[float]) -> Network:
    return Network(layer_features(layers), kernel_rows(layers), np.asarray(encoding, dtype=float))


@dataclass(frozen=True)
class DeviceData:
    """Measured networks: architecture strings ('nb201:...', 'lenet:...') and their costs (> 0)."""

    architectures: tuple[str, ...]
    costs: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if len(self.architectures) != len(self.costs):
            raise DataError(f"{self.source}: {len(self.architectures)} architectures but {len(self.costs)} costs")
        bad = [i for i, c in enumerate(self.costs) if not np.isfinite(c) or c <= 0]
        if bad:
            i = bad[0]
            raise DataError(f"{self.source}: cost of {self.architectures[i]!r} is {self.costs[i]!r}; expected a "
                            f"positive number ({len(bad)} such rows)")

    @property
    def sha256(self) -> str:
        text = "\n".join(f"{a},{c!r}" for a, c in zip(self.architectures, self.costs.tolist()))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class DeviceModel:
    name: str
    quantity: str  # latency | energy
    unit: str  # ms | mJ
    model: str  # linear | kernels | encoding
    input_shape: tuple[int, int, int]
    n_classes: int
    params: dict = field(repr=False)  # linear / encoding: coef, intercept; kernels: the booster as JSON
    data: dict = field(default_factory=dict)  # source, sha256, rows: what it was fitted on
    cv: dict = field(default_factory=dict)  # cross-validated scores of every candidate on the training data

    @property
    def objective(self) -> str:
        return device_name(self.quantity, self.unit, self.name)

    def predict(self, networks: list[Network]) -> np.ndarray:
        """Predicted cost of each network (paretonet.analytic.device_costs takes architectures)."""
        return _predict(self.model, self.params, networks)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return {"format": FORMAT, **d}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DeviceModel":
        from .._schema import read_json

        path = Path(path)
        d = read_json(path, f"device model file {str(path)!r}")
        try:
            if not isinstance(d, dict) or d.pop("format", None) != FORMAT:
                raise ValueError(f"format is not {FORMAT}")
            d["input_shape"] = tuple(d["input_shape"])
            m = cls(**d)
            check_choice("model", m.model, DEVICE_MODELS[1:])
            check_choice("quantity", m.quantity, tuple(QUANTITIES))
            return m
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"device model file {str(path)!r}: cannot read it ({str(e).splitlines()[0]})") from None


# -- fitting -------------------------------------------------------------------------------------
def _feature_matrix(nets: list[Network]) -> np.ndarray:
    return np.stack([n.features for n in nets])


def _kernel_matrix(nets: list[Network]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([n.kernels for n in nets]), np.repeat(np.arange(len(nets)), [len(n.kernels) for n in nets])


def _fit_linear(X: np.ndarray, y: np.ndarray) -> dict:
    from scipy.optimize import nnls

    scale = X.max(axis=0)
    scale[scale == 0] = 1.0
    A = np.column_stack([X / scale, np.ones(len(y))]) / y[:, None]  # relative error: rows divided by the cost
    coef, _ = nnls(A, np.ones(len(y)))
    return {"coef": (coef[:-1] / scale).tolist(), "intercept": float(coef[-1])}


def _fit_encoding(Z: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.linear_model import RidgeCV

    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd[sd == 0] = 1.0
    r = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit((Z - mu) / sd, y)
    coef = r.coef_ / sd
    return {"coef": coef.tolist(), "intercept": float(r.intercept_ - coef @ mu)}


def _fit_kernels(K: np.ndarray, net: np.ndarray, y: np.ndarray, seed: int) -> dict:
    import xgboost as xgb

    size = np.bincount(net, minlength=len(y)).astype(float)

    def objective(pred: np.ndarray, _: object) -> tuple[np.ndarray, np.ndarray]:
        # loss sum_n ((sum_k f(kernel_k) - y_n) / y_n)^2: a kernel's gradient is its network's; K_n bounds
        # the block Hessian (all ones), so boosting steps stay stable however many kernels a network has
        total = np.bincount(net, weights=pred, minlength=len(y))
        grad = (total - y) / y**2
        return grad[net], (size / y**2)[net]

    params = {"max_depth": 3, "eta": 0.1, "subsample": 0.8, "base_score": 0.0, "seed": seed, "nthread": user_threads()}
    booster = xgb.train(params, xgb.DMatrix(K), num_boost_round=300, obj=objective)
    return {"booster": booster.save_raw("json").decode()}


def _with_encoding(nets: list[Network]) -> np.ndarray:
    return np.column_stack([_feature_matrix(nets), np.stack([n.encoding for n in nets])])


def _fit(model: str, nets: list[Network], y: np.ndarray, seed: int) -> dict:
    if model == "linear":
        return _fit_linear(_feature_matrix(nets), y)
    if model == "encoding":
        return _fit_encoding(_with_encoding(nets), y)
    return _fit_kernels(*_kernel_matrix(nets), y, seed)


def _predict(model: str, params: dict, nets: list[Network]) -> np.ndarray:
    if model == "kernels":
        import xgboost as xgb

        booster = xgb.Booster(params={"nthread": user_threads()})
        booster.load_model(bytearray(params["booster"].encode()))
        K, net = _kernel_matrix(nets)
        return np.bincount(net, weights=booster.predict(xgb.DMatrix(K), output_margin=True), minlength=len(nets))
    X = _with_encoding(nets) if model == "encoding" else _feature_matrix(nets)
    return X @ np.asarray(params["coef"]) + params["intercept"]


def scores(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Kendall tau, RMSE (in the cost's unit) and the share of predictions within +-10 % of the measurement."""
    from scipy.stats import kendalltau

    return {"kendall_tau": float(kendalltau(predicted, measured).statistic),
            "rmse": float(np.sqrt(np.mean((predicted - measured) ** 2))),
            "within_10pct": float(np.mean(np.abs(predicted / measured - 1) <= 0.1))}


def fit_networks(name: str, quantity: str, nets: list[Network], data: DeviceData, model: str = "auto", *,
                 folds: int = 5, seed: int = 0, input_shape: tuple[int, int, int] = (3, 32, 32),
                 n_classes: int = 10) -> DeviceModel:
    """Fit a device model on measured networks (`nets` describe `data`'s architectures, built for `input_shape`
    and `n_classes`); "auto" picks the candidate with the best k-fold relative error."""
    check_choice("quantity", quantity, tuple(QUANTITIES))
    check_choice("model", model, DEVICE_MODELS)
    check_int("folds", folds, minimum=2)
    if not isinstance(name, str) or not name or any(c in name for c in "@:,/ ") or name == "cpu":
        raise ConfigError(f"name: got {name!r}, expected a non-empty name without '@', ':', ',', '/' or spaces, other "
                          "than 'cpu' (latency_ms@cpu is measured, not modelled)")
    y = np.asarray(data.costs, dtype=float)
    kinds = int(np.count_nonzero(_feature_matrix(nets)[:, 0:len(_KINDS) * len(_PARTS):len(_PARTS)].any(axis=0)))
    if len(y) < max(kinds + 2, folds):
        raise DataError(f"{data.source}: {len(y)} measured networks, expected at least {max(kinds + 2, folds)} "
                        f"(more than the {kinds} kinds of operation in them, each with its own cost)")
    candidates = DEVICE_MODELS[1:] if model == "auto" else (model,)
    cv: dict[str, dict[str, float]] = {}
    if len(candidates) > 1:
        order = np.random.default_rng(seed).permutation(len(y))
        for c in candidates:
            pred = np.empty(len(y))
            for k in range(folds):
                test = np.sort(order[k::folds])
                train = np.setdiff1d(order, test)
                pred[test] = _predict(c, _fit(c, [nets[i] for i in train], y[train], seed), [nets[i] for i in test])
            cv[c] = {**scores(pred, y), "mean_relative_error": float(np.mean(np.abs(pred / y - 1)))}
        chosen = min(cv, key=lambda c: cv[c]["mean_relative_error"])
    else:
        chosen = model
    return DeviceModel(name, quantity, QUANTITIES[quantity], chosen, tuple(input_shape), n_classes, _fit(chosen, nets, y, seed),
                       {"source": data.source, "sha256": data.sha256, "rows": len(y)}, cv)
