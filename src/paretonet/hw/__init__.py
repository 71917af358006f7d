"""Hardware objectives: parameters, size, MACs, FLOPs and energy; quantization, pruning (approximate multipliers: hw.approx)."""

from ._counting import (
    NB201_FIXED_FLOPS,
    LayerProfile,
    MacCount,
    count_flops,
    count_macs,
    count_params,
    profile_layers,
    size_bytes,
)

__all__ = [
    "NB201_FIXED_FLOPS",
    "LayerProfile",
    "MacCount",
    "count_flops",
    "count_macs",
    "count_params",
    "profile_layers",
    "size_bytes",
]

from ._energy import (  # noqa: E402
    DATAFLOWS,
    FLOAT32,
    EnergyEstimate,
    LayerBits,
    LayerEnergy,
    estimate_energy,
    layer_energy,
    mac_energy_pj,
    model_energy,
    nb201_energy,
    nb201_total_energy_pj,
)
from ._hardware import EYERISS, HOROWITZ45, Hardware, MemoryLevel, hardware  # noqa: E402
from ._hardware import PRESETS as HARDWARE_PRESETS  # noqa: E402
from ._shapes import LayerShape, layer_shapes, nb201_layer_shapes  # noqa: E402

__all__ += [
    "DATAFLOWS", "EYERISS", "FLOAT32", "HARDWARE_PRESETS", "HOROWITZ45", "EnergyEstimate", "Hardware", "LayerBits",
    "LayerEnergy", "LayerShape", "MemoryLevel", "estimate_energy", "hardware", "layer_energy", "layer_shapes",
    "mac_energy_pj", "model_energy", "nb201_energy", "nb201_layer_shapes", "nb201_total_energy_pj",
]
