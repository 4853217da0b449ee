"""One batch of policies: the staged rows of every source, joined into canonical candidates.

Input: for a range of policy positions ``[lo, lo + n)``, the root's rows (one per position) and
each child's and lookup's rows (sorted by position). Output: one candidate row per policy
(scalars decided by survivorship, list components concatenated root first, then each source in
the spec's order, rows in source order), the conflicts found, and the provenance per policy.
Everything is column arithmetic on Arrow arrays and numpy index vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.assembly.contracts import SurvivorshipRule
from tools.assembly.stage import BAD, POS, ROW, Contributor
from tools.canonical.build import CANDIDATE_TYPES, FAIL
from tools.canonical.model_tree import leaves_by_path

ID_PATH = "policy_core.policy_id"
CONFLICT_SCHEMA = pa.schema(
    [
        ("policy_id", pa.string()),
        ("field", pa.string()),
        ("rule", pa.string()),
        ("value", pa.string()),
        ("source", pa.string()),
        ("row", pa.int64()),
        ("other_value", pa.string()),
        ("other_source", pa.string()),
        ("other_row", pa.int64()),
    ]
)


@dataclass
class Slice:
    """One source's staged rows for the batch, with per-policy indexes."""

    contributor: Contributor
    table: pa.Table
    local: np.ndarray  # policy position in the batch, per row
    good: np.ndarray  # rows that reach the document
    first: np.ndarray  # per policy: the first good row, -1 when none
    held: np.ndarray  # per policy: rows the source holds
    arrived: np.ndarray  # per policy: rows that reached the document


def make_slice(contributor: Contributor, table: pa.Table, lo: int, n: int) -> Slice:
    local = table.column(POS).to_numpy() - lo
    if BAD in table.column_names:
        good = ~np.asarray(table.column(BAD).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        good = np.ones(table.num_rows, dtype=bool)
    first = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(good)
    if len(rows):
        unique, index = _first_of_each(local[rows])
        first[unique] = rows[index]
    return Slice(
        contributor,
        table,
        local,
        good,
        first,
        np.bincount(local, minlength=n),
        np.bincount(local[good], minlength=n),
    )


def _first_of_each(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and the index of each one's first occurrence (``np.unique``'s
    ``return_index``); staged rows come sorted by position, which needs no sort at all."""
    if len(values) and not (np.diff(values) < 0).any():
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        return values[starts], starts
    unique, index = np.unique(values, return_index=True)
    return unique, index


def _take(column: pa.ChunkedArray | pa.Array, index: np.ndarray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return pc.take(column, pa.array(index, pa.int64(), mask=index < 0))


def _text(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.string())


@dataclass
class BatchResult:
    candidates: pa.Table
    conflicts: pa.Table
    winners: dict[str, pa.Array]  # contested field -> winning source name per policy


def assemble(
    root: Slice,
    others: list[Slice],
    rules: dict[str, SurvivorshipRule],
    version: str,
) -> BatchResult:
    """Join one batch (see the module docstring)."""
    n = root.table.num_rows
    leaves = leaves_by_path(version)
    names: list[str] = [ROW]
    arrays: list[pa.Array] = [root.table.column(ROW).combine_chunks()]
    slices = [root, *others]
    by_name = {s.contributor.name: s for s in slices}
    policy_ids = (
        root.table.column(ID_PATH).combine_chunks()
        if ID_PATH in root.table.column_names
        else pa.nulls(n, pa.string())
    )
    conflicts: list[pa.Table] = []
    winners: dict[str, pa.Array] = {}
    scalar_paths = list(
        dict.fromkeys(p for s in slices for p in s.contributor.scalars if p in leaves)
    )
    for path in scalar_paths:
        suppliers = [s for s in slices if path in s.contributor.scalars]
        rule = rules.get(path)
        if rule is not None:
            order = [by_name[x] for x in rule.sources if x in by_name and by_name[x] in suppliers]
            order += [s for s in suppliers if s not in order]
        else:
            order = suppliers
        kind = CANDIDATE_TYPES[leaves[path].kind]
        values: list[pa.Array] = []
        fails: list[pa.Array] = []
        rows: list[pa.Array] = []
        for s in order:
            if s is root:
                index = np.arange(n, dtype=np.int64)
            else:
                index = s.first
            col = s.table.column(path) if path in s.table.column_names else None
            fcol = s.table.column(FAIL + path) if FAIL + path in s.table.column_names else None
            values.append(_take(col, index).cast(kind) if col is not None else pa.nulls(n, kind))
            fails.append(_take(fcol, index) if fcol is not None else pa.nulls(n, pa.string()))
            rows.append(_take(s.table.column(ROW), index))
        present = [
            np.asarray(
                pc.or_(pc.is_valid(v), pc.is_valid(f)).to_numpy(zero_copy_only=False), dtype=bool
            )
            for v, f in zip(values, fails, strict=True)
        ]
        win = np.full(n, -1, dtype=np.int64)
        for i in range(len(order) - 1, -1, -1):
            win = np.where(present[i], i, win)
        chosen = np.where(win < 0, 0, win)
        value = values[0]
        fail = fails[0]
        for i in range(1, len(order)):
            pick = pa.array(chosen == i)
            value = pc.if_else(pick, values[i], value)
            fail = pc.if_else(pick, fails[i], fail)
        names += [path, FAIL + path]
        arrays += [value, fail]
        if len(order) > 1:
            source_names = pa.array([s.contributor.name for s in order], pa.string())
            winners[path] = pc.take(source_names, pa.array(chosen, pa.int64(), mask=win < 0))
            conflicts.extend(
                _conflicts(path, rule, order, values, rows, present, chosen, win, policy_ids)
            )
    list_paths = list(dict.fromkeys(p for s in slices for p in s.contributor.lists))
    for list_path in list_paths:
        names.append(list_path)
        arrays.append(
            _concat_lists(
                list_path, [s for s in slices if list_path in s.contributor.lists], root, n
            )
        )
    table = pa.Table.from_arrays(arrays, names=names)
    conflict_table = pa.concat_tables(conflicts) if conflicts else CONFLICT_SCHEMA.empty_table()
    return BatchResult(table, conflict_table, winners)


def _conflicts(
    path: str,
    rule: SurvivorshipRule | None,
    order: list[Slice],
    values: list[pa.Array],
    rows: list[pa.Array],
    present: list[np.ndarray],
    chosen: np.ndarray,
    win: np.ndarray,
    policy_ids: pa.Array,
) -> list[pa.Table]:
    """Policies where a source other than the winner holds a different value."""
    tolerance = rule.tolerance if rule is not None else 0.0
    out = []
    n = len(chosen)
    win_value = values[0]
    win_row = rows[0]
    for i in range(1, len(order)):
        pick = pa.array(chosen == i)
        win_value = pc.if_else(pick, values[i], win_value)
        win_row = pc.if_else(pick, rows[i], win_row)
    win_names = np.array([s.contributor.name for s in order], dtype=object)[chosen]
    for j, other in enumerate(order):
        both = present[j] & (win >= 0) & (win != j)
        both &= np.asarray(pc.is_valid(values[j]).to_numpy(zero_copy_only=False), dtype=bool)
        both &= np.asarray(pc.is_valid(win_value).to_numpy(zero_copy_only=False), dtype=bool)
        if not both.any():
            continue
        if pa.types.is_decimal(win_value.type):
            diff = pc.abs(
                pc.subtract(pc.cast(win_value, pa.float64()), pc.cast(values[j], pa.float64()))
            )
            differ = pc.greater(diff, tolerance + 1e-9)
        elif pa.types.is_string(win_value.type):
            differ = pc.not_equal(pc.utf8_lower(win_value), pc.utf8_lower(values[j]))
        else:
            differ = pc.not_equal(win_value, values[j])
        hit = both & np.asarray(differ.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        if not hit.any():
            continue
        index = pa.array(np.flatnonzero(hit))
        k = len(index)
        out.append(
            pa.Table.from_arrays(
                [
                    pc.take(policy_ids, index),
                    pa.array([path] * k, pa.string()),
                    pa.array([rule.rule if rule else "source_priority"] * k, pa.string()),
                    _text(pc.take(win_value, index)),
                    pa.array(win_names[np.flatnonzero(hit)].tolist(), pa.string()),
                    pc.take(win_row, index),
                    _text(pc.take(values[j], index)),
                    pa.array([other.contributor.name] * k, pa.string()),
                    pc.take(rows[j], index),
                ],
                schema=CONFLICT_SCHEMA,
            )
        )
    del n
    return out


def _concat_lists(list_path: str, slices: list[Slice], root: Slice, n: int) -> pa.Array:
    """Items of one list component from every source, per policy: root first, then sources
    in order, rows in source order."""
    parts: list[tuple[pa.StructArray, np.ndarray]] = []
    for s in slices:
        if list_path not in s.table.column_names:
            continue
        lists = s.table.column(list_path).combine_chunks()
        parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False))
        items = pc.list_flatten(lists)
        keep = s.good[parents] if len(parents) else np.zeros(0, dtype=bool)
        if s is not root and not keep.all():
            items = items.filter(pa.array(keep))
            parents = parents[keep]
        parts.append((items, s.local[parents] if s is not root else parents))
    fields: dict[str, pa.DataType] = {}
    for items, _ in parts:
        for f in items.type:
            fields.setdefault(f.name, f.type)
    struct_type = pa.struct([pa.field(k, v) for k, v in fields.items()])
    arrays = []
    positions = []
    for items, pos in parts:
        columns = []
        for name, kind in fields.items():
            index = items.type.get_field_index(name)
            columns.append(
                pc.struct_field(items, [index]).cast(kind)
                if index >= 0
                else pa.nulls(len(items), kind)
            )
        arrays.append(pa.StructArray.from_arrays(columns, fields=list(struct_type)))
        positions.append(pos)
    if not arrays:
        return pa.ListArray.from_arrays(
            pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.struct([]))
        )
    all_pos = np.concatenate(positions) if positions else np.zeros(0, np.int64)
    source = np.concatenate([np.full(len(p), i) for i, p in enumerate(positions)])
    order = np.lexsort((source, all_pos))  # stable: rows keep their order within a source
    items = pa.concat_arrays(arrays).take(pa.array(order))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(all_pos, minlength=n))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), items)
