"""Tabular benchmarks: NAS-Bench-201 robustness data, Jung et al.'s format, and our own builds."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, DataError
from ._build import BenchStore, BuildConfig, bench_of_records, build_bench, evaluate_architecture, plan_architectures
from ._devices import DeviceFitJob, fit_device_model
from ._nb201 import ATTACK_COLUMNS, default_shared_nb201, DEFAULT_EPS, PROXY_COLUMNS, load_jung, load_nb201_cifar10, target_names
from ._table import Bench, is_target, read_bench_csv


def with_device_models(bench: Bench, models: list) -> Bench:
    """The table with one more column per device model: its prediction for every architecture (free to look up
    in a search, like the measured device costs)."""
    if not models:
        return bench
    from ..analytic import device_costs
    from ..hw import DeviceModel

    models = [m if isinstance(m, DeviceModel) else DeviceModel.load(m) for m in models]  # objects or their files

    columns = dict(bench.columns)
    for m in models:
        if m.objective in columns:
            raise ConfigError(f"--device: {m.objective} is already a column of {bench.name!r} (measured); "
                              "fit the model under another --name")
        columns[m.objective] = device_costs(m, bench.architectures)
    return Bench(bench.name, bench.space, bench.architectures, columns, bench.group)


def open_bench(spec: str, eps: float = DEFAULT_EPS, dataset: str = "cifar10") -> Bench:
    """'nb201-cifar10' (shared CSVs), a Jung et al. folder (has meta.json; `dataset` picks
    cifar10 / cifar100 / ImageNet16-120 in it), a .csv or a build store (.db)."""
    if spec == "nb201-cifar10":
        return load_nb201_cifar10(default_shared_nb201(), eps)
    p = Path(spec)
    if p.is_dir() and (p / "meta.json").is_file():
        return load_jung(p, dataset, eps=eps)
    if p.suffix == ".csv":
        return read_bench_csv(p)
    if p.is_dir():
        raise ConfigError(f"bench: {spec!r} is a folder without meta.json; expected 'nb201-cifar10', a Jung et al. "
                          "folder, a .csv or a build store")
    if p.is_file():
        store = BenchStore(p, must_exist=True)
        try:
            return store.bench()
        finally:
            store.close()
    raise DataError(f"bench: {spec!r} is not 'nb201-cifar10', a Jung et al. folder, a .csv or a build store")


__all__ = ["ATTACK_COLUMNS", "DEFAULT_EPS", "PROXY_COLUMNS", "Bench", "BenchStore", "BuildConfig", "bench_of_records",
           "build_bench", "DeviceFitJob", "fit_device_model", "default_shared_nb201", "with_device_models", "evaluate_architecture", "is_target", "load_jung",
           "load_nb201_cifar10", "open_bench", "plan_architectures", "read_bench_csv", "target_names"]
