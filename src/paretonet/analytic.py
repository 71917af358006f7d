"""Costs of an architecture computed from its genotype, without building the network.

For spaces that know their layer geometry (SearchSpace.layer_shapes; nb201): the search prices
all 15,625 NAS-Bench-201 cells this way; tests hold it equal to the traced network.
"""

from __future__ import annotations

from .hw import DEFAULT_DATAFLOW, FLOAT32, EnergyEstimate, Hardware, LayerBits, estimate_energy, grouped_total_pj
from .spaces import Architecture


def _arch(arch: Architecture | str) -> Architecture:
    return arch if isinstance(arch, Architecture) else Architecture.parse(arch)


def architecture_energy(arch: Architecture | str, hw: Hardware | str = "horowitz45", dataflow: str = DEFAULT_DATAFLOW,
                        input_shape: tuple[int, int, int] = (3, 32, 32), n_classes: int = 10,
                        bits: LayerBits = FLOAT32) -> EnergyEstimate:
    """Per-layer energy of the architecture's network for this input shape and class count."""
    a = _arch(arch)
    shapes = a.search_space.layer_shapes(a.decode(), tuple(input_shape), n_classes)
    return estimate_energy(shapes, hw, dataflow, bits=bits)


def architecture_total_energy_pj(arch: Architecture | str, hw: Hardware | str = "horowitz45", dataflow: str = DEFAULT_DATAFLOW,
                                 input_shape: tuple[int, int, int] = (3, 32, 32), n_classes: int = 10,
                                 bits: LayerBits = FLOAT32) -> float:
    """architecture_energy(...).total_pj from cached sums of the space's repeated parts: the search's inner loop."""
    a = _arch(arch)
    return grouped_total_pj(a.search_space.cost_groups(a.decode(), tuple(input_shape), n_classes), hw, dataflow, bits)
