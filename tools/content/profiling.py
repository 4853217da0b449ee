"""Profiling a staged source, and the profile as `data-mash profile` and the servers show it.

The profile is computed once at ingest from the staged Parquet (one streaming pass) and kept as
``profile.json`` beside the records; see docs/profiling.md for how each figure is defined.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.executors import Executor, LocalExecutor
from knowledge.embeddings.layout import layout_fingerprint
from knowledge.glossary import expand_name
from tools.content.contracts import SourceProfileReport
from tools.content.profile import SourceProfiler
from tools.content.sources import SourceInfo
from tools.content.staging import part_batches, staged_batches, staged_dataset

POLICY_WORDS = ("policy", "contract", "certificate")
ID_WORDS = ("number", "identifier", "reference", "id", "key")
FINGERPRINT_SAMPLE_ROWS = 2000


def _words(name: str) -> tuple[list[str], str]:

    return expand_name(name.rsplit(".", 1)[-1]).lower().split(), name.lower()


def _is_identifier(name: str) -> bool:
    words, raw = _words(name)
    return any(w in words for w in ID_WORDS) or raw.endswith(("no", "nbr", "num", "id"))


def _is_policy(name: str) -> bool:
    words, raw = _words(name)
    return any(w in words for w in POLICY_WORDS) or raw.rsplit(".", 1)[-1].startswith(
        ("contr", "pol")
    )


def guess_key_columns(names: Sequence[str], sample: pa.RecordBatch | None = None) -> list[str]:
    """The column that identifies a record, for naming failing rows in the profile.

    Only a guess for reporting (duplicate keys, invalid dates by key); nothing is dropped or
    merged on it. Candidates are identifier-like names (POL_NBR, PolicyNo, doc-id, CONTRNO);
    a policy id wins when it is nearly unique in the sample, else the first identifier that is
    (a policy reference in a table of claims or letters is a foreign key, not the key).
    """
    candidates = [n for n in names if "[]" not in n and _is_identifier(n)]
    # Sets and a position map, not list scans: a wide file has tens of thousands of columns.
    position = {name: i for i, name in enumerate(names)}
    in_sample = set(sample.schema.names) if sample is not None else set()

    def unique_share(name: str) -> float:
        if sample is None or name not in in_sample:
            return 1.0
        column = sample.column(name).drop_null()
        return len(pc.unique(column)) / len(column) if len(column) else 0.0

    # Business numbers before surrogate keys (policy_number before policy_key), top-level
    # columns before nested ones, then file order.
    ordered = sorted(candidates, key=lambda n: (not _is_business_number(n), "." in n, position[n]))
    for name in ordered:
        if _is_policy(name) and unique_share(name) >= KEY_UNIQUE_SHARE:
            return [name]
    for name in ordered:
        if unique_share(name) >= KEY_UNIQUE_SHARE:
            return [name]
    return []


# A key column is nearly unique: duplicates are exactly what the profile should then report.
KEY_UNIQUE_SHARE = 0.9
BUSINESS_WORDS = ("number", "reference")


def _is_business_number(name: str) -> bool:
    words, raw = _words(name)
    return any(w in words for w in BUSINESS_WORDS) or raw.endswith(("no", "nbr", "num"))


def profile_staged(
    records_dir: Path,
    key_columns: Sequence[str] | None = None,
    *,
    executor: Executor | None = None,
    task_rows: int = 0,
) -> dict[str, Any]:
    """Profile every staged record of a source, plus its layout fingerprint.

    The records are profiled by ranges of row groups (at least ``task_rows`` rows each,
    default TASK_ROWS) on ``executor`` (default: in this process); each task returns its
    range's profiler (bounded sketches: counters, HyperLogLog registers, Arrow arrays of at
    most the exact-distinct cap of values per column), and the driver merges them in row
    order, so every executor gives the same profile.
    """

    schema = staged_dataset(records_dir).schema
    names = schema.names
    sample = next(staged_batches(records_dir, batch_rows=FINGERPRINT_SAMPLE_ROWS), None)
    keys = list(key_columns) if key_columns is not None else guess_key_columns(names, sample)
    profiler = SourceProfiler(keys)
    task = ProfileRange(schema, keys)
    ranges = row_ranges(records_dir, task_rows or TASK_ROWS)
    for partial in (executor or LocalExecutor()).map(task, ranges):
        profiler.merge(partial)
    data = profiler.result().model_dump(mode="json")
    data["layout_fingerprint"] = _fingerprint(records_dir)
    return data


#: Rows per profiling task: whole row groups (an ingest writes up to 50,000 rows each) until
#: at least this many, about a second of profiling on a 20-column source.
TASK_ROWS = 50_000


def row_ranges(
    records_dir: Path, task_rows: int = TASK_ROWS
) -> Iterator[tuple[str, list[int], int]]:
    """The staged parts split into tasks: (part file, its row groups, first source row)."""
    first = 0
    for part in sorted(records_dir.glob("part-*.parquet")):
        meta = pq.ParquetFile(part).metadata
        groups: list[int] = []
        rows = 0
        for index in range(meta.num_row_groups):
            groups.append(index)
            rows += meta.row_group(index).num_rows
            if rows >= task_rows:
                yield str(part), groups, first
                first += rows
                groups, rows = [], 0
        if groups:
            yield str(part), groups, first
            first += rows


class ProfileRange:
    """The executor task of profiling: one range of row groups, profiled on its own."""

    def __init__(self, schema: pa.Schema, key_columns: list[str]) -> None:
        self.schema, self.key_columns = schema, key_columns

    def __call__(self, task: tuple[str, list[int], int]) -> SourceProfiler:
        path, groups, first_row = task
        profiler = SourceProfiler(self.key_columns, first_row=first_row)
        for batch in part_batches(Path(path), self.schema, row_groups=groups):
            profiler.update(batch)
        return profiler


def _fingerprint(records_dir: Path) -> str | None:

    first = next(staged_batches(records_dir, batch_rows=FINGERPRINT_SAMPLE_ROWS), None)
    if first is None:
        return None
    return layout_fingerprint({name: first.column(i) for i, name in enumerate(first.schema.names)})


def load_profile(info: SourceInfo) -> dict[str, Any]:
    """The profile of a source in the shape of the `profile` contract (computed if missing)."""
    path = info.profile_path
    if path.exists():
        data = json.loads(path.read_text())
    else:
        data = profile_staged(info.records_path)
        path.write_text(json.dumps(data, default=str, indent=1))
    issues = []
    duplicates = data.get("duplicate_keys")
    if duplicates and duplicates.get("count"):
        issues.append(
            {
                "kind": "duplicate_keys",
                "column": ",".join(data["key_columns"]),
                "count": duplicates["count"],
                "sample_keys": duplicates["sample_keys"],
            }
        )
    for column in data["columns"]:
        invalid = column.get("invalid_dates")
        if invalid and invalid.get("count"):
            issues.append(
                {
                    "kind": "invalid_dates",
                    "column": column["name"],
                    "count": invalid["count"],
                    "sample_keys": invalid["sample_keys"],
                }
            )
    return {"source_id": info.source_id, "name": info.name, **data, "issues": issues}


def read_profile(info: SourceInfo) -> SourceProfileReport:
    """The profile of a source as its contract model (computed if missing)."""
    return SourceProfileReport.model_validate(load_profile(info))
