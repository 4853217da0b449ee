"""Reconcile canonical source records with what a migration target reads back.

Three checks, all streamed batch by batch:

1. record counts (and policy ids that occur twice, or not at all);
2. control totals - premium, coverage limits, outstanding balance - summed exactly (Decimal) per
   line of business (`policy_core.policy_type`) and state;
3. a sha256 (first 16 bytes) of a normalised projection of every policy: every canonical column in
   sorted name order, strings NFC-normalised and trimmed with "" read as null, decimals at the
   canonical scale, dates ISO, list items normalised the same way and sorted (item order carries no
   meaning, and null and empty lists are the same). Hashes are joined on policy id to name the
   policies missing in the target, unexpected in it, or different.

Memory holds per policy its id, the 16-byte hash and a 2-byte checksum per column (the checksums
narrow a differing policy to its fields without keeping records): about 110 bytes a policy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from knowledge.canonical import arrow_schema
from tools.errors import InputError
from tools.waves.targets.base import POLICY_ID

DEFAULT_GROUP_BY = ("policy_core.policy_type", "policy_core.insured_party.address.state")
DEFAULT_TOTALS = (
    "rating_components.premium_amount",
    "coverage_sections[].limits.per_occurrence",
    "coverage_sections[].limits.aggregate",
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


def _string_norm(values: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(values, form="NFC"))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _scalar_norm(values: pa.Array) -> pa.Array:
    """Normalised text of a scalar column; null stays null."""
    if pa.types.is_string(values.type):
        return _string_norm(values)
    return values.cast(pa.string())


def _list_norm(values: pa.Array) -> pa.Array:
    """One string per list cell: normalised items, sorted, joined; null and [] give ''."""
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy()
    items = pc.list_flatten(values)
    parts = [pc.fill_null(_scalar_norm(pc.struct_field(items, [i])), NULL)
             for i in range(items.type.num_fields)]
    joined = pc.binary_join_element_wise(*parts, "\x1e") if parts else pa.array(
        [""] * len(items), pa.string())
    parents = np.repeat(np.arange(len(values)), lengths)
    ordered = pa.table({"p": parents, "s": joined}).sort_by([("p", "ascending"),
                                                             ("s", "ascending")])
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype("int32"))
    lists = pa.ListArray.from_arrays(offsets, ordered.column("s").combine_chunks())
    return pc.binary_join(lists, "\x1d")


def _checksums(values: pa.Array) -> np.ndarray:
    """A position-weighted 16-bit checksum of each (non-null) string, computed with numpy.

    sum(byte * (position in string + 1)) comes from two prefix sums over the whole buffer:
    sum(b*i) - start*sum(b) over each string's byte range, so no per-byte index is materialised.
    """
    if not isinstance(values, pa.LargeStringArray):
        values = pc.cast(values, pa.large_string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset:values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].astype(
        np.int64)
    offsets = offsets - offsets[0]
    plain = np.concatenate([[0], np.cumsum(data)])
    weighted = np.concatenate([[0], np.cumsum(data * np.arange(1, len(data) + 1))])
    starts, ends = offsets[:-1], offsets[1:]
    sums = (weighted[ends] - weighted[starts]) - starts * (plain[ends] - plain[starts])
    return ((sums + (ends - starts) * 7919) % 65521).astype(np.uint16)


def _conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    if POLICY_ID not in table.column_names:
        raise InputError(f"a batch lacks the {POLICY_ID} column", where="reconciliation input",
                         fix="pass canonical record batches (arrow_schema)")
    arrays = []
    for field in schema:
        if field.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name).combine_chunks()
        try:
            arrays.append(column if column.type == field.type else column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise InputError(f"column {field.name!r} cannot be read as {field.type}: {exc}",
                             where=f"reconciliation input, column {field.name}",
                             fix="pass canonical record batches") from None
    return pa.Table.from_arrays(arrays, schema=schema)


class _Side:
    """Per-policy hashes and per-group totals of one side, accumulated batch by batch."""

    def __init__(self, schema: pa.Schema, group_by: Sequence[str], totals: Sequence[str]) -> None:
        self.schema = schema
        self.columns = sorted(schema.names)
        self.group_by, self.totals = list(group_by), list(totals)
        self.ids: list[pa.Array] = []
        self.hashes = bytearray()  # 16 bytes per policy, back to back
        self.checks: list[np.ndarray] = []
        self.groups: dict[tuple[str | None, ...], list[Decimal | int]] = {}
        self.without_id = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        table = _conform(batch, self.schema)
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
        for name in self.columns:
            column = table.column(name).combine_chunks()
            norm = _list_norm(column) if pa.types.is_list(column.type) else _scalar_norm(column)
            normalised.append(pc.fill_null(norm, NULL))
        rows = pc.binary_join_element_wise(*normalised, "\x1f").cast(pa.binary())
        for value in rows.to_pylist():
            self.hashes += hashlib.sha256(value).digest()[:16]
        blank = np.full(table.num_rows, _checksums(pa.array([NULL]))[0], dtype=np.uint16)
        self.checks.append(np.column_stack([
            blank if table.column(name).null_count == table.num_rows else _checksums(norm)
            for name, norm in zip(self.columns, normalised, strict=True)]))
        self.ids.append(table.column(POLICY_ID).combine_chunks())
        self._add_totals(table)

    def _keys(self, table: pa.Table) -> list[pa.Array]:
        return [_string_norm(table.column(g).combine_chunks().cast(pa.string()))
                for g in self.group_by]

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
                values = pc.struct_field(pc.list_flatten(column), [
                    column.type.value_type.get_field_index(member)])
                parents = pc.list_parent_indices(column)
                group_keys = [k.take(parents) for k in keys]
            else:
                values, group_keys = table.column(path).combine_chunks(), keys
            sums = pa.table(dict(zip(names, group_keys, strict=True)) | {"v": values}) \
                .group_by(names).aggregate([("v", "sum")])
            for row in sums.to_pylist():
                slot = self._slot(tuple(row[n] for n in names))
                slot[index] += row["v_sum"] or ZERO

    def _slot(self, key: tuple[str | None, ...]) -> list[Decimal | int]:
        if key not in self.groups:
            self.groups[key] = [0] + [ZERO] * len(self.totals)
        return self.groups[key]

    def table(self) -> pa.Table:
        ids = pa.concat_arrays(self.ids) if self.ids else pa.array([], pa.string())
        hashes = pa.Array.from_buffers(pa.binary(16), len(ids),
                                       [None, pa.py_buffer(bytes(self.hashes))])
        return pa.table({"id": ids, "h": hashes,
                         "i": pa.array(np.arange(len(ids), dtype=np.int64))})

    def check_matrix(self) -> np.ndarray:
        return np.vstack(self.checks) if self.checks else np.zeros((0, len(self.columns)))


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
    source, target = _Side(schema, group_by, totals), _Side(schema, group_by, totals)
    for batch in source_batches:
        source.add(batch)
    for batch in target_batches:
        target.add(batch)
    src, tgt = source.table(), target.table()
    joined = src.join(tgt, keys="id", join_type="full outer", left_suffix="_s", right_suffix="_t",
                      coalesce_keys=True)
    has_s, has_t = pc.is_valid(joined.column("i_s")), pc.is_valid(joined.column("i_t"))
    missing = joined.filter(pc.and_(has_s, pc.invert(has_t)))
    unexpected = joined.filter(pc.and_(has_t, pc.invert(has_s)))
    both = joined.filter(pc.and_(has_s, has_t))
    differs = both.filter(pc.not_equal(both.column("h_s").cast(pa.binary()),
                                       both.column("h_t").cast(pa.binary())))
    differs = differs.sort_by("id")
    detail = []
    src_checks, tgt_checks = source.check_matrix(), target.check_matrix()
    for row in differs.slice(0, detail_size).to_pylist():
        changed = np.flatnonzero(src_checks[row["i_s"]] != tgt_checks[row["i_t"]])
        fields = [source.columns[c] for c in changed] or ["(fields not isolated)"]
        detail.append(ContentMismatch(policy_id=row["id"], fields=fields))
    group_report, overall = _compare_groups(source, target)
    report = ReconciliationReport(
        passed=False,
        source_count=src.num_rows, target_count=tgt.num_rows,
        matched=both.num_rows - differs.num_rows,
        missing_in_target=missing.num_rows, unexpected_in_target=unexpected.num_rows,
        different=differs.num_rows,
        duplicates_in_source=src.num_rows - _distinct(src),
        duplicates_in_target=tgt.num_rows - _distinct(tgt),
        rows_without_id=source.without_id + target.without_id,
        missing_sample=_sample(missing, sample_size),
        unexpected_sample=_sample(unexpected, sample_size),
        different_sample=detail, totals=overall, group_by=list(group_by),
        groups_compared=len(group_report),
        mismatched_groups=[g for g in group_report if not g.matches],
    )
    report.passed = (report.source_count == report.target_count and not report.missing_in_target
                     and not report.unexpected_in_target and not report.different
                     and not report.duplicates_in_source and not report.duplicates_in_target
                     and not report.rows_without_id and not report.mismatched_groups
                     and all(t.matches for t in overall.values()))
    return report


def _distinct(table: pa.Table) -> int:
    return int(pc.count_distinct(table.column("id")).as_py()) if table.num_rows else 0


def _sample(table: pa.Table, size: int) -> list[str]:
    return table.sort_by("id").column("id").slice(0, size).to_pylist()


def _check_paths(schema: pa.Schema, group_by: Sequence[str], totals: Sequence[str]) -> None:
    for path in group_by:
        if path not in schema.names or pa.types.is_list(schema.field(path).type):
            raise InputError(f"{path!r} is not a canonical scalar column", where="group_by",
                             fix="group by scalar leaves such as policy_core.policy_type")
    for path in totals:
        list_path, _, member = path.partition("[].")
        field = schema.field(list_path) if list_path in schema.names else None
        if member and field is not None and pa.types.is_list(field.type):
            field = next((f for f in field.type.value_type if f.name == member), None)
        if field is None or not pa.types.is_decimal(field.type):
            raise InputError(f"{path!r} is not a canonical decimal column", where="totals",
                             fix="use e.g. rating_components.premium_amount or "
                                 "coverage_sections[].limits.per_occurrence")


def _compare_groups(
    source: _Side, target: _Side
) -> tuple[list[GroupComparison], dict[str, TotalComparison]]:
    empty = [0] + [ZERO] * len(source.totals)
    groups, overall_s, overall_t = [], [ZERO] * len(source.totals), [ZERO] * len(source.totals)
    for key in sorted(set(source.groups) | set(target.groups), key=lambda k: tuple(
            (v is None, v or "") for v in k)):
        s, t = source.groups.get(key, empty), target.groups.get(key, empty)
        totals = {}
        for index, path in enumerate(source.totals, start=1):
            a, b = Decimal(s[index]), Decimal(t[index])
            totals[path] = TotalComparison(source=a, target=b, matches=a == b)
            overall_s[index - 1] += a
            overall_t[index - 1] += b
        groups.append(GroupComparison(
            group=dict(zip(source.group_by, key, strict=True)), source_count=int(s[0]),
            target_count=int(t[0]), totals=totals,
            matches=s[0] == t[0] and all(c.matches for c in totals.values())))
    overall = {path: TotalComparison(source=a, target=b, matches=a == b)
               for path, a, b in zip(source.totals, overall_s, overall_t, strict=True)}
    return groups, overall
