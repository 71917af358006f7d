"""Variants of a trained model (bits, pruning, approximate multipliers): the recipe, applying it, STE retraining,
layer sensitivity and greedy multiplier assignment (pipeline.compress measures them into Records)."""

from ._assign import AssignmentStep, GreedyAssignment, greedy_assignment
from ._apply import VariantModel, apply_variant, multiplier_plan, variant_structure
from ._recipe import CALIBRATION_IMAGES, Variant
from ._tuning import LayerSensitivity, layer_sensitivity, retrain

__all__ = ["AssignmentStep", "GreedyAssignment", "greedy_assignment", "CALIBRATION_IMAGES", "LayerSensitivity", "Variant", "VariantModel", "apply_variant",
           "layer_sensitivity", "multiplier_plan", "retrain", "variant_structure"]
