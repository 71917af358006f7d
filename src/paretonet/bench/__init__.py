"""Tabular benchmarks: NAS-Bench-201 robustness data, Jung et al.'s format, and our own builds."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import DataError
from ._build import BenchStore, BuildConfig, build_bench, evaluate_architecture, plan_architectures
from ._nb201 import ATTACK_COLUMNS, PROXY_COLUMNS, load_jung, load_nb201_cifar10
from ._table import TARGETS, Bench, read_bench_csv


def default_shared_nb201() -> Path:
    """../shared/nb201 next to the checkout, or PARETONET_NB201 if set."""
    env = os.environ.get("PARETONET_NB201")
    return Path(env) if env else Path(__file__).resolve().parents[4] / "shared" / "nb201"


def open_bench(spec: str, eps: float = 1.0, dataset: str = "cifar10") -> Bench:
    """'nb201-cifar10' (shared CSVs), a Jung et al. folder (has meta.json; `dataset` picks
    cifar10 / cifar100 / ImageNet16-120 in it), a .csv or a build store (.db)."""
    if spec == "nb201-cifar10":
        return load_nb201_cifar10(default_shared_nb201(), eps)
    p = Path(spec)
    if p.is_dir() and (p / "meta.json").is_file():
        return load_jung(p, dataset, eps=eps)
    if p.suffix == ".csv":
        return read_bench_csv(p)
    if p.is_file():
        store = BenchStore(p)
        try:
            space = store.db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
            return store.bench(json.loads(space[0])["space"] if space else "lenet")
        finally:
            store.close()
    raise DataError(f"bench: {spec!r} is not 'nb201-cifar10', a Jung et al. folder, a .csv or a build store")


__all__ = ["ATTACK_COLUMNS", "PROXY_COLUMNS", "TARGETS", "Bench", "BenchStore", "BuildConfig", "build_bench",
           "default_shared_nb201", "evaluate_architecture", "load_jung", "load_nb201_cifar10", "open_bench",
           "plan_architectures", "read_bench_csv"]
