"""SQL for canonical records: CREATE TABLE DDL (a policy table plus one table per list component)
and batched INSERT statements, portable across PostgreSQL, SQLite and most SQL engines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa

from knowledge.canonical import mandatory_paths
from tools.canonical.model_tree import Leaf, list_components, model_tree

ROOT_TABLE = "canonical_policy"
KEY = "record_id"
INSERT_ROWS = 500


def column_name(path: str) -> str:
    """SQL column of a canonical path: `policy_core.insured_party.address.state` ->
    `policy_core_insured_party_address_state`."""
    return path.replace("[]", "").replace(".", "_")


def table_name(list_path: str) -> str:
    return f"{ROOT_TABLE}_{column_name(list_path)}"


def _sql_type(leaf: Leaf) -> str:
    if leaf.kind == "date":
        return "DATE"
    if leaf.kind == "decimal":
        return f"NUMERIC({leaf.max_digits or 18},{leaf.decimal_places or 0})"
    return f"VARCHAR({leaf.max_length})" if leaf.max_length else "VARCHAR(255)"


def create_statements(version: str = "policy_v1") -> list[str]:
    """CREATE TABLE statements for canonical records of `version`."""
    tree = model_tree(version)
    scalar = [leaf for leaf in tree.all_leaves() if "[]" not in leaf.path]

    mandatory = set(mandatory_paths(version))
    lines = [f"  {KEY} BIGINT NOT NULL PRIMARY KEY"]
    lines += [
        f"  {column_name(leaf.path)} {_sql_type(leaf)}"
        + (" NOT NULL" if leaf.path in mandatory else "")
        for leaf in scalar
    ]
    statements = [f"CREATE TABLE {ROOT_TABLE} (\n" + ",\n".join(lines) + "\n);"]
    for item in list_components(version):
        body = [
            f"  {KEY} BIGINT NOT NULL REFERENCES {ROOT_TABLE} ({KEY})",
            "  item_no INTEGER NOT NULL",
        ]
        body += [
            f"  {column_name(leaf.name)} {_sql_type(leaf)}"
            + (" NOT NULL" if leaf.required and leaf.name.count(".") == 0 else "")
            for leaf in item.all_leaves()
        ]
        body.append(f"  PRIMARY KEY ({KEY}, item_no)")
        statements.append(
            f"CREATE TABLE {table_name(item.list_path or '')} (\n" + ",\n".join(body) + "\n);"
        )
    return statements


def literal(value: Any) -> str:
    """A SQL literal for a canonical value."""
    if value is None:
        return "NULL"
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _insert(table: str, columns: list[str], rows: list[list[Any]]) -> str:
    values = ",\n".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n{values};\n"


def insert_statements(
    batch: pa.RecordBatch, first_record: int, version: str = "policy_v1"
) -> Iterator[str]:
    """INSERT statements for one batch of canonical records (ids numbered from `first_record`)."""
    tree = model_tree(version)
    scalar = [leaf.path for leaf in tree.all_leaves() if "[]" not in leaf.path]
    data = batch.to_pydict()
    keys = list(range(first_record, first_record + batch.num_rows))
    columns = [KEY, *[column_name(p) for p in scalar]]
    rows = [[key, *[data[p][i] for p in scalar]] for i, key in enumerate(keys)]
    for start in range(0, len(rows), INSERT_ROWS):
        yield _insert(ROOT_TABLE, columns, rows[start : start + INSERT_ROWS])
    for item in list_components(version):
        names = [leaf.name for leaf in item.all_leaves()]
        child_rows = [
            [key, number, *[entry.get(n) for n in names]]
            for key, items in zip(keys, data.get(item.list_path or "", []), strict=True)
            for number, entry in enumerate(items or [])
        ]
        child_columns = [KEY, "item_no", *[column_name(n) for n in names]]
        for start in range(0, len(child_rows), INSERT_ROWS):
            yield _insert(
                table_name(item.list_path or ""),
                child_columns,
                child_rows[start : start + INSERT_ROWS],
            )
