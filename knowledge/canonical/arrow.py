"""Canonical records as Arrow tables, per the shared column convention.

One column per scalar leaf, named by its full dotted path
(`policy_core.insured_party.address.state`);
each list component (`coverage_sections`, `payments.payment_history`, ...) is one list<struct>
column whose struct fields are the paths relative to the item (`limits.per_occurrence`).

Reading back, an optional object whose leaves are all null (and whose lists are empty) comes back
as None: Arrow cannot tell "no address" from "an address with nothing in it", and neither can a
migration target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from core.errors import InputError
from knowledge.canonical.catalogue import CanonicalField, fields
from knowledge.canonical.types import MONEY_DIGITS

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "date": pa.date32(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
}


def _arrow_type(field: CanonicalField) -> pa.DataType:
    if field.type == "decimal":
        return pa.decimal128(MONEY_DIGITS, field.decimal_places or 0)
    return _ARROW_TYPES[field.type]


def _arrow_field(name: str, field: CanonicalField) -> pa.Field:
    meta = {"canonical_path": field.path, "mandatory": str(field.mandatory).lower()}
    return pa.field(name, _arrow_type(field), nullable=True, metadata=meta)


@lru_cache(maxsize=16)
def arrow_schema(version: str = "policy_v1") -> pa.Schema:
    """The Arrow schema of canonical records of `version`.

    Args:
        version: a registered version name.

    Returns:
        Scalar leaves as dotted-name columns and list components as list<struct> columns, in
        catalogue order; schema metadata carries `canonical_version`.
    """
    columns: list[pa.Field] = []
    seen_lists: set[str] = set()
    catalogue = fields(version)
    for field in catalogue:
        if field.list_path is None:
            columns.append(_arrow_field(field.path, field))
        elif field.list_path not in seen_lists:
            seen_lists.add(field.list_path)
            members = [
                _arrow_field(f.relative_path, f)
                for f in catalogue
                if f.list_path == field.list_path
            ]
            columns.append(pa.field(field.list_path, pa.list_(pa.struct(members)), nullable=True))
    return pa.schema(columns, metadata={"canonical_version": version})


def _dig(obj: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if obj is None:
            return None
        obj = obj.get(key)
    return obj


def _coerce(value: Any, kind: str, where: str) -> Any:
    # Records usually arrive as model_dump() output (already typed) but JSON-shaped dicts with ISO
    # strings and numeric strings are accepted too, so exports can be re-imported.
    if value is None:
        return None
    try:
        if kind == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if kind == "decimal":
            return value if isinstance(value, Decimal) else Decimal(str(value))
    except (ValueError, InvalidOperation):
        raise InputError(
            f"{value!r} is not a valid {kind}",
            where=where,
            fix="validate records against the canonical model before writing them to Arrow",
        ) from None
    return value


def _row(record: Mapping[str, Any], catalogue: list[CanonicalField], index: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in catalogue:
        where = f"record {index}, field {field.path}"
        if field.list_path is None:
            row[field.path] = _coerce(_dig(record, field.path), field.type, where)
            continue
        items = _dig(record, field.list_path)
        if items is None:
            row.setdefault(field.list_path, None)
            continue
        structs = row.setdefault(field.list_path, [{} for _ in items])
        for struct, item in zip(structs, items, strict=True):
            struct[field.relative_path] = _coerce(
                _dig(item, field.relative_path), field.type, where
            )
    return row


def records_to_arrow(
    records: Iterable[Mapping[str, Any] | BaseModel], version: str = "policy_v1"
) -> pa.Table:
    """Convert canonical records (nested dicts or model instances) into an Arrow table.

    Args:
        records: records shaped like the canonical model of `version`.
        version: a registered version name.

    Returns:
        A table with exactly `arrow_schema(version)`.

    Raises:
        InputError: a value cannot be represented (bad date, too many decimal places).
    """
    catalogue = fields(version)
    schema = arrow_schema(version)
    rows = [
        _row(r.model_dump() if isinstance(r, BaseModel) else r, catalogue, i)
        for i, r in enumerate(records)
    ]
    columns = []
    for column in schema:
        try:
            columns.append(pa.array([row[column.name] for row in rows], type=column.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputError(
                f"cannot store values in Arrow column {column.name!r}: {exc}",
                where=f"column {column.name}",
                fix="amounts allow 2 decimal places and factors 6; validate records first",
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)


def _nest(flat: Mapping[str, Any], leaves: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value_key in leaves:
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = flat.get(value_key)
    return out


def _prune(node: dict[str, Any], keep_root: bool) -> dict[str, Any] | None:
    # Bottom-up: an object with nothing in it becomes None so optional objects round-trip.
    empty = True
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = value = _prune(value, keep_root=False)
        if value not in (None, []):
            empty = False
    return None if empty and not keep_root else node


def arrow_to_records(table: pa.Table, version: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield nested record dicts, shaped like the canonical model, from an Arrow table.

    Args:
        table: a table in the layout of `arrow_schema(version)`.
        version: the canonical version; read from the schema metadata when omitted.

    Yields:
        One dict per row, batch by batch (memory bounded by the batch size).

    Raises:
        InputError: the table does not carry the columns of the version.
    """
    if version is None:
        meta = table.schema.metadata or {}
        version = meta.get(b"canonical_version", b"policy_v1").decode()
    catalogue = fields(version)
    missing = [c.name for c in arrow_schema(version) if c.name not in table.column_names]
    if missing:
        raise InputError(
            f"table lacks canonical {version} columns: {', '.join(missing[:5])}",
            where="arrow table",
            fix="write the table with records_to_arrow or arrow_schema(version)",
        )
    scalars = [(f.path, f.path) for f in catalogue if f.list_path is None]
    lists: dict[str, list[tuple[str, str]]] = {}
    for f in catalogue:
        if f.list_path is not None:
            lists.setdefault(f.list_path, []).append((f.relative_path, f.relative_path))
    for batch in table.to_batches():
        for flat in batch.to_pylist():
            record = _nest(flat, scalars)
            for list_path, leaves in lists.items():
                items = [
                    _prune(_nest(item, leaves), keep_root=True) for item in flat[list_path] or []
                ]
                *parents, leaf = list_path.split(".")
                node = record
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = items
            yield _prune(record, keep_root=True) or {}
