"""Approximate 8x8 multipliers: tables, error metrics, bit-exact conv/linear emulation (retraining: paretonet.variant)."""

from ._apply import approx_layers, approximate_model
from ._designs import DESIGNS, build_design, example_specs
from ._engines import ENGINES, bit_linear_error, gather_accumulate
from ._layers import ApproxLayer
from ._library import MULTIPLIERS, MultiplierInfo, get_multiplier, list_multipliers, load_table_file, register_multiplier
from ._multiplier import (
    EXACT_POWER_MW,
    ErrorMetrics,
    Multiplier,
    error_metrics,
    exact_table,
    load_bin,
    read_circuit_meta,
    save_bin,
)

__all__ = [
    "DESIGNS", "ENGINES", "EXACT_POWER_MW", "MULTIPLIERS", "ApproxLayer", "ErrorMetrics", "Multiplier",
    "MultiplierInfo", "approx_layers", "approximate_model", "bit_linear_error", "build_design", "error_metrics",
    "exact_table", "example_specs", "gather_accumulate", "get_multiplier", "list_multipliers", "load_bin",
    "load_table_file", "read_circuit_meta", "register_multiplier", "save_bin",
]
