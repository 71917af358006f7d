"""Device models fitted on measured networks: HW-NAS-Bench's columns (in ../shared) or a user's CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ._nb201 import default_shared_nb201

HW_NAS_BENCH = "hw_devices_cifar100.csv"


@dataclass(frozen=True, kw_only=True)
class DeviceFitJob:
    """Measurements to fit on: a HW-NAS-Bench column (`column`), or a CSV of architectures and a `cost` column."""

    column: str | None = None
    csv: Path | None = None
    cost: str | None = None
    name: str | None = None  # the device's name in objectives; default: the column's device or the CSV's stem
    quantity: str | None = None  # latency or energy; default: from the column name (a CSV: latency)
    model: str = "auto"
    train: int = 0  # a seeded sample of this many measured networks (0: all)
    input_shape: tuple[int, int, int] = (3, 32, 32)
    n_classes: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        from ..hw import QUANTITIES

        if (self.column is None) == (self.csv is None):
            raise ConfigError("--column / --csv: give exactly one (a HW-NAS-Bench column, or your own CSV with --cost)")
        if self.quantity is not None and self.quantity not in QUANTITIES:  # before any file is read
            raise ConfigError(f"--quantity: got {self.quantity!r}, expected one of {', '.join(QUANTITIES)}")
        if self.train < 0:
            raise ConfigError(f"--train: got {self.train}, expected 0 (all) or a positive number of networks")
        if self.csv is not None and self.cost is None:
            raise ConfigError("--cost: --csv needs the name of its cost column")


def fit_device_model(job: DeviceFitJob):  # noqa: ANN201
    """A device model fitted on the measurements (a DeviceModel: save it, print its cross-validated scores)."""
    import numpy as np

    from ..analytic import fit_device, read_calibration
    from ..hw import DeviceData

    if job.column is not None:
        data = read_calibration(default_shared_nb201() / HW_NAS_BENCH, job.column, missing=-1.0)  # -1: not measured
        device, _, kind = job.column.rpartition("_")
    else:
        data = read_calibration(job.csv, job.cost)
        device, kind = (job.name or Path(job.csv).stem), (job.quantity or "latency")
    if 0 < job.train < len(data.costs):
        keep = np.sort(np.random.default_rng(job.seed).choice(len(data.costs), job.train, replace=False))
        data = DeviceData(tuple(data.architectures[i] for i in keep), data.costs[keep],
                          f"{data.source} (sample of {job.train}, seed {job.seed})")
    return fit_device(job.name or device, job.quantity or kind, data, job.model, seed=job.seed,
                      input_shape=job.input_shape, n_classes=job.n_classes)


