"""A source reader for ``KEY=VALUE|KEY=VALUE`` lines (one record per line).

Registered as ``keyvalue`` in ``data_mash.readers``: ``data-mash ingest FILE --format keyvalue
--option columns=POLNO,PREM``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, BadRecord, ReadBatch


class KeyValueReader:
    """Decodes ``KEY=VALUE`` pairs; a line without ``=`` in a pair is quarantined, not dropped."""

    format_name: ClassVar[str] = "keyvalue"

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        # Validate options here, before any batch: a bad option is one clear InputError.
        columns = options.get("columns")
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(",") if c.strip()]
        if not columns:
            raise InputError(
                "the keyvalue reader needs the columns to stage",
                where="options.columns",
                fix="pass columns, e.g. --option columns=POLNO,PREM",
            )
        self.path = Path(path)
        self.columns: list[str] = list(columns)
        self.separator = str(options.get("separator", "|"))
        self.encoding = str(options.get("encoding", "utf-8"))
        # Every column is text: typing values is the profiler's and the mapping's job.
        self.schema = pa.schema([(name, pa.string()) for name in self.columns])

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` records, in file order (bounded memory)."""
        rows: list[dict[str, str | None]] = []
        bad: list[BadRecord] = []
        consumed = 0
        with self.path.open("rb") as handle:
            for index, raw in enumerate(handle):
                offset, consumed = consumed, consumed + len(raw)
                line = raw.decode(self.encoding).rstrip("\r\n")
                if not line.strip():
                    continue
                record, problem = self._parse(line)
                if problem:
                    bad.append(
                        BadRecord(
                            record_index=index, reason=problem, byte_offset=offset, line=index + 1
                        )
                    )
                else:
                    rows.append(record)
                if len(rows) >= batch_rows:
                    yield ReadBatch(self._batch(rows), bad, consumed)
                    rows, bad = [], []
        if rows or bad:
            yield ReadBatch(self._batch(rows), bad, consumed)

    def _parse(self, line: str) -> tuple[dict[str, str | None], str | None]:
        record: dict[str, str | None] = dict.fromkeys(self.columns)
        for pair in line.split(self.separator):
            key, equals, value = pair.partition("=")
            if not equals:
                return record, f"'{pair}' is not KEY=VALUE"
            if key.strip() in record:
                record[key.strip()] = value.strip() or None
        return record, None

    def _batch(self, rows: list[dict[str, str | None]]) -> pa.RecordBatch:
        return pa.RecordBatch.from_pylist(rows, schema=self.schema)
