"""What every system writer provides: streamed files, source definitions and ground truth."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evals.estate.keys import keys
from evals.estate.problems import ORPHAN_REFERENCE, ProblemLog, RecordPlan, plan_records
from evals.estate.universe import HOME_SYSTEMS, PolicyChunk, orphan_numbers


@dataclass(slots=True)
class SourceDef:
    """One ingestible source: a file, or a sheet/table of one, with its ground truth."""

    name: str
    path: str  # relative to the estate directory
    format: str
    options: dict[str, Any]
    mapping: dict[str, str | None]  # every column a reader produces -> canonical path or None
    transforms: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: int = 0


@dataclass
class ChildRows:
    """The records of a child source (claims, letters, endorsements) for one chunk of policies."""

    plan: RecordPlan  # which records carry which injected problem
    rows: NDArray[np.int64]  # the chunk's policy index of each record
    seq: NDArray[np.int64]  # 1-based position of each record among its policy's records
    ids: list[str]  # the policy id each record references (orphans point at no policy)

    def __len__(self) -> int:
        return len(self.rows)


class SystemWriter(ABC):
    """Writes one legacy system chunk by chunk; subclasses define sources and encoding."""

    system: str
    format: str
    description: str

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / self.system
        self.dir.mkdir(parents=True, exist_ok=True)
        # The records of the assembled sources written since the generator last took them, as a
        # reader yields them: source -> (record index, column -> value). The generator joins
        # them per policy into the true documents after every chunk (evals/estate/policy_truth).
        self.captured: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.capturing = True  # off when the estate is generated without the policies' truth
        self.sources: dict[str, SourceDef] = {s.name: s for s in self.define_sources()}
        # (child source, home system) -> records referring to a policy of that home system
        self.links: Counter[tuple[str, str]] = Counter()

    @abstractmethod
    def define_sources(self) -> list[SourceDef]:
        """The sources of this system, with mapping and transforms (records start at 0)."""

    @abstractmethod
    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        """Encode and append this chunk's records."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Finish files (footers, summaries, indexes)."""

    def capture(self, source: str, first: int, columns: dict[str, list[Any]]) -> None:
        """Keep records of ``source`` numbered from ``first``, given column-wise."""
        if not self.capturing:
            return
        names = list(columns)
        self.captured.setdefault(source, []).extend(
            (first + i, dict(zip(names, row, strict=True)))
            for i, row in enumerate(zip(*columns.values(), strict=True))
        )

    def take_captured(self) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        """The records captured since the last call (then forgotten)."""
        out, self.captured = self.captured, {}
        return out

    def files(self) -> list[str]:
        """Files of the system, relative to the estate directory."""
        return sorted({s.path for s in self.sources.values()} | self.extra_files())

    def extra_files(self) -> set[str]:
        """Files that are not sources themselves (copybooks)."""
        return set()

    def log_problems(
        self,
        log: ProblemLog,
        source: str,
        plan: RecordPlan,
        ids: list[str],
        fields: dict[str, str],
    ) -> None:
        """Log each injected kind of ``plan`` (kind -> field) against the source's records.

        ``ids`` holds the policy id as written in each output record; must be called before the
        source's record count is advanced by this chunk.
        """
        base = self.sources[source].records
        for kind, fld in fields.items():
            idx = np.nonzero(plan.mask(kind))[0]
            log.add(source, base + idx, [ids[i] for i in idx.tolist()], kind, fld)

    def count_links(
        self, source: str, chunk: PolicyChunk, rows: NDArray[np.int64], orphan: NDArray[np.bool_]
    ) -> None:
        """Tally the records of ``source`` that refer to a real policy, by its home system."""
        homes = np.bincount(chunk.home[rows][~orphan], minlength=len(HOME_SYSTEMS))
        for home, count in zip(HOME_SYSTEMS, homes.tolist(), strict=True):
            self.links[(source, home)] += count

    def child_rows(
        self,
        chunk: PolicyChunk,
        counts: NDArray[np.int64],
        log: ProblemLog,
        *,
        source: str,
        kinds: tuple[str, ...],
        problem_fields: dict[str, str],
        key_format: str = "group",
    ) -> ChildRows:
        """Expand per-policy record counts into records, plan their injected problems (orphan
        references rewired to policies that do not exist) and log them. Policy keys are written
        in ``key_format`` (see :mod:`evals.estate.keys`)."""
        sub = np.repeat(np.arange(chunk.n), counts)
        seq = np.arange(len(sub)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        plan = plan_records(chunk.rng, len(sub), kinds)
        rows = sub[plan.rows]
        numbers = chunk.number[rows].copy()
        orphan = plan.mask(ORPHAN_REFERENCE)
        numbers[orphan] = orphan_numbers(numbers[orphan])
        ids = keys(key_format, numbers)
        self.log_problems(log, source, plan, ids, problem_fields)
        self.count_links(source, chunk, rows, orphan)
        return ChildRows(plan, rows, seq[plan.rows], ids)


def pick(values: list[str], index: NDArray[np.int64]) -> list[str]:
    """Values of a pool for an index array."""
    return [values[i] for i in index.tolist()]


def amount(cents: int, decimal: str = ".") -> str:
    """Cents as a plain decimal string with two places."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}{decimal}{frac:02d}"
