"""Multi-objective search on Optuna studies: objectives by Record name, samplers, predictor guidance."""

from ._front import hypervolume, nondominated
from ._guided import Guidance, GuidedProposer
from ._run import SAMPLERS, SearchConfig, SearchResult, mask_url, open_study, run_table_search
from ._spec import Constraint, ObjectiveSpec, parse_constraint, parse_objective, parse_objectives
from ._table import TableProblem

__all__ = ["SAMPLERS", "Constraint", "Guidance", "GuidedProposer", "ObjectiveSpec", "SearchConfig", "SearchResult",
           "TableProblem", "hypervolume", "mask_url", "nondominated", "open_study", "parse_constraint",
           "parse_objective", "parse_objectives", "run_table_search"]
