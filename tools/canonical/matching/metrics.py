"""Ranking and calibration metrics, defined as in the schema-matching corpus MANIFEST.

- MRR: per gold source column, 1/rank of the first correct target in its ranking (0 if absent),
  averaged over gold source columns.
- top-1: share of gold source columns whose first-ranked target is correct.
- Recall@GT: the top-|GT| (source, target) pairs over all scored pairs, best first; the share
  of ground-truth pairs among them.
- ECE: expected calibration error with equal-width confidence bins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def mrr(rankings: Mapping[str, Sequence[str]], gold: Mapping[str, set[str]]) -> float:
    """Mean reciprocal rank over the gold source columns."""
    if not gold:
        return 0.0
    total = 0.0
    for source, targets in gold.items():
        for rank, target in enumerate(rankings.get(source, ()), start=1):
            if target in targets:
                total += 1.0 / rank
                break
    return total / len(gold)


def top_k_accuracy(
    rankings: Mapping[str, Sequence[str]], gold: Mapping[str, set[str]], k: int = 1
) -> float:
    """Share of gold source columns with a correct target among their first ``k``."""
    if not gold:
        return 0.0
    hits = sum(1 for s, t in gold.items() if set(list(rankings.get(s, ()))[:k]) & t)
    return hits / len(gold)


def recall_at_gt(
    ordered_pairs: Sequence[tuple[str, str]], gold_pairs: set[tuple[str, str]]
) -> float:
    """Recall of the gold pairs among the first |gold| of all pairs ranked by score."""
    if not gold_pairs:
        return 0.0
    top = set(ordered_pairs[: len(gold_pairs)])
    return len(top & gold_pairs) / len(gold_pairs)


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """|accuracy - mean confidence| per equal-width bin, weighted by the bin's share."""
    conf = np.asarray(confidences, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(hit[mask].mean() - conf[mask].mean())
    return float(ece)
