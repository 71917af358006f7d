"""Multi-objective search on Optuna studies: objectives by Record name, samplers, the table and train
evaluators, predictor guidance, fronts and hypervolume."""

from ._cascades import add_cascades, cascade_objective_names
from ._front import hypervolume, nondominated
from ._guided import Guidance, GuidedProposer
from ._problem import Evaluation, Pool, Problem
from ._run import (SAMPLERS, SearchConfig, SearchProgress, SearchResult, completed_trials, mask_url, open_study,
                   run_search, run_table_search, stopped_trials)
from ._stopping import EarlyStopping
from ._spec import Constraint, ObjectiveSpec, parse_constraint, parse_objective, parse_objectives
from ._table import TableProblem
from ._train import HardwareChoices, TrainBudget, TrainProblem
from ._results import write_curves, write_results

__all__ = ["SAMPLERS", "Constraint", "EarlyStopping", "Evaluation", "Guidance", "GuidedProposer", "HardwareChoices", "ObjectiveSpec",
           "Pool", "Problem", "SearchConfig", "SearchProgress", "SearchResult", "TableProblem", "TrainBudget",
           "TrainProblem", "completed_trials", "hypervolume", "mask_url", "nondominated", "open_study",
           "parse_constraint", "parse_objective", "parse_objectives", "run_search", "run_table_search", "stopped_trials", "add_cascades",
           "cascade_objective_names", "write_curves", "write_results"]
