"""The new platform's child tables: one table per list component of a canonical policy.

A whole policy is one ``policy`` row plus its items in ``coverage``, ``payment``,
``endorsement``, ``document``, ``communication``, ``notice``, ``claim_link``, ``rating_factor``
and ``calculation``. A child row carries the policy id (foreign key to ``policy``, ``ON DELETE
CASCADE``), its position in the list (``item_no``, so the order survives), the wave that wrote
it, and one typed column per item leaf (``limits__per_occurrence``).

Conversion is column-wise: a list column is flattened with Arrow (parent index and position
computed with numpy), and read back by grouping the child rows on the policy's position in the
batch, so no per-item Python object is built beyond the driver's row tuples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from knowledge.canonical import arrow_schema
from tools.waves.targets import sql
from tools.waves.targets.codec import sanitise

#: Canonical list component -> child table name (the platform's vocabulary).
CHILD_TABLES: dict[str, str] = {
    "coverage_sections": "coverage",
    "rating_components.rating_factors": "rating_factor",
    "rating_components.calculations": "calculation",
    "payments.payment_history": "payment",
    "correspondence.documents": "document",
    "correspondence.communications": "communication",
    "correspondence.notices": "notice",
    "endorsements": "endorsement",
    "claims_links": "claim_link",
}
PARENT_KEY = "policy_id"
ITEM_NO = "item_no"


@dataclass(frozen=True)
class ComponentTable:
    """One list component stored as a child table."""

    path: str
    """Canonical list column (``coverage_sections``)."""
    table: Table
    members: tuple[tuple[str, str, pa.DataType], ...]
    """(relative path, storage column, Arrow type) per item leaf."""
    count_column: str
    """Column of the policy row holding how many items the policy has (null: no list at all)."""
    struct_type: pa.StructType


@lru_cache(maxsize=8)
def list_paths(version: str = "policy_v1") -> tuple[str, ...]:
    """The list components of canonical ``version``, in schema order."""
    return tuple(f.name for f in arrow_schema(version) if pa.types.is_list(f.type))


def count_column(path: str) -> str:
    """The policy row's item-count column of list component ``path``."""
    return sanitise(f"{path}.items")


def child_name(path: str, policy_table: str) -> str:
    """Child table name of ``path``: bare beside ``policy``, prefixed beside another table."""
    base = CHILD_TABLES.get(path) or sanitise(path)
    return base if policy_table == "policy" else f"{policy_table}_{base}"


def component_tables(
    metadata: MetaData, policy: Table, policy_key: str, dialect: str, version: str
) -> list[ComponentTable]:
    """Declare the child tables of ``policy`` (one per list component) in ``metadata``."""
    schema = arrow_schema(version)
    out = []
    for path in list_paths(version):
        struct = schema.field(path).type.value_type
        members = tuple((f.name, sanitise(f.name), f.type) for f in struct)
        name = child_name(path, policy.name)
        table = Table(
            name,
            metadata,
            Column(PARENT_KEY, Text(), nullable=False),
            Column(ITEM_NO, Integer(), nullable=False),
            Column("wave_id", Text(), nullable=False),
            *(Column(column, sql.column_type(kind, dialect)) for _, column, kind in members),
            PrimaryKeyConstraint(PARENT_KEY, ITEM_NO, name=f"pk_{name}"),
            ForeignKeyConstraint(
                [PARENT_KEY],
                [policy.c[policy_key]],
                name=f"fk_{name}_policy",
                ondelete="CASCADE",
            ),
        )
        # Every per-wave query (delete, read-back by policy range) goes through this index.
        Index(f"ix_{name}_wave_policy", table.c.wave_id, table.c[PARENT_KEY])
        out.append(ComponentTable(path, table, members, count_column(path), struct))
    return out


def count_columns(version: str) -> list[Column[Any]]:
    """The item-count columns of the policy row (BigInteger; null when the list is absent)."""
    return [Column(count_column(p), BigInteger(), nullable=True) for p in list_paths(version)]


def item_counts(table: pa.Table, path: str) -> list[int | None]:
    """Per policy: how many items list ``path`` holds (None for a null list)."""
    return pc.list_value_length(table.column(path).combine_chunks()).to_pylist()


def child_rows(
    table: pa.Table, component: ComponentTable, wave_id: str, *, text: bool
) -> list[tuple[Any, ...]]:
    """The child rows of one component for a conformed batch, as positional tuples.

    Tuple order: policy id, item_no, wave id, then the members in ``component.members`` order.
    ``text`` writes every value as exact text (SQLite); otherwise native Python values.
    """
    array = table.column(component.path).combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
    total = int(lengths.sum())
    if total == 0:
        return []
    items = pc.list_flatten(array)
    parents = np.repeat(np.arange(len(array)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    positions = (np.arange(total) - starts[parents]).tolist()
    ids = table.column("policy_core.policy_id").combine_chunks().take(pa.array(parents))
    columns: list[list[Any]] = [ids.to_pylist(), positions, [wave_id] * total]
    for index, (_, _, kind) in enumerate(component.members):
        values = pc.struct_field(items, [index])
        if text and not pa.types.is_string(kind):
            values = values.cast(pa.string())
        columns.append(values.to_pylist())
    return list(zip(*columns, strict=True))


def lists_from_rows(
    component: ComponentTable,
    ids: Sequence[str],
    counts: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    text: bool,
) -> pa.Array:
    """Rebuild list column ``component.path`` for the policies ``ids`` from their child rows.

    Args:
        component: the child table.
        ids: the batch's policy ids, in batch order.
        counts: the policy rows' stored item counts (None: the policy had no such list).
        rows: child rows (policy id, item_no, member values...) in any order.
        text: member values are text to be parsed (SQLite) or native values (PostgreSQL).
    """
    position_of = pa.array(list(ids), pa.string())
    count_array = pa.array(counts, pa.int64())
    if not rows:
        empty = pa.ListArray.from_arrays(
            pa.array(np.zeros(len(ids) + 1, np.int32)), pa.array([], component.struct_type)
        )
        return pc.if_else(pc.is_null(count_array), pa.nulls(len(ids), empty.type), empty)
    columns = list(zip(*rows, strict=True))
    parents = pc.index_in(pa.array(columns[0], pa.string()), value_set=position_of)
    parent_np = pc.fill_null(parents, -1).to_numpy(zero_copy_only=False)
    keep = parent_np >= 0  # a child whose policy is outside this batch cannot be placed
    order = np.lexsort((np.asarray(columns[1], np.int64)[keep], parent_np[keep]))
    chosen = np.flatnonzero(keep)[order]
    take = pa.array(chosen)
    fields = []
    for offset, (_, _, kind) in enumerate(component.members, start=2):
        raw = columns[offset]
        if text:
            values = pa.array(raw, pa.string()).take(take)
            fields.append(values if pa.types.is_string(kind) else values.cast(kind))
        else:
            fields.append(pa.array(raw, kind).take(take))
    struct = pa.StructArray.from_arrays(fields, fields=list(component.struct_type))
    lengths = np.bincount(parent_np[keep], minlength=len(ids))
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    lists = pa.ListArray.from_arrays(offsets, struct)
    absent = pc.and_(pc.is_null(count_array), pa.array(lengths == 0))
    return pc.if_else(absent, pa.nulls(len(ids), lists.type), lists)


def child_insert_sql(component: ComponentTable, quote: Any, dialect: str) -> str:
    """A positional INSERT for child rows (``?`` on SQLite, ``%s`` on psycopg)."""
    names = [PARENT_KEY, ITEM_NO, "wave_id", *(c for _, c, _ in component.members)]
    mark = "%s" if dialect == "postgresql" else "?"
    return (
        f"INSERT INTO {quote(component.table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join(mark for _ in names)})"
    )


def member_names(component: ComponentTable) -> list[str]:
    """Storage columns of a child row after the policy id and item number."""
    return [c for _, c, _ in component.members]


def as_mapping(component: ComponentTable) -> Mapping[str, str]:
    """Relative item path -> storage column (for reports naming fields)."""
    return {path: column for path, column, _ in component.members}
