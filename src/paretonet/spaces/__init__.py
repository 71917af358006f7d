"""Search spaces: genotype <-> canonical string, sampling, mutation, building an nn.Module."""

from ._base import SPACES, Architecture, Normalize, SearchSpace, build_model
from ._sampling import mutate_architecture, sample_architecture
from . import lenet as _lenet  # noqa: F401  registers "lenet"
from . import nb201 as _nb201  # noqa: F401  registers "nb201"
from .lenet import LeNetGenotype
from .nb201 import CellGenotype

__all__ = [
    "SPACES",
    "Architecture",
    "CellGenotype",
    "LeNetGenotype",
    "Normalize",
    "SearchSpace",
    "build_model",
    "mutate_architecture",
    "sample_architecture",
]
