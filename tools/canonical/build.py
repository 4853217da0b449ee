"""From a source batch to canonical candidates: one Arrow column per mapped canonical leaf.

Candidates are typed (string, date32, decimal128(38, 10)) but not yet validated: decimals keep
their places so validation can see too many of them. A value a transform could not convert is null
in its column and described in the companion `!fail:<path>` column, which validation reports as a
field error. List components are list<struct> columns, built from a list source column (COBOL
OCCURS, JSON arrays; one item per element) or from scalar columns (one item per record); items
whose source-backed values are all empty are dropped (blank OCCURS slots).

Limit: one canonical record per source row. Normalised sources with one row per coverage (such as
`acquired_coverage`) produce one record per coverage row, keyed by its policy id; grouping several
rows into one policy is a later join step, not a mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError
from tools.canonical.dates import parse_dates
from tools.canonical.model_tree import Leaf, leaves_by_path, list_components
from tools.canonical.spec import FieldRule, JoinStep, MoneyStep
from tools.canonical.transforms import (
    CANDIDATE_DECIMAL,
    Converted,
    apply_steps,
    constant_array,
    parse_money,
    strip_text,
)

FAIL = "!fail:"
ROW = "!row"
CANDIDATE_TYPES = {"string": pa.string(), "date": pa.date32(), "decimal": CANDIDATE_DECIMAL}


@dataclass(frozen=True)
class SourceRef:
    """A source column: `NAME`, a field of a list column `LIST[].FIELD`, or `LIST[]` items."""

    text: str
    column: str
    item_field: str | None  # None: the column itself; "" : list of scalars; else struct field

    @property
    def is_list(self) -> bool:
        return self.item_field is not None


@dataclass(frozen=True)
class CompiledRule:
    rule: FieldRule
    leaf: Leaf
    list_path: str | None
    source: SourceRef | None
    joins: tuple[SourceRef, ...]


@dataclass
class Plan:
    """A mapping version checked against its source schema, ready to run batch after batch."""

    version: str
    scalars: list[CompiledRule] = field(default_factory=list)
    lists: dict[str, list[CompiledRule]] = field(default_factory=dict)
    list_sources: dict[str, str | None] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # source columns to read


def parse_source(text: str, schema: pa.Schema, where: str) -> SourceRef:
    """Resolve a rule's source column against the staged schema.

    Raises:
        InputError: no such column (or list field) in the source.
    """
    if "[]" in text:
        column, _, rest = text.partition("[]")
        item = rest.removeprefix(".")
        if column not in schema.names:
            raise _no_column(text, schema, where)
        kind = schema.field(column).type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            raise InputError(
                f"source column {column!r} is not a list, so {text!r} cannot address its items",
                where=where,
                fix=f"use {column!r} itself",
            )
        value_type = kind.value_type
        if item and not (pa.types.is_struct(value_type) and value_type.get_field_index(item) >= 0):
            raise _no_column(text, schema, where)
        return SourceRef(text, column, item)
    if text not in schema.names:
        raise _no_column(text, schema, where)
    return SourceRef(text, text, None)


def _no_column(text: str, schema: pa.Schema, where: str) -> InputError:
    names = ", ".join(schema.names[:12]) + (" ..." if len(schema.names) > 12 else "")
    return InputError(
        f"source column {text!r} does not exist in the source",
        where=where,
        fix=f"use one of: {names} (list items as LIST[].FIELD)",
    )


def compile_plan(rules: list[FieldRule], version: str, schema: pa.Schema) -> Plan:
    """Check mapped rules against the model and the source schema.

    Raises:
        InputError: unknown target, unknown source column, a list source feeding a scalar field,
            two different source lists feeding one list component.
    """
    leaves = leaves_by_path(version)
    lists = {n.list_path for n in list_components(version)}
    plan = Plan(version=version)
    columns: dict[str, None] = {}
    seen: set[str] = set()
    for rule in rules:
        if not rule.mapped:
            continue
        where = f"mapping rule for {rule.target}"
        if rule.target in seen:
            raise InputError(
                f"two rules fill {rule.target!r}",
                where=where,
                fix="keep one rule per canonical field",
            )
        seen.add(rule.target)
        leaf = leaves.get(rule.target)
        if leaf is None:
            raise unknown_target(rule.target, version)
        list_path = next((lp for lp in lists if rule.target.startswith(f"{lp}[].")), None)
        source = parse_source(rule.source, schema, where) if rule.source else None
        joins = tuple(
            parse_source(c, schema, where)
            for s in rule.transform
            if isinstance(s, JoinStep)
            for c in s.columns
        )
        for ref in (source, *joins):
            if ref is None:
                continue
            columns[ref.column] = None
            if ref.is_list and list_path is None:
                raise InputError(
                    f"list source {ref.text!r} cannot fill the single field {rule.target!r}",
                    where=where,
                    fix="map list items to a list target (coverage_sections[].x)",
                )
        compiled = CompiledRule(rule, leaf, list_path, source, joins)
        if list_path is None:
            plan.scalars.append(compiled)
            continue
        plan.lists.setdefault(list_path, []).append(compiled)
        for ref in (source, *joins):
            if ref is not None and ref.is_list:
                known = plan.list_sources.get(list_path)
                if known not in (None, ref.column):
                    raise InputError(
                        f"{list_path} is fed by two source lists, {known!r} and {ref.column!r}",
                        where=where,
                        fix="map one list component from one source list",
                    )
                plan.list_sources[list_path] = ref.column
        plan.list_sources.setdefault(list_path, None)
    plan.columns = list(columns)
    return plan


def unknown_target(target: str, version: str) -> InputError:
    stem = target.rsplit(".", 1)[-1]
    near = [p for p in leaves_by_path(version) if p.endswith(f".{stem}") or p == stem][:5]
    hint = f"did you mean {', '.join(near)}?" if near else "list the fields with: data-mash fields"
    return InputError(
        f"target {target!r} is not a field of canonical model {version}",
        where=f"mapping rule for {target}",
        fix=hint,
    )


# -- conversion to the target type -------------------------------------------------------------


def to_target(values: pa.Array, kind: str) -> tuple[pa.Array, np.ndarray, str]:
    """Convert a transformed column to the leaf's candidate type; returns (values, failed, why)."""
    n = len(values)
    present = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    if kind == "string":
        if pa.types.is_decimal(values.type):  # 12.5000000000 -> 12.5
            text = pc.replace_substring_regex(pc.cast(values, pa.string()), r"(\.\d*?)0+$", r"\1")
            values = pc.replace_substring_regex(text, r"\.$", "")
        return strip_text(values), np.zeros(n, dtype=bool), "text"
    if kind == "date":
        if pa.types.is_date32(values.type):
            return values, np.zeros(n, dtype=bool), "a date"
        if pa.types.is_timestamp(values.type) or pa.types.is_date64(values.type):
            return (
                pc.cast(
                    pc.floor_temporal(values, unit="day")
                    if pa.types.is_timestamp(values.type)
                    else values,
                    pa.date32(),
                ),
                np.zeros(n, dtype=bool),
                "a date",
            )
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            dates, failed = parse_dates(values, "YYYY-MM-DD")
            return dates, failed, "an ISO date YYYY-MM-DD (add a date transform for other formats)"
        return (
            pa.nulls(n, pa.date32()),
            present,
            "a date; numbers are not dates (add a date transform: YYYYMMDD, julian, excel...)",
        )
    decimals, failed = parse_money(values, MoneyStep.model_validate({}))
    return decimals, failed, "an amount"


# -- building ----------------------------------------------------------------------------------


def _source_values(
    batch: pa.RecordBatch, ref: SourceRef, parents: np.ndarray | None, flat: pa.Array | None
) -> pa.Array:
    column = batch.column(ref.column)
    if ref.is_list:
        assert flat is not None
        if not ref.item_field:
            return flat
        return pc.struct_field(flat, [flat.type.get_field_index(ref.item_field)])
    if parents is not None:
        return pc.take(column, pa.array(parents))
    return column


def _failures(
    original: pa.Array, converted: Converted, extra: np.ndarray, why: str, rule: CompiledRule
) -> pa.Array:
    """The `!fail:` column: a message for each value that did not convert, null elsewhere."""
    failed = converted.failed | extra
    messages: list[str | None] = [None] * len(original)
    if failed.any():
        index = np.flatnonzero(failed)
        raw = pc.take(original, pa.array(index))
        try:
            shown = raw.to_pylist()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            shown = ["<value>"] * len(index)
        column = rule.rule.source or "constant"
        for i, value in zip(index.tolist(), shown, strict=True):
            step = int(converted.failed_step[i])
            expected = converted.reason[step - 1] if step else why
            messages[i] = f"{value!r} in column {column} is not {expected}"
    return pa.array(messages, pa.string())


def _convert(
    rule: CompiledRule,
    batch: pa.RecordBatch,
    n: int,
    parents: np.ndarray | None,
    flat: pa.Array | None,
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Values, failure messages and the has-content mask of one rule over n rows or items."""
    steps = rule.rule.transform
    if rule.source is not None:
        original = _source_values(batch, rule.source, parents, flat)
    elif rule.rule.constant is not None:
        original = constant_array(rule.rule.constant.value, n)
    else:
        original = pa.nulls(n, pa.string())
    extra = {ref.text: _source_values(batch, ref, parents, flat) for ref in rule.joins}
    converted = apply_steps(original, steps, extra)
    values, failed, why = to_target(converted.values, rule.leaf.kind)
    failed = failed & ~converted.failed
    content = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    content |= converted.failed | failed
    default = rule.rule.default
    if default is not None:
        filler, _, _ = to_target(constant_array(default.value, 1), rule.leaf.kind)
        empty = ~content
        if empty.any() and filler[0].is_valid:
            values = pc.if_else(pa.array(empty), filler[0], values)
    messages = _failures(original, converted, failed, why, rule)
    values = values.cast(CANDIDATE_TYPES[rule.leaf.kind])
    backed = rule.source is not None or bool(rule.joins)
    return values, messages, content if backed else np.zeros(n, dtype=bool)


def _list_column(
    batch: pa.RecordBatch, list_path: str, rules: list[CompiledRule], source_list: str | None
) -> pa.Array:
    n = batch.num_rows
    flat = None
    if source_list is not None:
        lists = batch.column(source_list)
        flat = pc.list_flatten(lists)
        parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False))
    else:
        parents = np.arange(n)
    m = len(parents)
    names, arrays = [], []
    keep = np.zeros(m, dtype=bool)
    for rule in rules:
        values, messages, content = _convert(rule, batch, m, parents, flat)
        keep |= content
        names += [rule.leaf.name, FAIL + rule.leaf.name]
        arrays += [values, messages]
    index = pa.array(np.flatnonzero(keep))
    arrays = [pc.take(a, index) for a in arrays]
    counts = np.bincount(parents[keep], minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    items = (
        pa.StructArray.from_arrays(arrays, names=names)
        if arrays
        else pa.array([{}] * int(keep.sum()), pa.struct([]))
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items)


def build_candidates(batch: pa.RecordBatch, plan: Plan, row_offset: int = 0) -> pa.Table:
    """Apply a compiled mapping to one source batch.

    Args:
        batch: staged source records.
        plan: the compiled mapping.
        row_offset: index of the batch's first record in the source.

    Returns:
        A candidate table: `!row`, then per mapped leaf its value column and `!fail:` column,
        and per list component one list<struct> column.
    """
    n = batch.num_rows
    names = [ROW]
    arrays: list[pa.Array] = [pa.array(np.arange(row_offset, row_offset + n, dtype=np.int64))]
    for rule in plan.scalars:
        values, messages, _ = _convert(rule, batch, n, None, None)
        names += [rule.leaf.path, FAIL + rule.leaf.path]
        arrays += [values, messages]
    for list_path, rules in plan.lists.items():
        names.append(list_path)
        arrays.append(_list_column(batch, list_path, rules, plan.list_sources.get(list_path)))
    return pa.Table.from_arrays(arrays, names=names)
