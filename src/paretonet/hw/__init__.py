"""Hardware objectives: parameters, size, MACs and FLOPs (later: energy, quantization, approximate multipliers)."""

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
