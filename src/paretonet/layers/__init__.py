"""What every part needs of a module: the non-differentiable marker and its gradient modes, input
normalization and resizing, an eval-mode context manager, layer geometry (LayerShape) and the executed operations
with the fusion rules the cost models share (Op, fuse), interval bound propagation (interval_bounds).
Imports nothing of paretonet but errors."""

from ._gradients import (
    GRADIENT_MODES,
    NonDifferentiable,
    RoundInput,
    gradient_mode,
    has_gradient_free_layers,
    non_differentiable_layers,
)
from ._intervals import MONOTONE, interval_bounds, margin_lower_bounds
from ._modules import Normalize, Resize, eval_mode
from ._ops import Op, OpRecorder, changed, fuse
from ._shapes import KINDS, LayerShape

__all__ = ["GRADIENT_MODES", "KINDS", "MONOTONE", "LayerShape", "interval_bounds", "margin_lower_bounds", "Op", "OpRecorder", "changed", "fuse", "NonDifferentiable", "Normalize", "Resize", "RoundInput", "eval_mode", "gradient_mode",
           "has_gradient_free_layers", "non_differentiable_layers"]
