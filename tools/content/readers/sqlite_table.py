"""SQLite: one table, or the result of one read-only query, fetched with ``fetchmany``.

SQLite types values per cell, not per column, so a first SQL-side pass asks ``typeof()`` of every
column (``group_concat(DISTINCT typeof(col))``) and fixes one Arrow type per column for the whole
result: integer -> int64, integer+real / real -> float64, text or any mixture -> string (values
rendered as text), blob -> binary. The database is opened read-only (``mode=ro``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import model_validator

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, ReadBatch
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows

_SQLITE_MAGIC = b"SQLite format 3\x00"


class SqliteOptions(ReaderOptions):
    """Options of the ``sqlite`` reader: exactly one of ``table`` or ``query``."""

    table: str | None = None
    query: str | None = None  # a single SELECT

    @model_validator(mode="after")
    def _one_source(self) -> SqliteOptions:
        if (self.table is None) == (self.query is None):
            raise ValueError("set exactly one of table or query")
        return self


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


_TEXT_ONLY = frozenset({"text", "null", ""})  # typeof() values of a column read as str or None


def _arrow_type(kinds: set[str]) -> pa.DataType:
    kinds = kinds - {"null", ""}
    if kinds == {"integer"}:
        return pa.int64()
    if kinds and kinds <= {"integer", "real"}:
        return pa.float64()
    if kinds == {"blob"}:
        return pa.binary()
    return pa.string()  # text, nothing but nulls, or a mixture


class SqliteReader:
    """Reads one table or query of a SQLite database; format name ``sqlite``."""

    format_name: ClassVar[str] = "sqlite"
    progress_unit: ClassVar[str] = "records"  # a database file's bytes do not map to rows
    options_model: ClassVar[type[ReaderOptions]] = SqliteOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(SqliteOptions, options, self.format_name)

    def _connect(self) -> sqlite3.Connection:
        check_file(self.path)
        with self.path.open("rb") as fh:
            if fh.read(16) != _SQLITE_MAGIC:
                raise InputError(
                    "not a SQLite database",
                    where=str(self.path),
                    fix="check the file, or set the right format",
                )
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)

    def _source_sql(self, con: sqlite3.Connection) -> str:
        if self.options.query is not None:
            return self.options.query.strip().rstrip(";")
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            )
        ]
        if self.options.table not in tables:
            raise InputError(
                f"table {self.options.table!r} not found",
                where=str(self.path),
                fix=f"set table to one of: {', '.join(tables) or '(none)'}",
            )
        return f"SELECT * FROM {_quote(self.options.table or '')}"

    def records_total(self) -> int | None:
        """Rows the table or query returns (None when the count itself fails)."""
        con = self._connect()
        try:
            row = con.execute(f"SELECT count(*) FROM ({self._source_sql(con)})").fetchone()
            return int(row[0]) if row else None
        except sqlite3.Error:
            return None  # batches() reports the broken query
        finally:
            con.close()

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` rows."""
        check_batch_rows(batch_rows)
        con = self._connect()
        try:
            sql = self._source_sql(con)
            try:
                cursor = con.execute(f"SELECT * FROM ({sql}) LIMIT 0")
            except sqlite3.Error as exc:
                raise InputError(
                    f"query failed: {exc}",
                    where=f"{self.path}: {sql}",
                    fix="fix the query (it must be one SELECT)",
                ) from None
            names = [d[0] for d in cursor.description]
            probes = ", ".join(f"group_concat(DISTINCT typeof({_quote(n)}))" for n in names)
            kinds = con.execute(f"SELECT {probes} FROM ({sql})").fetchone() if names else ()
            stored = [set((k or "").split(",")) for k in kinds]
            schema = pa.schema(
                [pa.field(n, _arrow_type(k)) for n, k in zip(names, stored, strict=True)]
            )
            # columns holding text and nulls only reach pyarrow as they are
            as_is = [k <= _TEXT_ONLY for k in stored]
            cursor = con.execute(sql)
            while rows := cursor.fetchmany(batch_rows):
                columns = list(zip(*rows, strict=True))
                arrays = [
                    pa.array(values, type=field.type) if plain else _column(values, field.type)
                    for values, field, plain in zip(columns, schema, as_is, strict=True)
                ]
                yield ReadBatch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        except sqlite3.DatabaseError as exc:  # a damaged file fails on first touch or mid-read
            raise InputError(
                f"damaged SQLite database: {exc}",
                where=str(self.path),
                fix="check the file (sqlite3 FILE 'PRAGMA integrity_check'), or export it again",
            ) from None
        finally:
            con.close()


def _column(values: tuple[Any, ...], type_: pa.DataType) -> pa.Array:
    if pa.types.is_string(type_):
        values = tuple(
            v if v is None or isinstance(v, str) else (v.hex() if isinstance(v, bytes) else str(v))
            for v in values
        )
    return pa.array(values, type=type_)
