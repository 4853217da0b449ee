"""Schema-matching scoring shared by our matcher and the baselines, so both are judged alike.

Definitions (docs/evals.md):

- per source column with a gold target set: a ranking (best first) and the proposal's confidence;
- top-k: a gold target among the first k; MRR: mean of 1 / rank of the first gold target;
- Recall@GT: the |GT| best (source, target) pairs over all scored pairs, share that are gold;
- auto-accepted: top proposal with confidence >= threshold; precision = right accepted /
  accepted, recall = right accepted / columns with a gold target, F1 their harmonic mean;
- calibration: proposals bucketed by confidence (0.1 wide); accuracy per bucket; ECE is the
  count-weighted mean |accuracy - mean confidence|.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from rapidfuzz import fuzz, process

BUCKETS = 10


@dataclass
class ColumnOutcome:
    """One source column: its gold targets, ranked candidates with scores, confidence."""

    column: str
    gold: set[str]
    ranked: list[tuple[str, float]] = field(default_factory=list)
    confidence: float = 0.0


def _words(name: str) -> str:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return " ".join(re.split(r"[^A-Za-z0-9]+", name.replace("[]", " "))).lower().strip()


def name_rank(
    sources: Sequence[str], targets: Sequence[str], *, leaf: bool = False, limit: int = 10
) -> dict[str, list[tuple[str, float]]]:
    """The plain name-similarity baseline: rapidfuzz token-set ratio of the names' words.

    Args:
        sources: source column names.
        targets: target names (canonical paths or target columns).
        leaf: compare with the last two path segments of a target only (canonical paths).
        limit: candidates kept per source.
    """

    def shown(t: str) -> str:
        return _words(" ".join(t.split(".")[-2:]) if leaf else t)

    choices = [shown(t) for t in targets]
    out = {}
    for s in sources:
        hits = process.extract(_words(s), choices, scorer=fuzz.token_set_ratio, limit=limit)
        out[s] = [(targets[j], score / 100.0) for _, score, j in hits]
    return out


def right(predicted: str, gold: set[str]) -> bool:
    """Gold ``L[]`` (a list component) accepts any field of list ``L``."""
    return any(predicted == g or (g.endswith("[]") and predicted.startswith(g + ".")) for g in gold)


def score(outcomes: list[ColumnOutcome], threshold: float) -> dict[str, float]:
    """Every metric of the module docstring over the outcomes (columns with a gold target)."""
    gold_rows = [o for o in outcomes if o.gold]
    n = len(gold_rows)
    accepted = [o for o in outcomes if o.ranked and o.confidence >= threshold]
    right_acc = sum(1 for o in accepted if o.gold and right(o.ranked[0][0], o.gold))
    precision = right_acc / len(accepted) if accepted else 0.0
    recall = right_acc / n if n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def rank_of(o: ColumnOutcome) -> int | None:
        return next((k for k, (t, _) in enumerate(o.ranked, 1) if right(t, o.gold)), None)

    ranks = [rank_of(o) for o in gold_rows]
    pairs = sorted(
        ((s, o.column, t, o.gold) for o in outcomes for t, s in o.ranked), key=lambda p: -p[0]
    )
    total_gold = sum(len(o.gold) for o in gold_rows)
    hits = sum(1 for _, _, t, g in pairs[:total_gold] if right(t, g))
    return {
        "columns": n,
        "accepted": len(accepted),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "top1": sum(1 for r in ranks if r == 1) / n if n else 0.0,
        "top3": sum(1 for r in ranks if r and r <= 3) / n if n else 0.0,
        "mrr": sum(1 / r for r in ranks if r) / n if n else 0.0,
        "recall_at_gt": hits / total_gold if total_gold else 0.0,
        "ece": ece(calibration(outcomes)),
    }


def calibration(outcomes: list[ColumnOutcome]) -> list[dict[str, Any]]:
    """Proposals per confidence bucket: count, accuracy and mean confidence."""
    buckets = [
        {"lo": b / BUCKETS, "hi": (b + 1) / BUCKETS, "count": 0, "right": 0, "conf": 0.0}
        for b in range(BUCKETS)
    ]
    for o in outcomes:
        if not o.ranked:
            continue
        b = buckets[min(int(o.confidence * BUCKETS), BUCKETS - 1)]
        b["count"] += 1
        b["right"] += bool(o.gold) and right(o.ranked[0][0], o.gold)
        b["conf"] += o.confidence
    return [
        {
            "lo": b["lo"],
            "hi": b["hi"],
            "count": b["count"],
            "accuracy": b["right"] / b["count"] if b["count"] else None,
            "mean_confidence": b["conf"] / b["count"] if b["count"] else None,
        }
        for b in buckets
    ]


def ece(buckets: list[dict[str, Any]]) -> float:
    """Expected calibration error from :func:`calibration` buckets."""
    total = sum(b["count"] for b in buckets)
    return (
        sum(
            b["count"] / total * abs(b["accuracy"] - b["mean_confidence"])
            for b in buckets
            if b["count"]
        )
        if total
        else 0.0
    )


def to_arrow(values: list[str | None]) -> pa.Array:
    """Text cells (``public_corpus.read_columns``) -> int64, float64 or string, as a CSV reader
    would infer them; a column without values stays string."""
    present = [v for v in values if v is not None]
    for caster in (int, float):
        try:
            converted = [None if v is None else caster(v) for v in values]
        except ValueError:
            continue
        if present:
            return pa.array(converted)
    return pa.array(values, type=pa.string())
