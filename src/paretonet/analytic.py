"""Costs of an architecture computed from its genotype, without building the network.

For spaces that know their layer geometry (SearchSpace.layer_shapes; nb201): the search prices
all 15,625 NAS-Bench-201 cells this way; tests hold it equal to the traced network. Device models
(hw._device knows layer tables only) are fitted on and applied to architectures here.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import DataError, ParetonetError
from .records.names import DEFAULT_HARDWARE
from .hw import (DEFAULT_DATAFLOW, FLOAT32, DeviceData, DeviceModel, EnergyEstimate, Hardware, LayerBits, Network, describe,
                 estimate_energy, fit_networks, grouped_total_pj)
from .spaces import Architecture


def _arch(arch: Architecture | str) -> Architecture:
    return arch if isinstance(arch, Architecture) else Architecture.parse(arch)


def architecture_energy(arch: Architecture | str, hw: Hardware | str = DEFAULT_HARDWARE, dataflow: str = DEFAULT_DATAFLOW,
                        input_shape: tuple[int, int, int] = (3, 32, 32), n_classes: int = 10,
                        bits: LayerBits = FLOAT32) -> EnergyEstimate:
    """Per-layer energy of the architecture's network for this input shape and class count."""
    a = _arch(arch)
    shapes = a.search_space.layer_shapes(a.decode(), tuple(input_shape), n_classes)
    return estimate_energy(shapes, hw, dataflow, bits=bits)


def architecture_total_energy_pj(arch: Architecture | str, hw: Hardware | str = DEFAULT_HARDWARE, dataflow: str = DEFAULT_DATAFLOW,
                                 input_shape: tuple[int, int, int] = (3, 32, 32), n_classes: int = 10,
                                 bits: LayerBits = FLOAT32) -> float:
    """architecture_energy(...).total_pj from cached sums of the space's repeated parts: the search's inner loop."""
    a = _arch(arch)
    return grouped_total_pj(a.search_space.cost_groups(a.decode(), tuple(input_shape), n_classes), hw, dataflow, bits)


# -- device models over architectures (the fitting itself knows layer tables only: hw._device) -------------
@lru_cache(maxsize=65536)
def network(arch: str, input_shape: tuple[int, int, int] = (3, 32, 32), n_classes: int = 10) -> Network:
    """What a device model reads of an architecture: its layer table (as the space computes it) and device encoding."""
    a = _arch(arch)
    return describe(a.search_space.layer_shapes(a.decode(), tuple(input_shape), n_classes), a.device_encoding()[1])


def fit_device(name: str, quantity: str, data: DeviceData, model: str = "auto", *, folds: int = 5, seed: int = 0,
               input_shape: tuple[int, int, int] = (3, 32, 32), n_classes: int = 10) -> DeviceModel:
    """A device model fitted on measured architectures (see hw.fit_networks)."""
    nets = [network(a, tuple(input_shape), n_classes) for a in data.architectures]  # each must build: errors first
    return fit_networks(name, quantity, nets, data, model, folds=folds, seed=seed, input_shape=tuple(input_shape),
                        n_classes=n_classes)


def device_costs(model: DeviceModel, architectures: list[str] | tuple[str, ...]) -> np.ndarray:
    """The device model's cost of each architecture, built as the model was fitted (input shape, classes)."""
    return model.predict([network(a, model.input_shape, model.n_classes) for a in architectures])


def parse_architecture(text: str, space: str = "nb201") -> str:
    """'nb201:|...|', 'lenet:...', or a genotype of `space` (a cell string, a NASLib tuple, a named member)."""
    text = text.strip()
    return str(Architecture.parse(text, space=None if ":" in text and not text.startswith("|") else space))


def read_calibration(path: str | Path, cost: str, *, missing: float | None = None, space: str = "nb201") -> DeviceData:
    """(architecture, cost) rows of a CSV: an `architecture` column (see parse_architecture) or HW-NAS-Bench's
    `net` (NASLib tuples), and the `cost` column. Rows whose cost equals `missing` (HW-NAS-Bench writes -1
    where a device has no measurement) are left out; any other bad row is an error naming its line."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise DataError(f"calibration file {str(path)!r} does not exist")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0]) if rows else []
    key = next((k for k in ("architecture", "net") if k in header), None)
    if key is None or cost not in header:
        raise DataError(f"calibration file {str(path)!r}: expected columns 'architecture' (or 'net') and {cost!r}, "
                        f"has {', '.join(header) or 'none'}")
    archs, costs = [], []
    for n, r in enumerate(rows, start=2):  # line numbers as an editor shows them
        text = (r[key] or "").strip()
        try:
            arch = parse_architecture(text, space)
        except ParetonetError as e:
            raise DataError(f"calibration file {str(path)!r} line {n}: unknown architecture {text!r} ({e})") from None
        value = (r[cost] or "").strip()
        try:
            c = float(value)
        except ValueError:
            c = math.nan
        if missing is not None and c == missing:
            continue
        if not math.isfinite(c) or c <= 0:
            raise DataError(f"calibration file {str(path)!r} line {n}: cost {cost!r} is {value!r}, expected a positive "
                            "number")
        archs.append(arch)
        costs.append(c)
    if not archs:
        raise DataError(f"calibration file {str(path)!r}: no measured rows")
    return DeviceData(tuple(archs), np.array(costs), f"{path.name}:{cost}")
