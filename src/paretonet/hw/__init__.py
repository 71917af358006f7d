"""Hardware objectives: parameters, size, MACs, FLOPs and energy; quantization, pruning (approximate multipliers: hw.approx)."""

from ._costs import layer_bits, power_factors, storage_bytes, variant_energy, weight_density
from ._device import DEVICE_MODELS, QUANTITIES, DeviceData, DeviceModel, Network, describe, fit_networks, layer_features
from ._device import scores as device_scores
from ._counting import NB201_FIXED_FLOPS, LayerProfile, MacCount, count_flops, count_macs, count_params, profile_layers
from ._energy import (
    DATAFLOWS,
    DEFAULT_DATAFLOW,
    DEFAULT_HARDWARE,
    FLOAT32,
    EnergyEstimate,
    LayerBits,
    LayerEnergy,
    estimate_energy,
    grouped_total_pj,
    layer_energy,
    mac_energy_pj,
    model_energy,
    mult_energy_pj,
)
from ._compute import CALIBRATION_IMAGES, compute_layers, layer_names, resolve_layers, wrapped_layer
from ._faults import (
    FAULT_TARGETS,
    PROTECTIONS,
    CodeFormat,
    FaultModel,
    FaultSite,
    Protection,
    ProtectionCost,
    draw_weight_faults,
    faulty,
    flip_bits,
    protection_cost,
    weight_format,
)
from ._noise import NoiseModel, noisy, output_ranges
from ._latency import CpuLatency, measure_cpu_latency
from ._hardware import EYERISS, HARDWARE_PRESETS, HOROWITZ45, Hardware, MemoryLevel, hardware
from ._prune import finalize_pruning, prune_channels, prune_unstructured
from ._quantize import ActQuant, QuantLayer, QuantSpec, calibrate, quantizable_layers, quantize_model, weight_codes
from ._shapes import layer_shapes
from ._sparse import best_encoding, encoding_sizes
from ._zigzag import ZigZagEstimate, match_layers, zigzag_energy

__all__ = [
    "CALIBRATION_IMAGES",
    "FAULT_TARGETS", "PROTECTIONS", "CodeFormat", "FaultModel", "FaultSite", "NoiseModel", "Protection",
    "ProtectionCost", "compute_layers", "draw_weight_faults", "faulty", "flip_bits", "noisy", "output_ranges",
    "protection_cost", "weight_codes", "weight_format", "wrapped_layer", "layer_names", "resolve_layers",
    "CpuLatency", "measure_cpu_latency",
    "DEVICE_MODELS", "QUANTITIES", "DeviceData", "DeviceModel", "Network", "describe", "device_scores", "fit_networks",
    "layer_features",
    "DATAFLOWS", "DEFAULT_DATAFLOW", "DEFAULT_HARDWARE", "EYERISS", "FLOAT32", "HARDWARE_PRESETS", "HOROWITZ45", "NB201_FIXED_FLOPS", "ActQuant",
    "EnergyEstimate", "Hardware", "LayerBits", "LayerEnergy", "LayerProfile", "MacCount", "MemoryLevel", "QuantLayer",
    "QuantSpec", "ZigZagEstimate", "best_encoding", "calibrate", "count_flops", "count_macs", "count_params", "encoding_sizes",
    "estimate_energy", "finalize_pruning", "grouped_total_pj", "hardware", "layer_bits", "layer_energy",
    "layer_shapes", "mac_energy_pj", "model_energy", "mult_energy_pj", "power_factors", "profile_layers", "prune_channels",
    "prune_unstructured", "quantizable_layers", "quantize_model", "storage_bytes", "variant_energy",
    "weight_density", "match_layers", "zigzag_energy",
]
