"""An assembly run's totals: batch outcomes added up, and the stage's side files (duplicates,
child records left out for invalid values, each source's records per policy) counted.

The side files grow with the estate (hundreds of thousands of child errors at 350,000
policies), so they are read in bounded batches and grouped by Arrow: the Python objects made
are one per reason group and source, never one per record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tools.assembly.contracts import (
    AssemblyRunResult,
    AssemblySpec,
    ComponentCompleteness,
    Reason,
)
from tools.assembly.stage import POS, ROW, Contributor

EXAMPLES = 5
MAX_REASONS = 50
READ_ROWS = 65_536
GROUP = ["source", "path", "kind"]


def reasons(errors: pa.Table, source: str = "") -> list[dict[str, Any]]:
    """Errors grouped by (source, path, kind): counts of records, the first message and up to
    :data:`EXAMPLES` example keys, most records first (at most :data:`MAX_REASONS`)."""
    if errors.num_rows == 0:
        return []
    key = "policy_id" if "policy_id" in errors.column_names else "key"
    names = (
        errors.column("source")
        if "source" in errors.column_names
        else pa.repeat(pa.scalar(source, pa.string()), errors.num_rows)
    )
    table = pa.table(
        {
            "source": names,
            "path": pc.replace_substring_regex(errors.column("path"), r"\[\d+\]", "[]"),
            "kind": errors.column("kind"),
            "message": errors.column("message"),
            "who": pc.cast(errors.column(key), pa.string()),
        }
    )
    grouped = table.group_by(GROUP, use_threads=False).aggregate(
        [("message", "first"), ([], "count_all")]
    )
    rows = sorted(grouped.to_pylist(), key=lambda r: (-r["count_all"], r["source"], r["path"]))[
        :MAX_REASONS
    ]
    who = table.filter(pc.and_(pc.is_valid(table["who"]), pc.not_equal(table["who"], "")))
    out = []
    for r in rows:
        mine = who.filter(
            pc.and_(
                pc.and_(pc.equal(who["source"], r["source"]), pc.equal(who["path"], r["path"])),
                pc.equal(who["kind"], r["kind"]),
            )
        )
        out.append(
            {
                "source": r["source"],
                "path": r["path"],
                "kind": r["kind"],
                "message": r["message_first"],
                "records": r["count_all"],
                "examples": pc.unique(mine["who"]).slice(0, EXAMPLES).to_pylist(),
            }
        )
    return out


def _merge(into: dict[tuple[str, str, str], dict[str, Any]], found: list[dict[str, Any]]) -> None:
    for r in found:
        held = into.setdefault(
            (r["source"], r["path"], r["kind"]), {**r, "records": 0, "examples": []}
        )
        held["records"] += r["records"]
        for example in r["examples"]:
            if len(held["examples"]) < EXAMPLES and example not in held["examples"]:
                held["examples"].append(example)


def _ranked(merged: dict[tuple[str, str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(merged.values(), key=lambda r: (-r["records"], r["source"], r["path"]))


def _batches(path: Path, columns: list[str] | None = None) -> Any:
    return pq.ParquetFile(path).iter_batches(batch_size=READ_ROWS, columns=columns)


def _source_counts(path: Path) -> dict[str, int]:
    """Rows per source of a stage side file."""
    counts: dict[str, int] = {}
    for batch in _batches(path, ["source"]):
        grouped = pa.table(batch).group_by("source").aggregate([([], "count_all")])
        for row in grouped.to_pylist():
            counts[row["source"]] = counts.get(row["source"], 0) + row["count_all"]
    return counts


def _held(path: Path) -> tuple[int, int]:
    """(policies, records) of a stage file (sorted by position): distinct positions, rows."""
    policies = records = 0
    last: int | None = None
    for batch in _batches(path, [POS]):
        pos = batch.column(0).to_numpy()
        if not len(pos):
            continue
        records += len(pos)
        policies += int(np.count_nonzero(pos[1:] != pos[:-1])) + int(pos[0] != last)
        last = int(pos[-1])
    return policies, records


def _child_errors(
    path: Path, stage: Path, parts: list[Contributor]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The reasons of the child errors of rows placed on this root's policies, and per source
    the records they leave out: a source shared by several roots (billing) is mapped whole,
    but only its rows of these policies count here."""
    placed = {
        c.name: np.sort(pq.read_table(stage / c.file, columns=[ROW]).column(ROW).to_numpy())
        for c in parts[1:]
    }
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    rows: dict[str, list[np.ndarray]] = {}
    for batch in _batches(path):
        errors = pa.table(batch)
        keep = []
        for name in pc.unique(errors["source"]).to_pylist():
            if name not in placed:
                continue
            mine = errors.filter(pc.equal(errors["source"], name))
            row = mine["row"].to_numpy()
            at = np.searchsorted(placed[name], row).clip(0, max(len(placed[name]) - 1, 0))
            hit = (placed[name][at] == row) if len(placed[name]) else np.zeros(len(row), bool)
            if hit.any():
                keep.append(mine.filter(pa.array(hit)))
                rows.setdefault(name, []).append(np.unique(row[hit]))
        if keep:
            _merge(merged, reasons(pa.concat_tables(keep)))
    left_out = {name: len(np.unique(np.concatenate(r))) for name, r in rows.items()}
    return _ranked(merged), left_out


class Totals:
    """Batch outcomes added up into the run's result."""

    def __init__(self, parts: list[Contributor]) -> None:
        self.parts = parts
        self.policies = self.valid = self.quarantined = self.partial = self.conflicts = 0
        self.reasons: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.arrived: dict[str, int] = {}

    def add(self, outcome: dict[str, Any]) -> None:
        for key in ("policies", "valid", "quarantined", "partial", "conflicts"):
            setattr(self, key, getattr(self, key) + int(outcome[key]))
        for name, count in outcome.get("arrived", {}).items():
            self.arrived[name] = self.arrived.get(name, 0) + int(count)
        _merge(self.reasons, outcome.get("reasons", []))

    def result(
        self,
        spec: AssemblySpec,
        summary: dict[str, Any],
        stage: Path,
        batches: int,
        resumed: int,
        folder: Path,
    ) -> AssemblyRunResult:
        dup_counts = _source_counts(stage / "duplicates.parquet")
        child_q = stage / "child_quarantine.parquet"
        partial_reasons, left_out = (
            _child_errors(child_q, stage, self.parts) if child_q.is_file() else ([], {})
        )
        components = []
        orphans = 0
        for c in self.parts:
            policies, records = _held(stage / c.file)
            rel = c.relationship
            orphan = rel.orphans if rel is not None and c.kind == "child" else 0
            orphans += orphan
            components.append(
                ComponentCompleteness(
                    source=c.name,
                    kind=c.kind,
                    fills=[*(f"{lp}[]" for lp in c.lists), *c.scalars],
                    policies_held=policies,
                    records_held=records,
                    records_arrived=self.valid if c.kind == "root" else self.arrived.get(c.name, 0),
                    duplicates=dup_counts.get(c.name, 0),
                    quarantined_records=left_out.get(c.name, 0),
                    unplaced=int(summary.get("unplaced", {}).get(c.name, 0)),
                    orphans=orphan,
                    orphan_sample=rel.orphan_sample
                    if rel is not None and c.kind == "child"
                    else [],
                )
            )
        ranked = sorted(self.reasons.values(), key=lambda r: (-r["records"], r["path"]))
        return AssemblyRunResult(
            assembly_id=spec.assembly_id,
            policies=self.policies,
            complete=self.valid - self.partial,
            partial=self.partial,
            quarantined=self.quarantined,
            orphans=orphans,
            conflicts=self.conflicts,
            duplicates=int(summary["duplicates"]),
            batches=batches,
            resumed_batches=resumed,
            output_dir=str(folder),
            components=components,
            quarantined_reasons=[Reason(**r) for r in ranked[:20]],
            partial_reasons=[Reason(**r) for r in partial_reasons[:20]],
        )
