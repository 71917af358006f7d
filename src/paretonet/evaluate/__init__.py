"""Evaluation: clean accuracy, the objective registry, attacks, worst-case robustness, noise, sanity checks."""

from ._accuracy import accuracy, correct_per_image, images_id, predict_logits
from ._variance_map import LayerVariance, variance_maps
from ._certify import (
    SmoothingConfig,
    SmoothingResult,
    certified_objective,
    certify_smoothing,
    clopper_pearson_lower,
    ibp_certified,
    is_certified_objective,
    parse_certified,
    smoothed_predict,
)
from ._attacks import ATTACKS, Attack, AttackConfig, make_attack
from ..layers import NonDifferentiable, RoundInput, gradient_mode, has_gradient_free_layers
from ._noise import NOISE_KINDS, NoisePoint, noise_robustness, parse_noise_spec
from ._objectives import (
    BASIC_OBJECTIVES,
    ENERGY_DATAFLOW,
    ENERGY_HARDWARE,
    ENERGY_OBJECTIVE,
    OBJECTIVES,
    EvalContext,
    check_input_shape,
    ENERGY_PARTS,
    energy_name,
    energy_objective,
    energy_part_of,
    energy_parts,
    measurable_names,
    INPUT_NOISE_DRAWS,
    is_input_noise_objective,
    evaluate_objectives,
    priced_objectives,
)
from ._robustness import (
    PRESETS,
    AttackOutcome,
    RobustnessAbandoned,
    RobustnessConfig,
    RobustnessResult,
    evaluate_robustness,
    robustness_curve,
)
from ._sanity import SanityCheck

__all__ = [
    "ATTACKS",
    "BASIC_OBJECTIVES",
    "ENERGY_DATAFLOW",
    "ENERGY_HARDWARE",
    "ENERGY_OBJECTIVE",
    "NOISE_KINDS",
    "OBJECTIVES",
    "PRESETS",
    "Attack",
    "AttackConfig",
    "AttackOutcome",
    "EvalContext",
    "NoisePoint",
    "NonDifferentiable",
    "RobustnessConfig",
    "RobustnessResult",
    "RoundInput",
    "SanityCheck",
    "accuracy",
    "check_input_shape",
    "ENERGY_PARTS",
    "energy_name",
    "energy_objective",
    "energy_part_of",
    "energy_parts",
    "measurable_names",
    "INPUT_NOISE_DRAWS",
    "is_input_noise_objective",
    "evaluate_objectives",
    "priced_objectives",
    "correct_per_image",
    "LayerVariance",
    "variance_maps",
    "SmoothingConfig",
    "SmoothingResult",
    "certified_objective",
    "certify_smoothing",
    "clopper_pearson_lower",
    "ibp_certified",
    "is_certified_objective",
    "parse_certified",
    "smoothed_predict",
    "images_id",
    "evaluate_robustness",
    "RobustnessAbandoned",
    "gradient_mode",
    "has_gradient_free_layers",
    "make_attack",
    "noise_robustness",
    "parse_noise_spec",
    "predict_logits",
    "robustness_curve",
]

from ._variance import RankingFlips, SeedVariance, Summary, ranking_flips, summarize  # noqa: E402

__all__ += ["RankingFlips", "SeedVariance", "Summary", "ranking_flips", "summarize"]

from ._faults import (  # noqa: E402
    FAULT_TRIALS,
    NOISE_DRAWS,
    PerturbedAccuracy,
    Vulnerability,
    fault_accuracy,
    is_perturbed_objective,
    layer_vulnerability,
    neuron_vulnerability,
    noise_accuracy,
    parse_perturbed,
    perturbed_name,
    perturbed_objective,
    site_damage,
    top_neurons,
)

__all__ += ["FAULT_TRIALS", "NOISE_DRAWS", "PerturbedAccuracy", "Vulnerability", "fault_accuracy",
            "is_perturbed_objective", "layer_vulnerability", "neuron_vulnerability", "noise_accuracy",
            "parse_perturbed", "perturbed_name", "perturbed_objective", "site_damage", "top_neurons"]
