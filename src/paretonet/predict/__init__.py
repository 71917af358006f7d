"""Predicting clean and robust accuracy from zero-cost proxies and architecture encodings."""

from ._features import FEATURE_SETS, encoding, feature_matrix, proxy_columns
from ._plot import importance_svg
from ._protocol import PUBLISHED_R2, ProtocolCell, Score, evaluate_protocol, feature_importance, surrogate_for
from ._surrogate import Surrogate

__all__ = ["FEATURE_SETS", "PUBLISHED_R2", "ProtocolCell", "Score", "Surrogate", "encoding", "evaluate_protocol",
           "feature_importance", "feature_matrix", "importance_svg", "proxy_columns", "surrogate_for"]
