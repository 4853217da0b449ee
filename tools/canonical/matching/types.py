"""Result types of the schema matcher (plain dataclasses, JSON-friendly via ``to_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Candidate:
    """One ranked target for a source column, with the evidence behind it."""

    target: str
    """Target column name (generic mode) or canonical path (``coverage_sections[].limits.x``)."""
    score: float
    """Combined raw similarity in [0, 1] (before calibration)."""
    confidence: float
    """Calibrated probability that this target is right, in [0, 1] (= score in generic mode)."""
    signals: dict[str, float]
    """Per-signal scores in [0, 1] that went into ``score`` (name, semantic, values, ...)."""
    agreed: tuple[str, ...] = ()
    """Signals that support this candidate (score >= 0.6)."""
    assigned: bool = False
    """True when the one-to-one assignment gave this target to the column."""


@dataclass
class ColumnMatch:
    """The ranked candidates of one source column."""

    column: str
    candidates: list[Candidate]
    """Best first, at most ``top_k``; the assigned target (if any) is first."""
    sample_values: list[str] = field(default_factory=list)
    unmapped_reason: str | None = None
    """Why the column has no proposed target; None when ``candidates[0]`` is proposed."""
    reranked_by: str | None = None
    """Model name when an LLM re-ranked this column."""

    @property
    def best(self) -> Candidate | None:
        """The proposed target, or None when the column is unmapped."""
        if self.unmapped_reason is not None or not self.candidates:
            return None
        return self.candidates[0]


@dataclass
class MatchResult:
    """Ranked canonical candidates for every column of one source."""

    source_name: str | None
    canonical: str
    columns: list[ColumnMatch]
    threshold: float
    """Confidence at or above which a proposal is auto-accepted."""
    calibration: str
    """Which calibration produced the confidences (``semantic`` / ``lexical`` / ``none``)."""
    keyless: bool = False
    """No column is a key (policy, party, agent or record id): the rows cannot be joined to
    policies, so confidences were scaled down (``canonical.KEYLESS``)."""
    note: str | None = None
    """A warning about the source as a whole (why it is keyless), for the reviewer."""

    def column(self, name: str) -> ColumnMatch:
        """The match of one source column (KeyError if absent)."""
        for match in self.columns:
            if match.column == name:
                return match
        raise KeyError(name)

    @property
    def accepted(self) -> dict[str, str]:
        """Source column -> target for proposals at or above ``threshold``."""
        out: dict[str, str] = {}
        for match in self.columns:
            best = match.best
            if best is not None and best.confidence >= self.threshold:
                out[match.column] = best.target
        return out

    @property
    def unmapped(self) -> dict[str, str]:
        """Source column -> reason, for columns with no proposed target."""
        return {m.column: m.unmapped_reason for m in self.columns if m.unmapped_reason}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``mappings`` with source/target/confidence/evidence, ``unmapped``)."""
        return {
            "source_name": self.source_name,
            "canonical": self.canonical,
            "threshold": self.threshold,
            "calibration": self.calibration,
            "keyless": self.keyless,
            "note": self.note,
            "mappings": [
                {
                    "source": m.column,
                    "target": m.best.target if m.best else None,
                    "confidence": m.best.confidence if m.best else 0.0,
                    "evidence": {
                        "candidates": [asdict(c) for c in m.candidates],
                        "sample_values": m.sample_values,
                        "reranked_by": m.reranked_by,
                    },
                }
                for m in self.columns
            ],
            "unmapped": self.unmapped,
        }


@dataclass
class RankResult:
    """Generic mode: ranked targets per source column plus the full score matrix."""

    sources: list[str]
    targets: list[str]
    scores: Any
    """numpy (len(sources), len(targets)) combined scores."""
    assigned: dict[str, str]
    """Source -> target of the one-to-one assignment."""
    signals: dict[str, Any]
    """Signal name -> numpy matrix (NaN where the signal does not apply)."""
    rankings: dict[str, list[Candidate]]
    """Source -> candidates, assigned target first, then by score."""

    def ordered_pairs(self) -> list[tuple[str, str, float]]:
        """Every (source, target, score), best first: assigned pairs ahead of the rest."""
        rows = []
        assigned = set(self.assigned.items())
        for i, s in enumerate(self.sources):
            for j, t in enumerate(self.targets):
                score = float(self.scores[i, j])
                rows.append((1 if (s, t) in assigned else 0, score, s, t))
        rows.sort(key=lambda r: (-r[0], -r[1], r[2], r[3]))
        return [(s, t, score) for _, score, s, t in rows]


def full_ranking(result: RankResult, source: str) -> list[str]:
    """Every target for ``source``: the assigned one first, then by descending score."""

    i = result.sources.index(source)
    order = [result.targets[int(j)] for j in np.argsort(-result.scores[i], kind="stable")]
    first = result.assigned.get(source)
    if first is not None:
        order = [first] + [t for t in order if t != first]
    return order
