"""Flat row form of canonical Arrow records, shared by the SQL and file targets.

A target stores one value per scalar leaf (column `policy_core__policy_id` for
`policy_core.policy_id`) and one JSON text per list component. Conversion is column-wise with
Arrow compute (casts to text are vectorised); only non-empty list cells go through Python's json.

Text form is exact: decimals keep their scale (`1234.50`), dates are ISO (`2024-01-31`), list items
carry every leaf as a string. A null list stays null and an empty list stays `[]`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError
from knowledge.canonical import arrow_schema
from tools.waves.targets.base import POLICY_ID

MAX_IDENTIFIER = 63  # PostgreSQL's limit; SQLite has none
_WAVE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class FlatColumn:
    """One stored column: a scalar leaf or a whole list component."""

    path: str
    """Canonical Arrow column name (`policy_core.policy_id`, `coverage_sections`)."""
    name: str
    """Sanitised storage name (`policy_core__policy_id`)."""
    type: pa.DataType
    """Canonical Arrow type."""

    @property
    def is_list(self) -> bool:
        """True for a list component stored as JSON text."""
        return pa.types.is_list(self.type)

    @property
    def text_type(self) -> pa.DataType:
        """The all-string twin of the type (list<struct<string...>> for lists)."""
        if not self.is_list:
            return pa.string()
        struct = self.type.value_type
        return pa.list_(pa.struct([pa.field(f.name, pa.string()) for f in struct]))


def sanitise(path: str) -> str:
    """Storage name of a dotted path: `policy_core.policy_id` -> `policy_core__policy_id`."""
    name = re.sub(r"[^0-9a-z_]", "_", path.lower().replace(".", "__"))
    if len(name) > MAX_IDENTIFIER:  # keep names unique and legal on PostgreSQL
        name = f"{name[: MAX_IDENTIFIER - 9]}_{hashlib.sha1(path.encode()).hexdigest()[:8]}"
    return name


@lru_cache(maxsize=8)
def flat_columns(version: str = "policy_v1") -> tuple[FlatColumn, ...]:
    """The stored columns of canonical `version`, in Arrow schema order (policy id first)."""
    return tuple(FlatColumn(f.name, sanitise(f.name), f.type) for f in arrow_schema(version))


def check_wave_id(wave_id: str) -> str:
    """Refuse wave ids that cannot be part of a file name; returns the id unchanged."""
    if not isinstance(wave_id, str) or not _WAVE_ID.match(wave_id):
        raise InputError(
            f"wave id {wave_id!r} cannot name a file",
            where="wave_id",
            fix="use letters, digits, '.', '_' or '-' (at most 100 characters)",
        )
    return wave_id


def cast_to_schema(
    table: pa.Table | pa.RecordBatch, schema: pa.Schema, *, where: str, fix: str
) -> pa.Table:
    """``table`` with exactly ``schema``'s columns: cast where the type differs, null where a
    column is absent. ``where`` and ``fix`` go into the error.

    Raises:
        InputError: the policy id column is missing, or a column cannot be cast.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if POLICY_ID not in table.column_names:
        raise InputError(f"{where}: no {POLICY_ID} column", where=where, fix=fix)
    arrays = []
    for field in schema:
        if field.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        try:
            arrays.append(column if column.type == field.type else column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise InputError(
                f"column {field.name!r} cannot be read as {field.type}: {exc}",
                where=f"{where}, column {field.name}",
                fix=fix,
            ) from None
    return pa.Table.from_arrays(arrays, schema=schema)


def conform(table: pa.Table | pa.RecordBatch, version: str = "policy_v1") -> pa.Table:
    """Select and cast the canonical columns of `table`; absent optional columns become null.

    Raises:
        InputError: the policy id column is missing or null, or a column cannot be cast.
    """
    out = cast_to_schema(
        table,
        arrow_schema(version),
        where="records",
        fix="pass canonical records (records_to_arrow / arrow_schema)",
    )
    ids = out.column(POLICY_ID)
    if ids.null_count:
        row = pc.index(pc.is_null(ids), True).as_py()
        raise InputError(
            "a record has no policy id",
            where=f"records row {row}, {POLICY_ID}",
            fix="every canonical record needs policy_core.policy_id",
        )
    return out


_CONTROL = r"[\x00-\x1f]"


def _json_text(values: pa.Array) -> pa.Array | None:
    """Quoted JSON string literals for a string array (null -> `null`); None if a value needs
    escapes beyond backslash and quote (control characters), which json.dumps handles instead."""
    if pc.any(pc.match_substring_regex(values, _CONTROL)).as_py():
        return None
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.fill_null(quoted, "null")


def _json_lists(array: pa.Array, flat: FlatColumn) -> pa.Array | None:
    """Each list cell as compact JSON text, built column-wise with Arrow string kernels."""
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy()
    if not lengths.any():  # the usual case for most components: only nulls and empty lists
        return pc.if_else(pc.is_null(array), pa.scalar(None, pa.string()), "[]")
    text = array.cast(flat.text_type)
    items = pc.list_flatten(text)
    members: list[Any] = ["{"]
    for index, field in enumerate(items.type):
        literal = _json_text(items.field(index))
        if literal is None:
            return None
        members.extend([("," if index else "") + json.dumps(field.name) + ":", literal])
    members.extend(["}", ""])
    objects = pc.binary_join_element_wise(*members)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype("int32"))
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, objects), ",")
    cells = pc.binary_join_element_wise("[", joined, "]", "")
    return pc.if_else(pc.is_null(array), pa.scalar(None, pa.string()), cells)


def _encode_list(
    column: pa.ChunkedArray | pa.Array, flat: FlatColumn, *, as_json: bool
) -> list[Any]:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if as_json:
        cells = _json_lists(array, flat)
        if cells is not None:
            return cells.to_pylist()
    # Python fallback (control characters in a value, or native lists for PostgreSQL JSONB);
    # most list cells are empty, so only the filled ones are converted.
    lengths = pc.fill_null(pc.list_value_length(array), -1).to_numpy()
    out: list[Any] = [None] * len(array)
    for index in np.flatnonzero(lengths == 0):
        out[index] = "[]" if as_json else []
    filled = np.flatnonzero(lengths > 0)
    if len(filled):
        texts = array.take(pa.array(filled)).cast(flat.text_type).to_pylist()
        for position, items in zip(filled.tolist(), texts, strict=True):
            out[position] = (
                json.dumps(items, separators=(",", ":"), ensure_ascii=False) if as_json else items
            )
    return out


def encode(table: pa.Table, version: str = "policy_v1", *, text: bool) -> list[list[Any]]:
    """One Python value list per flat column of a conformed table.

    Args:
        table: output of :func:`conform`.
        version: canonical version.
        text: scalars as exact text and lists as JSON text (SQLite, files), or scalars as native
            values (Decimal, date) and lists as Python lists of string dicts (PostgreSQL JSONB).
    """
    columns: list[list[Any]] = []
    for flat in flat_columns(version):
        column = table.column(flat.path)
        if flat.is_list:
            columns.append(_encode_list(column, flat, as_json=text))
        elif text and not pa.types.is_string(flat.type):
            columns.append(column.cast(pa.string()).to_pylist())
        else:
            columns.append(column.to_pylist())
    return columns


def _decode_list(values: Sequence[Any] | pa.Array, flat: FlatColumn) -> pa.Array:
    if isinstance(values, pa.Array):
        values = values.to_pylist()
    parsed = [json.loads(v) if isinstance(v, str | bytes) else v for v in values]
    return pa.array(parsed, type=flat.text_type).cast(flat.type)


def decode(
    columns: Mapping[str, Sequence[Any] | pa.Array], version: str = "policy_v1", *, text: bool
) -> pa.RecordBatch:
    """Rebuild a canonical record batch from stored values keyed by storage name.

    Args:
        columns: storage name -> values (Python list or Arrow array); absent columns read as null.
        version: canonical version.
        text: scalars are text to be parsed (else already native Python/Arrow values).
    """
    schema = arrow_schema(version)
    length = len(next(iter(columns.values()))) if columns else 0
    arrays: list[pa.Array] = []
    for flat in flat_columns(version):
        values = columns.get(flat.name)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if values is None:
            arrays.append(pa.nulls(length, flat.type))
        elif flat.is_list:
            arrays.append(_decode_list(values, flat))
        elif isinstance(values, pa.Array):
            arrays.append(values.cast(flat.type))
        elif text:
            arrays.append(pa.array(values, type=pa.string()).cast(flat.type))
        else:
            arrays.append(pa.array(values, type=flat.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def to_json_value(value: Any) -> Any:
    """json.dumps default: Decimal and dates as the canonical model's JSON writes them."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
