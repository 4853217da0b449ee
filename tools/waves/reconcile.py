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

Memory holds per policy its id, the 16-byte hash and a 2-byte checksum per column (the checksums
narrow a differing policy to its fields without keeping records): about 110 bytes a policy.
"""

from __future__ import annotations

import bisect
import hashlib
import tempfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from core.errors import InputError
from knowledge.canonical import arrow_schema
from tools.waves.reconcile_components import (
    ComponentComparison,
    ComponentDifference,
    ComponentSide,
    compare_components,
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


class _Side:
    """Per-policy hashes and per-group totals of one side, accumulated batch by batch."""

    def __init__(
        self, schema: pa.Schema, group_by: Sequence[str], totals: Sequence[str], spill: Path
    ) -> None:
        self.schema = schema
        self.columns = sorted(schema.names)
        self.group_by, self.totals = list(group_by), list(totals)
        self.ids: list[pa.Array] = []
        self.hashes = bytearray()  # 16 bytes per policy, back to back
        # Per-column checksums are only read for the few policies narrowed to their fields, so
        # each slice's matrix goes to a file instead of staying in memory (it is rows x columns).
        self.spill = spill
        self.check_files: list[tuple[int, Path]] = []  # (first policy index, file)
        self.count = 0
        self.parts = ComponentSide(schema, spill)
        self.groups: dict[tuple[str | None, ...], list[Decimal | int]] = {}
        self.without_id = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        table = cast_to_schema(
            batch,
            self.schema,
            where="reconciliation input",
            fix="pass canonical record batches (arrow_schema)",
        )
        # Slices bound the per-call temporaries (normalised strings, joined rows) whatever the
        # caller's batch size.
        for start in range(0, table.num_rows, SLICE_ROWS):
            self._add_slice(table.slice(start, SLICE_ROWS))

    def _add_slice(self, table: pa.Table) -> None:
        has_id = pc.is_valid(table.column(POLICY_ID))
        self.without_id += table.num_rows - int(pc.sum(has_id.cast(pa.int64())).as_py() or 0)
        table = table.filter(has_id)
        if table.num_rows == 0:
            return
        normalised = []
        lists = {}
        for name in self.columns:
            column = table.column(name).combine_chunks()
            if pa.types.is_list(column.type):
                lists[name] = list_norm(column)
                norm = lists[name][0]
            else:
                norm = scalar_norm(column)
            normalised.append(pc.fill_null(norm, NULL))
        self.parts.add(table, lists, _checksums, self.count)
        rows = pc.binary_join_element_wise(*normalised, "\x1f").cast(pa.binary())
        for value in rows.to_pylist():
            self.hashes += hashlib.sha256(value).digest()[:16]
        blank = np.full(table.num_rows, _checksums(pa.array([NULL]))[0], dtype=np.uint16)
        matrix = np.column_stack(
            [
                blank if table.column(name).null_count == table.num_rows else _checksums(norm)
                for name, norm in zip(self.columns, normalised, strict=True)
            ]
        )
        path = self.spill / f"checks-{len(self.check_files):06d}.npy"
        np.save(path, matrix)
        self.check_files.append((self.count, path))
        self.count += table.num_rows
        self.ids.append(table.column(POLICY_ID).combine_chunks())
        self._add_totals(table)

    def _keys(self, table: pa.Table) -> list[pa.Array]:
        return [
            _string_norm(table.column(g).combine_chunks().cast(pa.string())) for g in self.group_by
        ]

    def _add_totals(self, table: pa.Table) -> None:
        keys = self._keys(table)
        names = [f"k{i}" for i in range(len(keys))]
        counts = pa.table(dict(zip(names, keys, strict=True)))
        for row in counts.group_by(names).aggregate([([], "count_all")]).to_pylist():
            self._slot(tuple(row[n] for n in names))[0] += row["count_all"]
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
                slot = self._slot(tuple(row[n] for n in names))
                slot[index] += row["v_sum"] or ZERO

    def _slot(self, key: tuple[str | None, ...]) -> list[Decimal | int]:
        if key not in self.groups:
            self.groups[key] = [0] + [ZERO] * len(self.totals)
        return self.groups[key]

    def id_array(self) -> pa.Array:
        return (
            pa.concat_arrays(self.ids).cast(pa.string()) if self.ids else pa.array([], pa.string())
        )

    def hash_matrix(self) -> np.ndarray:
        """(policies, 16) uint8: the row hashes, in the order the policies were added."""
        return np.frombuffer(bytes(self.hashes), dtype=np.uint8).reshape(-1, 16)

    def check_row(self, index: int) -> np.ndarray:
        """The per-column checksums of the policy at ``index`` (read from its slice's file)."""
        starts = [start for start, _ in self.check_files]
        slot = bisect.bisect_right(starts, index) - 1
        start, path = self.check_files[slot]
        return np.array(np.load(path, mmap_mode="r")[index - start])


def reconcile(
    source_batches: Iterable[pa.RecordBatch | pa.Table],
    target_batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
    totals: Sequence[str] = DEFAULT_TOTALS,
    version: str = "policy_v1",
    sample_size: int = 20,
    detail_size: int = 5,
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
        for batch in source_batches:
            source.add(batch)
        for batch in target_batches:
            target.add(batch)
        return _report(source, target, sample_size=sample_size, detail_size=detail_size)


def _report(
    source: _Side, target: _Side, *, sample_size: int, detail_size: int
) -> ReconciliationReport:
    # Matching by id lookup and comparing hashes in numpy: a full outer join materialised every
    # row of both sides and was the peak of a wave's memory (~200 MiB at 350k policies).
    src_ids, tgt_ids = source.id_array(), target.id_array()
    src_hash, tgt_hash = source.hash_matrix(), target.hash_matrix()
    where = pc.index_in(tgt_ids, value_set=src_ids)  # target row -> source row (first match)
    found = pc.is_valid(where).to_numpy(zero_copy_only=False)
    positions = pc.fill_null(where, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    seen = np.zeros(len(src_ids), dtype=bool)
    seen[positions[found]] = True
    tgt_rows = np.flatnonzero(found)
    src_rows = positions[found]
    differ = (src_hash[src_rows] != tgt_hash[tgt_rows]).any(axis=1)
    differing = sorted(
        zip(
            tgt_ids.take(pa.array(tgt_rows[differ])).to_pylist(),
            src_rows[differ].tolist(),
            tgt_rows[differ].tolist(),
            strict=True,
        )
    )
    missing_ids = src_ids.filter(pa.array(~seen))
    unexpected_ids = tgt_ids.filter(pa.array(~found))
    detail = []
    for policy_id, s_row, t_row in differing[:detail_size]:
        changed = np.flatnonzero(source.check_row(s_row) != target.check_row(t_row))
        fields = [source.columns[c] for c in changed] or ["(fields not isolated)"]
        detail.append(ContentMismatch(policy_id=policy_id, fields=fields))
    components, component_sample = compare_components(
        source.parts,
        target.parts,
        src_ids.take(pa.array(src_rows)).to_pylist(),
        src_rows,
        tgt_rows,
        sample_size=sample_size,
    )
    for mismatch in detail:
        mismatch.components = [c for c in component_sample if c.policy_id == mismatch.policy_id]
    group_report, overall = _compare_groups(source, target)
    report = ReconciliationReport(
        passed=False,
        source_count=len(src_ids),
        target_count=len(tgt_ids),
        matched=len(tgt_rows) - len(differing),
        missing_in_target=len(missing_ids),
        unexpected_in_target=len(unexpected_ids),
        different=len(differing),
        duplicates_in_source=len(src_ids) - _distinct(src_ids),
        duplicates_in_target=len(tgt_ids) - _distinct(tgt_ids),
        rows_without_id=source.without_id + target.without_id,
        missing_sample=_sample(missing_ids, sample_size),
        unexpected_sample=_sample(unexpected_ids, sample_size),
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
