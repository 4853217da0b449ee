"""Reconcile canonical source records with what a migration target reads back.

Four checks, all streamed batch by batch:

1. record counts (and policy ids that occur twice, or not at all);
2. control totals - premium, coverage limits, outstanding balance - summed exactly (Decimal) per
   line of business (`policy_core.policy_type`) and state;
3. a sha256 (first 16 bytes) of a normalised projection of every policy: every canonical column in
   sorted name order, strings NFC-normalised and trimmed with "" read as null, decimals at the
   canonical scale, dates ISO, list items normalised the same way and sorted (item order carries no
   meaning, and null and empty lists are the same). Hashes are joined on policy id to name the
   policies missing in the target, unexpected in it, or different;
4. per list component (:mod:`tools.waves.reconcile_components`): item (child row) counts per
   policy and in all, a hash per policy and component, exact totals of every decimal item leaf,
   differences narrowed to policy id, component and item field.

Memory does not grow with the number of policies: per policy, the id, the 16-byte row hash and
each component's item count and hash are spilled to Arrow files, and a 2-byte checksum per column
(which narrows a differing policy to its fields) to numpy files. The comparison regroups the
spilled keys by a hash of the policy id into buckets of about BUCKET_ROWS policies and compares
one bucket of both sides at a time; samples keep only the smallest ids. The result is the same as
comparing everything at once.
"""

from __future__ import annotations

import bisect
import hashlib
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from core.errors import InputError
from core.executors import Executor, LocalExecutor
from knowledge.canonical import arrow_schema
from tools.waves.reconcile_components import (
    ComponentComparison,
    ComponentDifference,
    ComponentSide,
    ComponentTally,
    count_key,
    hash_key,
    list_norm,
    scalar_norm,
)
from tools.waves.targets.base import POLICY_ID
from tools.waves.targets.codec import cast_to_schema

DEFAULT_GROUP_BY = ("policy_core.policy_type", "policy_core.insured_party.address.state")
DEFAULT_TOTALS = (
    "rating_components.premium_amount",
    "coverage_sections[].limits.per_occurrence",
    "coverage_sections[].limits.aggregate",
    "payments.payment_history[].amount",
    "payments.outstanding_balance",
)
NULL = "\x00"  # stands for a null value inside the projection
ZERO = Decimal("0")
SLICE_ROWS = 10_000
#: Policies per side compared at once: the comparison's memory is bounded by this, not the wave.
BUCKET_ROWS = 50_000
MAX_BUCKETS = 512  # open bucket files per side while regrouping


class TotalComparison(BaseModel):
    """One control total on both sides."""

    source: Decimal
    target: Decimal
    matches: bool


class GroupComparison(BaseModel):
    """Counts and control totals of one group (line of business x state) on both sides."""

    group: dict[str, str | None]
    source_count: int
    target_count: int
    totals: dict[str, TotalComparison]
    matches: bool


class ContentMismatch(BaseModel):
    """A policy present on both sides whose content differs, and the fields that differ."""

    policy_id: str
    fields: list[str]
    components: list[ComponentDifference] = Field(
        default_factory=list, description="Its list components that differ, narrowed to fields."
    )


class ReconciliationReport(BaseModel):
    """Outcome of :func:`reconcile`; `passed` only when every check agrees exactly."""

    passed: bool
    source_count: int
    target_count: int
    matched: int
    missing_in_target: int
    unexpected_in_target: int
    different: int
    duplicates_in_source: int
    duplicates_in_target: int
    rows_without_id: int
    missing_sample: list[str] = Field(default_factory=list)
    unexpected_sample: list[str] = Field(default_factory=list)
    different_sample: list[ContentMismatch] = Field(default_factory=list)
    totals: dict[str, TotalComparison]
    group_by: list[str]
    groups_compared: int
    mismatched_groups: list[GroupComparison] = Field(default_factory=list)
    components: list[ComponentComparison] = Field(
        default_factory=list, description="Per list component: child counts, hashes, totals."
    )
    component_sample: list[ComponentDifference] = Field(
        default_factory=list, description="Differing (policy, component) pairs, with fields."
    )


def _string_norm(values: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(values, form="NFC"))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _checksums(values: pa.Array) -> np.ndarray:
    """A position-weighted 16-bit checksum of each (non-null) string, computed with numpy.

    sum(byte * (position in string + 1)) comes from two prefix sums over the whole buffer:
    sum(b*i) - start*sum(b) over each string's byte range, so no per-byte index is materialised.
    """
    if not isinstance(values, pa.LargeStringArray):
        values = pc.cast(values, pa.large_string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].astype(
        np.int64
    )
    offsets = offsets - offsets[0]
    plain = np.concatenate([[0], np.cumsum(data)])
    weighted = np.concatenate([[0], np.cumsum(data * np.arange(1, len(data) + 1))])
    starts, ends = offsets[:-1], offsets[1:]
    sums = (weighted[ends] - weighted[starts]) - starts * (plain[ends] - plain[starts])
    return ((sums + (ends - starts) * 7919) % 65521).astype(np.uint16)


@dataclass
class SliceDigest:
    """What one slice of canonical records contributes to a side (computed by a task)."""

    without_id: int
    keys: pa.Table | None = None  # id, row hash, per component item count and hash
    checks: np.ndarray | None = None  # per-column checksums, rows x columns
    leaves: np.ndarray | None = None  # per component item leaf checksums
    component_totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    groups: dict[tuple[str | None, ...], list[Decimal | int]] = field(default_factory=dict)


class DigestSlice:
    """The executor task of reconciliation: hash, checksum and total one slice (pure).

    Picklable (it holds names only); slices are at most SLICE_ROWS policies.
    """

    def __init__(self, version: str, group_by: Sequence[str], totals: Sequence[str]) -> None:
        self.version, self.group_by, self.totals = version, list(group_by), list(totals)

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> SliceDigest:
        schema = arrow_schema(self.version)
        table = cast_to_schema(
            batch,
            schema,
            where="reconciliation input",
            fix="pass canonical record batches (arrow_schema)",
        )
        has_id = pc.is_valid(table.column(POLICY_ID))
        without_id = table.num_rows - int(pc.sum(has_id.cast(pa.int64())).as_py() or 0)
        table = table.filter(has_id)
        if table.num_rows == 0:
            return SliceDigest(without_id)
        columns = sorted(schema.names)
        normalised = []
        lists = {}
        for name in columns:
            column = table.column(name).combine_chunks()
            if pa.types.is_list(column.type):
                lists[name] = list_norm(column)
                norm = lists[name][0]
            else:
                norm = scalar_norm(column)
            normalised.append(pc.fill_null(norm, NULL))
        component_keys, leaves, component_totals = ComponentSide(schema, None).digest(
            table, lists, _checksums
        )
        rows = pc.binary_join_element_wise(*normalised, "\x1f").cast(pa.binary())
        digests = bytearray()
        for value in rows.to_pylist():
            digests += hashlib.sha256(value).digest()[:16]
        blank = np.full(table.num_rows, _checksums(pa.array([NULL]))[0], dtype=np.uint16)
        checks = np.column_stack(
            [
                blank if table.column(name).null_count == table.num_rows else _checksums(norm)
                for name, norm in zip(columns, normalised, strict=True)
            ]
        )
        keys = pa.table(
            {
                "id": table.column(POLICY_ID).combine_chunks().cast(pa.string()),
                "hash": pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(16), table.num_rows, [None, pa.py_buffer(bytes(digests))]
                ),
                **component_keys,
            }
        )
        return SliceDigest(
            without_id, keys, checks, leaves, component_totals, self._group_totals(table)
        )

    def _group_totals(self, table: pa.Table) -> dict[tuple[str | None, ...], list[Decimal | int]]:
        keys = [
            _string_norm(table.column(g).combine_chunks().cast(pa.string())) for g in self.group_by
        ]
        names = [f"k{i}" for i in range(len(keys))]
        groups: dict[tuple[str | None, ...], list[Decimal | int]] = {}

        def slot(key: tuple[str | None, ...]) -> list[Decimal | int]:
            return groups.setdefault(key, [0] + [ZERO] * len(self.totals))

        counts = pa.table(dict(zip(names, keys, strict=True)))
        for row in counts.group_by(names).aggregate([([], "count_all")]).to_pylist():
            slot(tuple(row[n] for n in names))[0] += row["count_all"]
        for index, path in enumerate(self.totals, start=1):
            if "[]." in path:
                list_path, member = path.split("[].", 1)
                column = table.column(list_path).combine_chunks()
                values = pc.struct_field(
                    pc.list_flatten(column), [column.type.value_type.get_field_index(member)]
                )
                parents = pc.list_parent_indices(column)
                group_keys = [k.take(parents) for k in keys]
            else:
                values, group_keys = table.column(path).combine_chunks(), keys
            sums = (
                pa.table(dict(zip(names, group_keys, strict=True)) | {"v": values})
                .group_by(names)
                .aggregate([("v", "sum")])
            )
            for row in sums.to_pylist():
                slot(tuple(row[n] for n in names))[index] += row["v_sum"] or ZERO
        return groups


def _slices(batches: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[pa.RecordBatch | pa.Table]:
    """The batches cut into slices of at most SLICE_ROWS (bounds a task's temporaries)."""
    for batch in batches:
        for start in range(0, batch.num_rows, SLICE_ROWS):
            yield batch.slice(start, SLICE_ROWS)


class _Side:
    """Per-group totals of one side, and its per-policy keys spilled to disk batch by batch.

    Each slice's keys (policy id, row number, row hash, per component item count and hash) go
    to one Arrow file; :meth:`partition` later regroups them into buckets of policy ids, so the
    comparison holds one bucket of both sides at a time, never every policy of the wave.
    """

    def __init__(
        self, schema: pa.Schema, group_by: Sequence[str], totals: Sequence[str], spill: Path
    ) -> None:
        self.schema = schema
        self.columns = sorted(schema.names)
        self.group_by, self.totals = list(group_by), list(totals)
        self.spill = spill
        self.key_files: list[Path] = []
        # Per-column checksums are only read for the few policies narrowed to their fields, so
        # each slice's matrix goes to a file instead of staying in memory (it is rows x columns).
        self.check_files: list[tuple[int, Path]] = []  # (first policy index, file)
        self.count = 0
        self.parts = ComponentSide(schema, spill)
        self.groups: dict[tuple[str | None, ...], list[Decimal | int]] = {}
        self.without_id = 0

    def absorb(self, digest: SliceDigest) -> None:
        """Add one slice's digest: spill its keys and checksums, add its group totals."""
        self.without_id += digest.without_id
        if digest.keys is None or digest.checks is None:
            return
        rows = digest.keys.num_rows
        path = self.spill / f"checks-{len(self.check_files):06d}.npy"
        np.save(path, digest.checks)
        self.check_files.append((self.count, path))
        self.parts.absorb(digest.leaves, digest.component_totals, self.count)
        keys = digest.keys.add_column(
            1, "row", pa.array(np.arange(self.count, self.count + rows), pa.int64())
        )
        key_path = self.spill / f"keys-{len(self.key_files):06d}.arrow"
        with pa.OSFile(str(key_path), "wb") as sink, pa.ipc.new_file(sink, keys.schema) as out:
            out.write_table(keys)
        self.key_files.append(key_path)
        self.count += rows
        for key, values in digest.groups.items():
            slot = self._slot(key)
            for index, value in enumerate(values):
                slot[index] += value

    def partition(self, buckets: int) -> list[Path]:
        """Regroup the spilled keys into ``buckets`` files by policy id; one read of each file.

        Every occurrence of an id lands in the same bucket, in the order it was added.
        """
        paths = [self.spill / f"bucket-{b:04d}.arrow" for b in range(buckets)]
        if buckets == 1:
            return self.key_files
        writers: list[Any] = []
        try:
            for key_path in self.key_files:
                keys = _read_keys(key_path)
                if not writers:
                    writers = [pa.ipc.new_file(str(p), keys.schema) for p in paths]
                slot = _bucket_of(keys.column("id"), buckets)
                for b, writer in enumerate(writers):
                    part = keys.filter(pa.array(slot == b))
                    if part.num_rows:
                        writer.write_table(part)
        finally:
            for writer in writers:
                writer.close()
        return paths if writers else []

    def _slot(self, key: tuple[str | None, ...]) -> list[Decimal | int]:
        if key not in self.groups:
            self.groups[key] = [0] + [ZERO] * len(self.totals)
        return self.groups[key]

    def key_schema(self) -> pa.Schema:
        fields = [
            pa.field("id", pa.string()),
            pa.field("row", pa.int64()),
            pa.field("hash", pa.binary(16)),
        ]
        for path in self.parts.paths:
            fields += [pa.field(count_key(path), pa.int32()), pa.field(hash_key(path), pa.uint64())]
        return pa.schema(fields)

    def check_row(self, index: int) -> np.ndarray:
        """The per-column checksums of the policy at ``index`` (read from its slice's file)."""
        starts = [start for start, _ in self.check_files]
        slot = bisect.bisect_right(starts, index) - 1
        start, path = self.check_files[slot]
        return np.array(np.load(path, mmap_mode="r")[index - start])


def _read_keys(path: Path) -> pa.Table:
    with pa.OSFile(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def _bucket_of(ids: pa.ChunkedArray | pa.Array, buckets: int) -> np.ndarray:
    """A bucket number per policy id, the same on both sides (a checksum of its bytes)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    return _checksums(ids).astype(np.int64) % buckets


def _load_bucket(paths: Sequence[Path], schema: pa.Schema) -> pa.Table:
    tables = [_read_keys(p) for p in paths if p.exists()]
    return pa.concat_tables(tables).combine_chunks() if tables else schema.empty_table()


def reconcile(
    source_batches: Iterable[pa.RecordBatch | pa.Table],
    target_batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
    totals: Sequence[str] = DEFAULT_TOTALS,
    version: str = "policy_v1",
    sample_size: int = 20,
    detail_size: int = 5,
    executor: Executor | None = None,
) -> ReconciliationReport:
    """Compare canonical source records with a target's read-back.

    Args:
        source_batches: canonical record batches that were migrated.
        target_batches: what the target holds (e.g. ``target.read_back(wave_id)``).
        group_by: canonical scalar columns grouping the control totals.
        totals: decimal columns to total; ``list[].member`` sums over list items.
        version: canonical version of both sides.
        sample_size: how many policy ids to name per kind of mismatch.
        detail_size: how many differing policies to narrow to their fields.
        executor: where the slices are hashed (default: in this process); the comparison
            itself runs here.

    Returns:
        The report; ``passed`` is True only if counts, totals and every policy hash agree.

    Raises:
        InputError: a batch lacks the policy id, or a group/total column is not canonical.
    """
    schema = arrow_schema(version)
    _check_paths(schema, group_by, totals)
    with tempfile.TemporaryDirectory(prefix="dm-reconcile-") as spill:
        source = _Side(schema, group_by, totals, Path(spill) / "s")
        target = _Side(schema, group_by, totals, Path(spill) / "t")
        source.spill.mkdir()
        target.spill.mkdir()
        executor = executor or LocalExecutor()
        task = DigestSlice(version, group_by, totals)
        for side, batches in ((source, source_batches), (target, target_batches)):
            for digest in executor.map(task, _slices(batches)):
                side.absorb(digest)
        return _report(source, target, sample_size=sample_size, detail_size=detail_size)


def _report(
    source: _Side, target: _Side, *, sample_size: int, detail_size: int
) -> ReconciliationReport:
    # Compared bucket by bucket (policy ids hashed into buckets of about BUCKET_ROWS), matching
    # by id lookup and comparing hashes in numpy: memory holds one bucket of both sides, so it
    # does not grow with the wave, and the figures are those of one comparison of everything.
    buckets = max(1, min(MAX_BUCKETS, -(-max(source.count, target.count) // BUCKET_ROWS)))
    src_paths, tgt_paths = source.partition(buckets), target.partition(buckets)
    schema = source.key_schema()
    tally = _Tally(sample_size, detail_size)
    parts = ComponentTally(source.parts, target.parts, sample_size)
    for b in range(buckets):
        src = _load_bucket(src_paths if buckets == 1 else src_paths[b : b + 1], schema)
        tgt = _load_bucket(tgt_paths if buckets == 1 else tgt_paths[b : b + 1], schema)
        tally.add(src, tgt, parts)
    detail = []
    for policy_id, s_row, t_row in tally.differing:
        changed = np.flatnonzero(source.check_row(s_row) != target.check_row(t_row))
        fields = [source.columns[c] for c in changed] or ["(fields not isolated)"]
        detail.append(ContentMismatch(policy_id=policy_id, fields=fields))
    components, component_sample = parts.result()
    for mismatch in detail:
        mismatch.components = [c for c in component_sample if c.policy_id == mismatch.policy_id]
    group_report, overall = _compare_groups(source, target)
    report = ReconciliationReport(
        passed=False,
        source_count=tally.source_count,
        target_count=tally.target_count,
        matched=tally.matched,
        missing_in_target=tally.missing,
        unexpected_in_target=tally.unexpected,
        different=tally.different,
        duplicates_in_source=tally.duplicates_in_source,
        duplicates_in_target=tally.duplicates_in_target,
        rows_without_id=source.without_id + target.without_id,
        missing_sample=tally.missing_sample,
        unexpected_sample=tally.unexpected_sample,
        different_sample=detail,
        totals=overall,
        group_by=list(source.group_by),
        groups_compared=len(group_report),
        mismatched_groups=[g for g in group_report if not g.matches],
        components=components,
        component_sample=component_sample,
    )
    report.passed = (
        report.source_count == report.target_count
        and not report.missing_in_target
        and not report.unexpected_in_target
        and not report.different
        and not report.duplicates_in_source
        and not report.duplicates_in_target
        and not report.rows_without_id
        and not report.mismatched_groups
        and all(t.matches for t in overall.values())
        and all(c.matches for c in components)
    )
    return report


@dataclass
class _Tally:
    """Whole-policy figures accumulated over buckets; samples keep only the smallest ids."""

    sample_size: int
    detail_size: int
    source_count: int = 0
    target_count: int = 0
    matched: int = 0
    missing: int = 0
    unexpected: int = 0
    different: int = 0
    duplicates_in_source: int = 0
    duplicates_in_target: int = 0
    missing_sample: list[str] = field(default_factory=list)
    unexpected_sample: list[str] = field(default_factory=list)
    differing: list[tuple[str, int, int]] = field(default_factory=list)

    def add(self, src: pa.Table, tgt: pa.Table, parts: ComponentTally) -> None:
        src_ids, tgt_ids = src.column("id").combine_chunks(), tgt.column("id").combine_chunks()
        src_hash = _hash_matrix(src.column("hash"))
        tgt_hash = _hash_matrix(tgt.column("hash"))
        where = pc.index_in(tgt_ids, value_set=src_ids)  # target row -> source row (first match)
        found = pc.is_valid(where).to_numpy(zero_copy_only=False)
        positions = pc.fill_null(where, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        seen = np.zeros(len(src_ids), dtype=bool)
        seen[positions[found]] = True
        tgt_rows = np.flatnonzero(found)
        src_rows = positions[found]
        differ = (src_hash[src_rows] != tgt_hash[tgt_rows]).any(axis=1)
        s_global = src.column("row").to_numpy()
        t_global = tgt.column("row").to_numpy()
        differing = zip(
            tgt_ids.take(pa.array(tgt_rows[differ])).to_pylist(),
            s_global[src_rows[differ]].tolist(),
            t_global[tgt_rows[differ]].tolist(),
            strict=True,
        )
        self.differing = sorted([*self.differing, *differing])[: self.detail_size]
        missing_ids = src_ids.filter(pa.array(~seen))
        unexpected_ids = tgt_ids.filter(pa.array(~found))
        self.source_count += len(src_ids)
        self.target_count += len(tgt_ids)
        self.matched += len(tgt_rows) - int(differ.sum())
        self.different += int(differ.sum())
        self.missing += len(missing_ids)
        self.unexpected += len(unexpected_ids)
        self.duplicates_in_source += len(src_ids) - _distinct(src_ids)
        self.duplicates_in_target += len(tgt_ids) - _distinct(tgt_ids)
        self.missing_sample = _smallest(self.missing_sample, missing_ids, self.sample_size)
        self.unexpected_sample = _smallest(self.unexpected_sample, unexpected_ids, self.sample_size)
        parts.add(src, tgt, src_rows, tgt_rows, tgt_ids.take(pa.array(tgt_rows)))


def _smallest(kept: list[str], ids: pa.Array, size: int) -> list[str]:
    """The ``size`` smallest of ``kept`` and ``ids`` (both sides of a bucket merge)."""
    return sorted([*kept, *_sample(ids, size)])[:size]


def _hash_matrix(hashes: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(policies, 16) uint8: fixed-size binary row hashes as a matrix (no copy per row)."""
    if isinstance(hashes, pa.ChunkedArray):
        hashes = hashes.combine_chunks()
    data = np.frombuffer(hashes.buffers()[1], dtype=np.uint8)
    return data[hashes.offset * 16 : (hashes.offset + len(hashes)) * 16].reshape(-1, 16)


def _distinct(ids: pa.Array) -> int:
    return int(pc.count_distinct(ids).as_py()) if len(ids) else 0


def _sample(ids: pa.Array, size: int) -> list[str]:
    return pc.take(ids, pc.sort_indices(ids)).slice(0, size).to_pylist()


def _check_paths(schema: pa.Schema, group_by: Sequence[str], totals: Sequence[str]) -> None:
    for path in group_by:
        if path not in schema.names or pa.types.is_list(schema.field(path).type):
            raise InputError(
                f"{path!r} is not a canonical scalar column",
                where="group_by",
                fix="group by scalar leaves such as policy_core.policy_type",
            )
    for path in totals:
        list_path, _, member = path.partition("[].")
        field = schema.field(list_path) if list_path in schema.names else None
        if member and field is not None and pa.types.is_list(field.type):
            field = next((f for f in field.type.value_type if f.name == member), None)
        if field is None or not pa.types.is_decimal(field.type):
            raise InputError(
                f"{path!r} is not a canonical decimal column",
                where="totals",
                fix="use e.g. rating_components.premium_amount or "
                "coverage_sections[].limits.per_occurrence",
            )


def _compare_groups(
    source: _Side, target: _Side
) -> tuple[list[GroupComparison], dict[str, TotalComparison]]:
    empty = [0] + [ZERO] * len(source.totals)
    groups, overall_s, overall_t = [], [ZERO] * len(source.totals), [ZERO] * len(source.totals)
    for key in sorted(
        set(source.groups) | set(target.groups),
        key=lambda k: tuple((v is None, v or "") for v in k),
    ):
        s, t = source.groups.get(key, empty), target.groups.get(key, empty)
        totals = {}
        for index, path in enumerate(source.totals, start=1):
            a, b = Decimal(s[index]), Decimal(t[index])
            totals[path] = TotalComparison(source=a, target=b, matches=a == b)
            overall_s[index - 1] += a
            overall_t[index - 1] += b
        groups.append(
            GroupComparison(
                group=dict(zip(source.group_by, key, strict=True)),
                source_count=int(s[0]),
                target_count=int(t[0]),
                totals=totals,
                matches=s[0] == t[0] and all(c.matches for c in totals.values()),
            )
        )
    overall = {
        path: TotalComparison(source=a, target=b, matches=a == b)
        for path, a, b in zip(source.totals, overall_s, overall_t, strict=True)
    }
    return groups, overall
