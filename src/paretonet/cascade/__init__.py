"""Confidence cascades: a small model first, a larger one only for the images it is unsure of."""

from ._measure import (
    CascadePoint,
    StageCost,
    candidate_thresholds,
    cascade_objectives,
    choose_threshold,
    curve,
    stage_costs,
    stage_logits,
)
from ._model import CONFIDENCES, Cascade, Stage, confidence, pixelate

__all__ = ["CONFIDENCES", "Cascade", "CascadePoint", "Stage", "StageCost", "candidate_thresholds", "cascade_objectives",
           "choose_threshold", "confidence", "curve", "pixelate", "stage_costs", "stage_logits"]
