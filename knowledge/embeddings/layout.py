"""Layouts from structural vectors: fingerprint, similarity between files, drift between waves."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias

import numpy as np
import pyarrow as pa

from knowledge.embeddings.structural import (
    BLOCKS,
    DATE_FORMATS,
    column_vector,
    null_rate,
    structural_distance,
    type_class,
)

ColumnValues: TypeAlias = pa.Array | pa.ChunkedArray
ColumnInput: TypeAlias = pa.Array | pa.ChunkedArray | np.ndarray

DRIFT_DISTANCE_THRESHOLD: Final = 0.05
"""A column drifted when its structural distance exceeds this. Two samples of the same column
measure about 0.01 apart; two different columns of one file at least 0.08."""
NULL_RATE_CHANGE_THRESHOLD: Final = 0.10
"""A column drifted when its null rate moves by more than this (absolute, 0.10 = 10 points)."""
PAIR_SIMILARITY_SCALE: Final = 0.2
"""Structural distance at which two columns count as unrelated (similarity 0) in layouts."""


@dataclass(frozen=True)
class ColumnDrift:
    """How one column changed between two loads."""

    name: str
    distance: float
    null_rate_before: float
    null_rate_after: float
    type_before: str
    type_after: str
    reasons: tuple[str, ...]

    @property
    def null_rate_change(self) -> float:
        return self.null_rate_after - self.null_rate_before

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class DriftReport:
    """Column-by-column drift between two loads of one source (say wave 1 and wave 2)."""

    columns: tuple[ColumnDrift, ...]
    new_columns: tuple[str, ...] = ()
    missing_columns: tuple[str, ...] = ()
    thresholds: dict[str, float] = field(
        default_factory=lambda: {
            "distance": DRIFT_DISTANCE_THRESHOLD,
            "null_rate_change": NULL_RATE_CHANGE_THRESHOLD,
        }
    )

    @property
    def drifted(self) -> bool:
        """True when any column drifted or the set of columns changed."""
        return bool(self.new_columns or self.missing_columns) or any(
            c.drifted for c in self.columns
        )

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.drifted)


def layout_fingerprint(columns: Mapping[str, ColumnValues]) -> str:
    """A stable hex id of a source's layout.

    Built from, per column in the given order: its name, Arrow type, and a coarse quantisation of
    its structural vector (type class, dominant date format, whether it holds numbers, whether
    it is mostly blank). Coarse on purpose: another file of the same layout with different data
    gets the same id; for a graded comparison use :func:`layout_similarity`.

    Args:
        columns: Column name to values, in the source's column order.

    Returns:
        32 lower-case hex digits (128 bits of a SHA-256).
    """
    signature = []
    for name, values in columns.items():
        vector = column_vector(values, name=name)
        dates = vector[BLOCKS["date"]]
        dominant_date = DATE_FORMATS[int(np.argmax(dates))][0] if dates.max() >= 0.5 else ""
        signature.append(
            [
                name,
                str(values.type),
                type_class(vector),
                dominant_date,
                bool(vector[BLOCKS["numeric"]][0] >= 0.5),
                bool(vector[BLOCKS["presence"]][1] >= 0.5),
            ]
        )
    canonical = json.dumps(signature, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def layout_similarity(a: Mapping[str, ColumnInput], b: Mapping[str, ColumnInput]) -> float:
    """How alike two layouts are, in [0, 1].

    Half from the column names (Jaccard overlap, case-insensitive), half from the columns'
    structure: columns are paired by name, the remaining ones by position, and each pair scores
    ``1 - distance / PAIR_SIMILARITY_SCALE`` (at least 0); the pair scores are summed and divided
    by the larger column count, so extra or missing columns lower the score.

    Args:
        a: Column name to values (Arrow) or to a precomputed :func:`column_vector`.
        b: The same for the other file.

    Returns:
        About 0.95-1.0 for the same layout with different data, well under 0.5 for unrelated ones.
    """
    if not a or not b:
        return 1.0 if not a and not b else 0.0
    left = {_key(k): _vector(k, v) for k, v in a.items()}
    right = {_key(k): _vector(k, v) for k, v in b.items()}
    shared = [k for k in left if k in right]
    name_score = len(shared) / len(set(left) | set(right))
    pairs = [(left[k], right[k]) for k in shared]
    rest_left = [v for k, v in left.items() if k not in right]
    rest_right = [v for k, v in right.items() if k not in left]
    pairs += list(zip(rest_left, rest_right, strict=False))
    pair_scores = [
        max(0.0, 1.0 - structural_distance(x, y) / PAIR_SIMILARITY_SCALE) for x, y in pairs
    ]
    structure_score = sum(pair_scores) / max(len(left), len(right))
    return round(0.5 * name_score + 0.5 * structure_score, 6)


def drift(before: Mapping[str, ColumnInput], after: Mapping[str, ColumnInput]) -> DriftReport:
    """Compare two loads of the same source column by column.

    A column is flagged when its structural distance exceeds :data:`DRIFT_DISTANCE_THRESHOLD`,
    its null rate moves by more than :data:`NULL_RATE_CHANGE_THRESHOLD`, or its type class
    changes. New and missing columns are listed and also make the report ``drifted``.

    Args:
        before: Column name to values (or structural vectors) of the earlier load.
        after: The same for the later load.

    Returns:
        A :class:`DriftReport`, columns in ``before``'s order.
    """
    reports = []
    for name, old_values in before.items():
        if name not in after:
            continue
        old, new = _vector(name, old_values), _vector(name, after[name])
        distance = structural_distance(old, new)
        old_nulls, new_nulls = null_rate(old), null_rate(new)
        reasons = []
        if type_class(old) != type_class(new):
            reasons.append(f"type {type_class(old)} -> {type_class(new)}")
        if distance > DRIFT_DISTANCE_THRESHOLD:
            reasons.append(f"structure distance {distance:.3f} > {DRIFT_DISTANCE_THRESHOLD}")
        if abs(new_nulls - old_nulls) > NULL_RATE_CHANGE_THRESHOLD:
            reasons.append(f"null rate {old_nulls:.1%} -> {new_nulls:.1%}")
        reports.append(
            ColumnDrift(
                name=name,
                distance=round(distance, 6),
                null_rate_before=old_nulls,
                null_rate_after=new_nulls,
                type_before=type_class(old),
                type_after=type_class(new),
                reasons=tuple(reasons),
            )
        )
    return DriftReport(
        columns=tuple(reports),
        new_columns=tuple(k for k in after if k not in before),
        missing_columns=tuple(k for k in before if k not in after),
    )


def _key(name: str) -> str:
    return name.strip().upper()


def _vector(name: str, values: ColumnInput) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    return column_vector(values, name=name)
