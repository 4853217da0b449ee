"""Deterministic injection of quality problems and their record-level log.

Each system draws, per chunk, at most one problem kind per record at :data:`PROBLEM_RATE` each.
``duplicate_id`` is special: the record is written twice, and the second copy (appended at the
end of the chunk's records) carries the problem; every other kind mutates the record in place.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

MISSING = "missing_mandatory"
INVALID_DATE = "invalid_date"
DUPLICATE = "duplicate_id"
ORPHAN_COVERAGE = "orphan_coverage"
ORPHAN_REFERENCE = "orphan_reference"
OUT_OF_RANGE_PREMIUM = "out_of_range_premium"
INCONSISTENT_CODE = "inconsistent_code"
KINDS = (
    MISSING,
    INVALID_DATE,
    DUPLICATE,
    ORPHAN_COVERAGE,
    ORPHAN_REFERENCE,
    OUT_OF_RANGE_PREMIUM,
    INCONSISTENT_CODE,
)
PROBLEM_RATE = 0.015


@dataclass(slots=True)
class RecordPlan:
    """Which subset row each output record comes from, and its problem kind (or None)."""

    rows: NDArray[np.int64]  # index into the system's subset, one per output record
    kind: NDArray[np.int64]  # index into the kinds given to plan_records, -1 for none
    kinds: tuple[str, ...]

    def mask(self, kind: str) -> NDArray[np.bool_]:
        """Output records carrying ``kind`` (all False if the system does not inject it)."""
        if kind not in self.kinds:
            return np.zeros(len(self.rows), dtype=bool)
        return self.kind == self.kinds.index(kind)

    def __len__(self) -> int:
        return len(self.rows)


def plan_records(rng: np.random.Generator, n: int, kinds: tuple[str, ...]) -> RecordPlan:
    """Draw problem kinds for ``n`` records and append the duplicate copies."""
    u = rng.random(n)
    kind = np.where(u < PROBLEM_RATE * len(kinds), (u / PROBLEM_RATE).astype(np.int64), -1)
    rows = np.arange(n, dtype=np.int64)
    if DUPLICATE in kinds:
        dup = kinds.index(DUPLICATE)
        dup_rows = np.nonzero(kind == dup)[0]
        kind = np.where(kind == dup, -1, kind)  # the original is clean, its copy is the problem
        rows = np.concatenate([rows, dup_rows])
        kind = np.concatenate([kind, np.full(len(dup_rows), dup, dtype=np.int64)])
    return RecordPlan(rows=rows, kind=kind, kinds=kinds)


CONFLICTS_FILE = "conflicts.jsonl"


class ProblemLog:
    """Streams ``problems.jsonl`` and counts problems per source and kind.

    Cross-system conflicts (two systems holding different values for the same canonical field of
    one policy) go to ``conflicts.jsonl`` beside it: they are not a defect of one record, so the
    per-record problem log and everything that counts it stay as they were.
    """

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="\n")
        self._conflicts: IO[str] = (path.parent / CONFLICTS_FILE).open(
            "w", encoding="utf-8", newline="\n"
        )
        self.counts: dict[str, Counter[str]] = {}
        self.conflicts: Counter[str] = Counter()
        # What was logged since the generator last took it (see take_chunk).
        self._chunk_records: set[tuple[str, int]] = set()
        self._chunk_conflicts: list[dict[str, object]] = []

    def add(
        self,
        source: str,
        record_indices: NDArray[np.int64],
        policy_ids: list[str],
        kind: str,
        field: str,
    ) -> None:
        """Log one kind of problem for the given records of a source."""
        lines = [
            json.dumps(
                {"source": source, "record_index": i, "policy_id": p, "kind": kind, "field": field},
                ensure_ascii=False,
            )
            for i, p in zip(record_indices.tolist(), policy_ids, strict=True)
        ]
        if lines:
            self._file.write("\n".join(lines) + "\n")
        self._chunk_records.update((source, i) for i in record_indices.tolist())
        self.counts.setdefault(source, Counter())[kind] += len(lines)

    def add_conflicts(self, rows: list[dict[str, object]]) -> None:
        """Log cross-system conflicts, one dict each (``source``, ``record_index``, ``policy_id``,
        ``field``, ``canonical``, ``value``, ``other_source``, ``other_value``)."""
        if rows:
            self._conflicts.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        for row in rows:
            self.conflicts[str(row["source"])] += 1
        self._chunk_conflicts.extend(rows)

    def take_chunk(self) -> tuple[set[tuple[str, int]], list[dict[str, object]]]:
        """(source, record index) of the problem records and the conflict rows logged since the
        last call (then forgotten)."""
        out = (self._chunk_records, self._chunk_conflicts)
        self._chunk_records, self._chunk_conflicts = set(), []
        return out

    def close(self) -> None:
        """Flush and close the logs."""
        self._file.close()
        self._conflicts.close()
