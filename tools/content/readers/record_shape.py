"""Python records (JSON, XML, spreadsheet rows) to Arrow with one stable schema per file.

Readers of self-describing formats make two passes: the first observes every record's flattened
shape (:class:`RecordShape`), the second builds batches against the resolved schema. Two passes
keep memory bounded by the batch while guaranteeing that every batch of a file has the same
columns and types, which one pass cannot (a key may first appear in the last record, an integer
column may turn out to hold one string).

Type resolution per column: only nulls -> string; bool -> bool; int (and integral floats) -> int64;
any fractional float -> float64; date -> date32; datetime (or date mixed with datetime) ->
timestamp[us]; lists -> list<element>, lists of objects -> list<struct> with dotted field names;
any other mixture -> string (scalars as JSON text), so no value is ever dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Objects and arrays nested deeper than this are refused per record: flattening, shape
# resolution and Arrow conversion recurse once per level, and no policy record needs more.
MAX_NESTING = 100


def nesting_error(value: Any, limit: int = MAX_NESTING) -> str | None:
    """Why ``value`` is nested too deeply for a record, or None (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return f"objects and arrays nested more than {limit} levels deep"
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, Mapping | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, Mapping | list))
    return None


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys; lists stay lists, their objects flattened too."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if value:
                out.update(flatten(value, f"{name}."))
            else:
                out[name] = None
        elif isinstance(value, list):
            out[name] = [flatten(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[name] = value
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64_MIN <= value <= _INT64_MAX else "bigint"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return "float_int"
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "dict"
    return "str"  # time, timedelta, Decimal...: kept as text


# Exact types whose kind needs no range check: looked up before :func:`_kind`'s chain of tests
# (text and nulls are most values of a file).
_PLAIN_KINDS: dict[type, str] = {str: "str", type(None): "null", bool: "bool"}


class ValueShape:
    """What one column (or list element) has held so far."""

    __slots__ = ("element", "fields", "kinds")

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.element: ValueShape | None = None  # for list values
        self.fields: RecordShape | None = None  # for dict values (inside lists)

    def observe(self, value: Any) -> None:
        kind = _PLAIN_KINDS.get(type(value)) or _kind(value)
        self.kinds.add(kind)
        if kind == "list":
            self.element = self.element or ValueShape()
            for item in value:
                self.element.observe(item)
        elif kind == "dict":
            self.fields = self.fields or RecordShape()
            self.fields.observe(value)

    def merge(self, other: ValueShape) -> None:
        """Add what ``other`` saw, as if this shape had observed its values after its own."""
        self.kinds |= other.kinds
        if other.element is not None:
            self.element = self.element or ValueShape()
            self.element.merge(other.element)
        if other.fields is not None:
            self.fields = self.fields or RecordShape()
            self.fields.merge(other.fields)

    def resolved(self) -> str:
        """The resolved kind: one of null, bool, int, float, date, datetime, str, list, dict."""
        kinds = self.kinds - {"null"}
        if not kinds:
            return "null"
        if kinds <= {"int", "float_int"}:
            return "int"
        if kinds <= {"int", "float_int", "float"}:
            return "float"
        if kinds <= {"date", "datetime"}:
            return "datetime" if "datetime" in kinds else "date"
        if len(kinds) == 1:
            only = next(iter(kinds))
            return "str" if only == "bigint" else only
        return "str"

    def arrow_type(self) -> pa.DataType:
        kind = self.resolved()
        if kind == "list":
            elem = self.element.arrow_type() if self.element else pa.string()
            return pa.list_(elem)
        if kind == "dict":
            assert self.fields is not None
            return pa.struct(self.fields.schema())
        return _SCALAR_TYPES.get(kind, pa.string())

    def passes_through(self) -> bool:
        """True when :meth:`coerce` returns every value seen so far unchanged (one scalar kind,
        or nulls only), so a batch can hand the values to pyarrow as they are."""
        kinds = self.kinds - {"null"}
        return not kinds or (len(kinds) == 1 and next(iter(kinds)) in _SAME_WHEN_COERCED)

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` so pyarrow accepts it for :meth:`arrow_type`."""
        if value is None:
            return None
        kind = self.resolved()
        if kind == "str":
            return _as_text(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "list":
            elem = self.element
            return [elem.coerce(v) if elem else _as_text(v) for v in value]
        if kind == "dict":
            assert self.fields is not None
            return self.fields.coerce(value)
        return value


_SCALAR_TYPES: dict[str, pa.DataType] = {
    "null": pa.string(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "str": pa.string(),
}


# Kinds whose values :meth:`ValueShape.coerce` returns unchanged when no other kind is mixed in
# (``bigint`` alone resolves to text, so it is not one of them).
_SAME_WHEN_COERCED = frozenset({"bool", "int", "float", "date", "datetime", "str"})


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | Mapping):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


class RecordShape:
    """Column order and value shapes seen across flattened records."""

    def __init__(self) -> None:
        self.columns: dict[str, ValueShape] = {}

    def observe(self, record: Mapping[str, Any]) -> None:
        for name, value in record.items():
            shape = self.columns.get(name)
            if shape is None:
                shape = self.columns[name] = ValueShape()
            shape.observe(value)

    def merge(self, other: RecordShape) -> None:
        """Add the shapes a later stretch of the file saw (a range's survey): the columns and
        types are then those one shape gives observing both stretches in order."""
        for name, shape in other.columns.items():
            mine = self.columns.get(name)
            if mine is None:
                mine = self.columns[name] = ValueShape()
            mine.merge(shape)

    @classmethod
    def merged(cls, surveys: Iterable[RecordShape]) -> RecordShape:
        """One shape of the ranges' surveys merged in file order."""
        shape = cls()
        for seen in surveys:
            shape.merge(seen)
        return shape

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(n, s.arrow_type()) for n, s in self.columns.items()])

    def coerce(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {n: s.coerce(record.get(n)) for n, s in self.columns.items()}

    def to_batch(self, records: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
        """Build one RecordBatch, column by column, against the resolved ``schema``."""
        rows = list(records)
        arrays = []
        for name, shape in self.columns.items():
            if shape.passes_through():  # most columns: skip a Python call per value
                values = [r.get(name) for r in rows]
            else:
                values = [shape.coerce(r.get(name)) for r in rows]
            arrays.append(pa.array(values, type=schema.field(name).type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
