"""Feature matrices for the predictor: proxies plus architecture encodings per space.

nb201: one-hot of the op on each of the 6 edges, op counts, and path features in the spirit of
GRAF (Kadlecova et al. 2024): live input-to-output paths, convolutions on the longest and
shortest live path, paths with a convolution, pooling and skips on live paths.
lenet: conv and fc layer counts, channels, widths, kernel sizes, pooling, activations.
"""

from __future__ import annotations

import numpy as np

from ..bench import Bench
from ..errors import ConfigError
from ..spaces import Architecture

NB201_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")  # NASLib order
NB201_PATHS = ((2,), (0, 4), (1, 5), (0, 3, 5))  # edges 0:1-2 1:1-3 2:1-4 3:2-3 4:2-4 5:3-4
FEATURE_SETS = ("proxies", "proxies+encoding", "encoding", "params+flops")


def nb201_encoding(cell: str) -> tuple[list[str], list[float]]:
    ops = list(Architecture.parse(cell).decode().naslib)  # NASLib op codes, NASLib edge order
    onehot = np.zeros((6, 5))
    onehot[np.arange(6), ops] = 1
    names = [f"edge{e}_{op}" for e in range(6) for op in NB201_OPS] + [f"count_{op}" for op in NB201_OPS]
    live = [p for p in NB201_PATHS if all(ops[e] != 1 for e in p)]
    convs = [sum(ops[e] in (2, 3) for e in p) for p in live]
    conv3 = [sum(ops[e] == 2 for e in p) for p in live]
    values = [*onehot.ravel(), *onehot.sum(0),
              len(live), max(convs, default=0), min(convs, default=0), sum(c > 0 for c in convs),
              max(conv3, default=0), sum(convs), sum(ops[e] == 4 for p in live for e in p),
              sum(ops[e] == 0 for p in live for e in p)]
    names += ["live_paths", "max_path_convs", "min_path_convs", "paths_with_conv", "max_path_conv3",
              "live_path_convs", "live_path_pools", "live_path_skips"]
    return names, values


def lenet_encoding(arch: str) -> tuple[list[str], list[float]]:
    g = Architecture.parse(arch).decode()
    convs, fcs = list(g.convs), list(g.fcs)
    names = ["n_conv", "n_fc", "conv_channels", "first_channels", "last_channels", "kernel5", "max_pools",
             "avg_pools", "bn", "fc_width", "relu_like"]
    values = [len(convs), len(fcs), sum(c.channels for c in convs), convs[0].channels if convs else 0,
              convs[-1].channels if convs else 0, sum(c.kernel == 5 for c in convs),
              sum(c.pool == "max" for c in convs), sum(c.pool == "avg" for c in convs), sum(bool(c.bn) for c in convs),
              sum(f.width for f in fcs), sum(c.act in ("relu", "relu6", "gelu") for c in convs)]
    return names, [float(v) for v in values]


def encoding(bench: Bench) -> tuple[list[str], np.ndarray]:
    fn = {"nb201": nb201_encoding, "lenet": lenet_encoding}.get(bench.space)
    if fn is None:
        return [], np.zeros((len(bench), 0))
    rows = [fn(a) for a in bench.architectures]
    return rows[0][0], np.array([r[1] for r in rows], dtype=float)


def proxy_columns(bench: Bench) -> list[str]:
    """Proxy columns of a table: 'proxy_*' in our builds, the NASLib names in nb201 data."""
    from ..bench import PROXY_COLUMNS

    ours = sorted(c for c in bench.columns if c.startswith("proxy_"))
    return ours or [c for c in PROXY_COLUMNS if c in bench.columns]


def feature_matrix(bench: Bench, feature_set: str = "proxies+encoding") -> tuple[list[str], np.ndarray]:
    if feature_set not in FEATURE_SETS:
        raise ConfigError(f"features: got {feature_set!r}, expected one of {', '.join(FEATURE_SETS)}")
    if feature_set == "params+flops":
        cols = [c for c in ("params", "flops", "proxy_params", "proxy_flops") if c in bench.columns]
        if not cols:
            raise ConfigError(f"features: benchmark {bench.name!r} has no params/flops columns")
        return cols, np.stack([bench.columns[c] for c in cols], axis=1)
    names, parts = [], []
    if "proxies" in feature_set:
        cols = proxy_columns(bench)
        if not cols:
            raise ConfigError(f"features: benchmark {bench.name!r} has no proxy columns")
        names += cols
        parts.append(np.stack([bench.columns[c] for c in cols], axis=1))
    if "encoding" in feature_set:
        enc_names, enc = encoding(bench)
        names += enc_names
        parts.append(enc)
    return names, np.concatenate(parts, axis=1)
