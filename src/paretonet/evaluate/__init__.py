"""Evaluation: clean accuracy and the registry of objectives (robustness arrives in a later issue)."""

from ._accuracy import accuracy, predict_logits
from ._objectives import BASIC_OBJECTIVES, OBJECTIVES, EvalContext, check_input_shape, evaluate_objectives

__all__ = [
    "BASIC_OBJECTIVES",
    "OBJECTIVES",
    "EvalContext",
    "accuracy",
    "check_input_shape",
    "evaluate_objectives",
    "predict_logits",
]
