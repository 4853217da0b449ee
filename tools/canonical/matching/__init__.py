"""Schema matching: legacy columns -> canonical fields (or any target schema), with evidence.

- :func:`suggest_matches`: canonical mode (insurance glossary, code tables, calibrated
  confidence, one-to-one assignment of scalar fields, repeated groups to list fields).
- :func:`rank_targets`: generic mode for any target schema (no domain knowledge).
- :func:`rerank_with_llm`: optional LLM re-ranking of low-confidence fields.

Evaluation on the sample estate lives in :mod:`evals.matching_estate` (tools never import evals).
"""

from tools.canonical.matching.calibration import DEFAULT_THRESHOLD, Calibrator, fit_isotonic
from tools.canonical.matching.canonical import suggest_matches
from tools.canonical.matching.generic import rank_targets
from tools.canonical.matching.rerank import rerank_with_llm
from tools.canonical.matching.types import Candidate, ColumnMatch, MatchResult, RankResult

__all__ = [
    "DEFAULT_THRESHOLD",
    "Calibrator",
    "Candidate",
    "ColumnMatch",
    "MatchResult",
    "RankResult",
    "fit_isotonic",
    "rank_targets",
    "rerank_with_llm",
    "suggest_matches",
]
