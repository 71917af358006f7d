"""Feature matrices for the predictor: proxies plus architecture encodings (each space's `encode`)."""

from __future__ import annotations

import numpy as np

from ..bench import Bench
from ..errors import ConfigError
from ..spaces import Architecture

FEATURE_SETS = ("proxies", "proxies+encoding", "encoding", "params+flops")


def encoding(bench: Bench) -> tuple[list[str], np.ndarray]:
    """Each architecture's encoding by its search space's own `encode` hook."""
    rows = [Architecture.parse(a).encode() for a in bench.architectures]
    if not rows:
        return [], np.zeros((0, 0))
    return rows[0][0], np.array([r[1] for r in rows], dtype=float)


def proxy_columns(bench: Bench) -> list[str]:
    """Proxy columns of a table ('proxy_<name>' in built benchmarks and the NAS-Bench-201 loaders alike)."""
    return sorted(c for c in bench.columns if c.startswith("proxy_"))


def feature_matrix(bench: Bench, feature_set: str = "proxies+encoding") -> tuple[list[str], np.ndarray]:
    if feature_set not in FEATURE_SETS:
        raise ConfigError(f"features: got {feature_set!r}, expected one of {', '.join(FEATURE_SETS)}")
    if feature_set == "params+flops":
        cols = [c for c in ("proxy_params", "proxy_flops") if c in bench.columns] or \
            [c for c in ("params", "macs") if c in bench.columns]
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
