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

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def name_rank(sources: Sequence[str], targets: Sequence[str], *, leaf: bool = False,
              limit: int = 10) -> dict[str, list[tuple[str, float]]]:
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
    pairs = sorted(((s, o.column, t, o.gold) for o in outcomes for t, s in o.ranked),
                   key=lambda p: -p[0])
    total_gold = sum(len(o.gold) for o in gold_rows)
    hits = sum(1 for _, _, t, g in pairs[:total_gold] if right(t, g))
    return {
        "columns": n, "accepted": len(accepted),
        "precision": precision, "recall": recall, "f1": f1,
        "top1": sum(1 for r in ranks if r == 1) / n if n else 0.0,
        "top3": sum(1 for r in ranks if r and r <= 3) / n if n else 0.0,
        "mrr": sum(1 / r for r in ranks if r) / n if n else 0.0,
        "recall_at_gt": hits / total_gold if total_gold else 0.0,
        "ece": ece(calibration(outcomes)),
    }


def calibration(outcomes: list[ColumnOutcome]) -> list[dict[str, Any]]:
    """Proposals per confidence bucket: count, accuracy and mean confidence."""
    buckets = [{"lo": b / BUCKETS, "hi": (b + 1) / BUCKETS, "count": 0, "right": 0, "conf": 0.0}
               for b in range(BUCKETS)]
    for o in outcomes:
        if not o.ranked:
            continue
        b = buckets[min(int(o.confidence * BUCKETS), BUCKETS - 1)]
        b["count"] += 1
        b["right"] += bool(o.gold) and right(o.ranked[0][0], o.gold)
        b["conf"] += o.confidence
    return [{"lo": b["lo"], "hi": b["hi"], "count": b["count"],
             "accuracy": b["right"] / b["count"] if b["count"] else None,
             "mean_confidence": b["conf"] / b["count"] if b["count"] else None} for b in buckets]


def ece(buckets: list[dict[str, Any]]) -> float:
    """Expected calibration error from :func:`calibration` buckets."""
    total = sum(b["count"] for b in buckets)
    return sum(b["count"] / total * abs(b["accuracy"] - b["mean_confidence"])
               for b in buckets if b["count"]) if total else 0.0


# ----- the public corpus (read in place) -----


@dataclass(frozen=True)
class PublicCase:
    """One source -> target pair of a public benchmark with its gold correspondences."""

    benchmark: str
    family: str
    name: str
    source: Path
    target: Path
    gold: dict[str, set[str]]


def public_cases(root: Path) -> Iterator[PublicCase]:
    """GDC studies, then Valentine pairs (mimic_omop has no values: not run here)."""
    gdc = root / "gdc"
    if gdc.is_dir():
        for study in sorted(p for p in gdc.iterdir() if p.is_dir()):
            gold: dict[str, set[str]] = {}
            with (study / "groundtruth.csv").open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    gold.setdefault(row["source"], set()).add(row["target"])
            yield PublicCase("gdc", "gdc", study.name, study / "source.csv", gdc / "target.csv",
                             gold)
    val = root / "valentine_sampled"
    if val.is_dir():
        for family in sorted(p for p in val.iterdir() if p.is_dir()):
            for case in sorted(p for p in family.iterdir() if p.is_dir()):
                expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
                gold = {}
                for m in expected.get("mappings", []):
                    gold.setdefault(m["source"], set()).add(m["target"])
                yield PublicCase("valentine", family.name, case.name, case / "source.csv",
                                 case / "target.csv", gold)


def read_csv_columns(path: Path) -> dict[str, list[str | None]]:
    """A CSV as column -> text values (empty cells None; duplicate headers numbered)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        cols: list[list[str | None]] = [[] for _ in header]
        for row in reader:
            for k in range(len(header)):
                v = row[k] if k < len(row) else ""
                cols[k].append(v or None)
    out: dict[str, list[str | None]] = {}
    for name, values in zip(header, cols, strict=True):
        key, n = name, 1
        while key in out:
            n += 1
            key = f"{name}.{n}"
        out[key] = values
    return out
