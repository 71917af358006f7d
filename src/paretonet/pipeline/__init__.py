"""Every measurement as a job: a model (or its path) and a frozen, keyword-only config in, `list[Record]` out
(`run_<job>`).

A job is the only place its Record is built; the CLI parses options into these configs, calls one job and prints
what the Records hold. The config types a job takes are importable from here too, so a caller needs nothing else.

    train       train an architecture with a recipe (train_architecture, run_train)
    measure     accuracy, size, MACs, energy, latency of a saved model; members of a space; device models' costs
    robustness  the worst case over attacks with sanity checks, input-noise curves; seed variance and its aggregate
    perturb     computation noise, bit flips, protection of vulnerable neurons
    certify     randomized smoothing and interval bounds beside the attacks
    compress    quantized, pruned and approximate variants; one approximate layer at a time; greedy assignment
    cascade     confidence cascades (the one builder of their Records)
    curves      robustness, noise and certified curves of a search's front members

Names load on first use (Optuna's habit), so importing the package costs nothing until a job runs.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "train": ("TrainJob", "TrainedModel", "init_seed", "run_train", "save_trained", "train_architecture"),
    "_load": ("load_for_eval", "load_quantized"),
    "measure": ("EnergyConfig", "MeasureConfig", "SavedModel", "cpu_latencies", "device_predictions", "measure_names",
                "run_energy", "run_measure", "space_members"),
    "robustness": ("RobustnessJob", "VarianceJob", "over_seeds", "run_robustness", "run_variance", "seed_variance"),
    "perturb": ("FaultJob", "NoiseJob", "run_faults", "run_noise"),
    "certify": ("CertifyJob", "run_certify"),
    "compress": ("AssignJob", "CompressJob", "compare_variants", "multiplier_list", "multipliers_without_power",
                 "run_assign", "run_compress", "run_sensitivity", "variant_objectives", "variant_record"),
    "cascade": ("CascadeJob", "Member", "cascade_record", "run_cascade"),
    "curves": ("member_curves", "variance_map_job"),
}
# the configs the jobs take, from the packages that define them
_CONFIGS = {
    "TrainConfig": "..train", "Recipe": "..train", "Variant": "..variant", "RobustnessConfig": "..evaluate",
    "SmoothingConfig": "..evaluate", "PRESETS": "..evaluate", "NoiseModel": "..hw", "FaultModel": "..hw",
    "DataConfig": "..data",
}
_WHERE = {name: f".{module}" for module, names in _EXPORTS.items() for name in names} | _CONFIGS

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _WHERE)
