"""From canonical records to a target system's layout (JSON Schema or SQL CREATE TABLE).

Target columns are matched to canonical fields by name (full path, path without its component,
then the shortest unambiguous suffix: `state` -> `policy_core.insured_party.address.state`) or by
an explicit correspondence `{target column: canonical path}`. A list field feeding a scalar column
takes the first item's value (`coverage_sections[].coverage_type` -> the first coverage's type);
an array column takes all items' values.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel

from core.errors import InputError
from knowledge.canonical import arrow_to_records, fields

TargetType = Literal[
    "string", "integer", "number", "date", "datetime", "boolean", "array", "object"
]
_SQL_TYPES: list[tuple[str, TargetType]] = [
    (r"^(N?VARCHAR|N?CHAR|CHARACTER|TEXT|STRING|CLOB|VARCHAR2|NVARCHAR2|UUID)", "string"),
    (r"^(BIGINT|INT|INTEGER|SMALLINT|TINYINT|SERIAL|BIGSERIAL)\b", "integer"),
    (r"^NUMBER\s*\(\s*\d+\s*\)$", "integer"),
    (r"^(DECIMAL|NUMERIC|NUMBER|REAL|FLOAT|DOUBLE|MONEY)", "number"),
    (r"^DATE$", "date"),
    (r"^(TIMESTAMP|DATETIME)", "datetime"),
    (r"^(BOOL|BOOLEAN|BIT)", "boolean"),
    (r"^(JSON|JSONB)", "object"),
]
_SKIP = re.compile(r"^(PRIMARY|CONSTRAINT|UNIQUE|FOREIGN|CHECK|KEY|INDEX)\b", re.I)


class TargetColumn(BaseModel):
    """A target column and the canonical field that feeds it (None when nothing matched)."""

    name: str
    type: TargetType
    source: str | None


class ReverseMapping(BaseModel):
    """Records in the target layout, and how each column was filled."""

    columns: list[TargetColumn]
    unmatched: list[str]
    records: list[dict[str, Any]]


def _json_type(spec: Mapping[str, Any]) -> TargetType:
    kind = spec.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string" and spec.get("format") in ("date", "date-time"):
        return "date" if spec["format"] == "date" else "datetime"
    return (
        kind if kind in ("string", "integer", "number", "boolean", "array", "object") else "string"
    )


def _split_top(body: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in body:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [p for p in [*parts, current.strip()] if p]


def parse_ddl(ddl: str) -> list[tuple[str, TargetType]]:
    """Column names and types of the first CREATE TABLE statement.

    Raises:
        InputError: no CREATE TABLE, or a column type that is not recognised.
    """
    text = re.sub(r"--[^\n]*|/\*.*?\*/", "", ddl, flags=re.S)
    match = re.search(
        r"CREATE\s+(?:\w+\s+)*TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[^\s(]+\s*\(", text, re.I
    )
    if match is None:
        raise InputError(
            "no CREATE TABLE statement found",
            where="target schema (SQL DDL)",
            fix="give CREATE TABLE name (column type, ...)",
        )
    depth, end = 1, match.end()
    while end < len(text) and depth:
        depth += (text[end] == "(") - (text[end] == ")")
        end += 1
    columns: list[tuple[str, TargetType]] = []
    for line, item in enumerate(_split_top(text[match.end() : end - 1]), start=1):
        if _SKIP.match(item):
            continue
        parts = re.match(r'^("[^"]+"|`[^`]+`|\[[^\]]+\]|\S+)\s+(.+)$', item, re.S)
        if parts is None:
            raise InputError(
                f"cannot read column definition {item!r}",
                where=f"target schema (SQL DDL), column {line}",
                fix="write each column as: name TYPE [constraints]",
            )
        name = parts.group(1).strip('"`[]')
        sql_type = parts.group(2).strip().upper()
        kind = next((k for pattern, k in _SQL_TYPES if re.match(pattern, sql_type)), None)
        if kind is None:
            raise InputError(
                f"unknown SQL type {sql_type.split()[0]!r} for column {name!r}",
                where="target schema (SQL DDL)",
                fix="use VARCHAR, INTEGER, NUMERIC, DATE, TIMESTAMP, BOOLEAN or JSON",
            )
        columns.append((name, kind))
    return columns


def parse_target_schema(target_schema: str | Mapping[str, Any]) -> list[tuple[str, TargetType]]:
    """Columns of a JSON Schema (object or array of objects) or SQL DDL text."""
    if isinstance(target_schema, str):
        stripped = target_schema.lstrip()
        if not stripped.startswith("{"):
            return parse_ddl(target_schema)
        try:
            target_schema = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"invalid JSON: {exc.msg}",
                where=f"target schema, line {exc.lineno}",
                fix="give a JSON Schema object or SQL DDL",
            ) from None
    schema: dict[str, Any] = dict(target_schema)  # type: ignore[arg-type]
    if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        schema = dict(schema["items"])
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        raise InputError(
            "the JSON Schema has no properties",
            where="target schema",
            fix="describe the target record as an object with properties",
        )
    return [
        (name, _json_type(spec if isinstance(spec, Mapping) else {}))
        for name, spec in props.items()
    ]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def match_columns(
    names: list[str], version: str = "policy_v1", explicit: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """The canonical path for each target column name (None when nothing matches uniquely).

    Raises:
        InputError: an explicit correspondence names a canonical path that does not exist.
    """
    paths = [f.path for f in fields(version)]
    explicit = dict(explicit or {})
    for column, path in explicit.items():
        if path not in paths:
            raise InputError(
                f"canonical field {path!r} does not exist in {version}",
                where=f"correspondence for column {column!r}",
                fix="use a dotted canonical path such as policy_core.policy_id",
            )
    out: dict[str, str | None] = {}
    for name in names:
        if name in explicit:
            out[name] = explicit[name]
            continue
        key = _norm(name)
        full = [p for p in paths if _norm(p) == key]
        local = [p for p in paths if _norm(p.split(".", 1)[-1]) == key]
        suffix = [
            p
            for p in paths
            if any(_norm(".".join(p.split(".")[i:])) == key for i in range(1, len(p.split("."))))
        ]
        scalar_suffix = [p for p in suffix if "[]" not in p]
        chosen = next((c for c in (full, local, suffix, scalar_suffix) if len(c) == 1), None)
        out[name] = chosen[0] if chosen else None
    return out


def _dig(record: Mapping[str, Any], path: str, want_list: bool) -> Any:
    if "[]" in path:
        head, _, rest = path.partition("[].")
        items = _dig(record, head, False) or []
        values = [_dig(item, rest, False) for item in items]
        return values if want_list else (values[0] if values else None)
    node: Any = record
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _convert(value: Any, kind: TargetType, column: str) -> Any:
    if value is None or kind in ("array", "object"):
        return value
    if kind == "string":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind == "integer":
        number = Decimal(str(value))
        if number != number.to_integral_value():
            raise InputError(
                f"{value} is not a whole number",
                where=f"target column {column!r}",
                fix="map the column to a decimal type or another canonical field",
            )
        return int(number)
    if kind == "number":
        return Decimal(str(value))
    if kind == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if kind == "datetime":
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return dt.datetime.combine(day, dt.time())
    return bool(value)


def map_from_canonical(
    records: Iterable[Mapping[str, Any]] | pa.Table,
    target_schema: str | Mapping[str, Any],
    *,
    correspondence: Mapping[str, str] | None = None,
    version: str = "policy_v1",
) -> ReverseMapping:
    """Reshape canonical records into a target layout.

    Args:
        records: canonical records (nested dicts) or a canonical Arrow table.
        target_schema: JSON Schema (dict or text) or SQL DDL with one CREATE TABLE.
        correspondence: explicit `{target column: canonical path}` pairs, tried first.
        version: the canonical version of the records.

    Returns:
        Target records (one per canonical record), each column's canonical source, and the
        columns nothing matched (left null).

    Raises:
        InputError: unreadable target schema, unknown canonical path, or a value that does not
            fit its column type.
    """
    columns = parse_target_schema(target_schema)
    matched = match_columns([c for c, _ in columns], version, correspondence)
    if isinstance(records, pa.Table):
        records = arrow_to_records(records, version)
    out = [
        {
            name: _convert(_dig(rec, path, kind == "array"), kind, name) if path else None
            for name, kind in columns
            for path in [matched[name]]
        }
        for rec in records
    ]
    return ReverseMapping(
        columns=[TargetColumn(name=n, type=k, source=matched[n]) for n, k in columns],
        unmatched=[n for n, _ in columns if matched[n] is None],
        records=out,
    )
