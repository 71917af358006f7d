"""Variants of a trained model (bits, pruning, approximate multipliers) and their measurement as Records."""

from ._assign import AssignmentStep, GreedyAssignment, greedy_assignment
from ._apply import VariantModel, apply_variant, multiplier_plan, variant_structure
from ._measure import compare_variants, select_images, variant_objectives, variant_record
from ._recipe import CALIBRATION_IMAGES, Variant
from ._tuning import LayerSensitivity, layer_sensitivity, retrain

__all__ = ["AssignmentStep", "GreedyAssignment", "greedy_assignment", "CALIBRATION_IMAGES", "LayerSensitivity", "Variant", "VariantModel", "apply_variant", "compare_variants",
           "layer_sensitivity", "multiplier_plan", "retrain", "select_images", "variant_objectives", "variant_record",
           "variant_structure"]
