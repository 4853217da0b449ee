"""Staged records: the Parquet parts an ingest writes, and how everything else reads them back.

A source's records live in ``<workspace>/staging/<tenant>/<source_id>/records/part-NNNNN.parquet``.
A reader may change an inferred type between batches (a JSON key that is null in the first
thousand records, a new key later); instead of failing or guessing up front, each schema change
starts a new part, and reading unifies the parts' schemas (null -> the later type, int -> float).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tools.content.readers.base import BadRecord

QUARANTINE_SCHEMA = pa.schema(
    [
        ("record_index", pa.int64()),
        ("byte_offset", pa.int64()),
        ("line", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.binary()),
    ]
)
RAW_LIMIT = 4096


class PartWriter:
    """Writes record batches as Parquet parts, starting a new part when the schema changes."""

    def __init__(self, folder: Path, prefix: str = "part-") -> None:
        self.folder = folder
        self.prefix = prefix  # a range of a file decoded apart: part-<range>-NNNNN.parquet
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self.parts = 0
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self._schema is None or not batch.schema.equals(self._schema):
            if self._schema is not None:
                try:
                    batch = batch.cast(self._schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                    self._open(batch.schema)
            else:
                self._open(batch.schema)
        assert self._writer is not None
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def _open(self, schema: pa.Schema) -> None:
        self.close()
        self._schema = schema
        path = self.folder / f"{self.prefix}{self.parts:05d}.parquet"
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.parts += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class QuarantineWriter:
    """Bad records with their position and reason, in bounded memory."""

    def __init__(self, path: Path, *, flush_every: int = 10_000) -> None:
        self.path = path
        self.flush_every = flush_every
        self._pending: list[BadRecord] = []
        self._writer: pq.ParquetWriter | None = None
        self.count = 0
        self.sample: list[BadRecord] = []

    def add(self, bad: Sequence[BadRecord]) -> None:
        for record in bad:
            self.count += 1
            if len(self.sample) < 20:
                self.sample.append(record)
            self._pending.append(record)
        if len(self._pending) >= self.flush_every:
            self._flush()

    def add_table(self, table: pa.Table) -> None:
        """Add bad records already in the quarantine's Arrow form (a worker's range of a file)."""
        if not table.num_rows:
            return
        self._flush()
        for row in table.slice(0, max(0, 20 - len(self.sample))).to_pylist():
            self.sample.append(BadRecord(**row))
        self.count += table.num_rows
        self._write(table)

    def _flush(self) -> None:
        if not self._pending:
            return
        self._write(bad_table(self._pending))
        self._pending = []

    def _write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, QUARANTINE_SCHEMA, compression="zstd")
        self._writer.write_table(table)

    def close(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()


def bad_table(bad: Sequence[BadRecord]) -> pa.Table:
    """Bad records as the quarantine's Arrow table."""
    return pa.table(
        {
            "record_index": [b.record_index for b in bad],
            "byte_offset": [b.byte_offset for b in bad],
            "line": [b.line for b in bad],
            "field": [b.field for b in bad],
            "reason": [b.reason for b in bad],
            "raw": [b.raw[:RAW_LIMIT] if b.raw else None for b in bad],
        },
        schema=QUARANTINE_SCHEMA,
    )


def staged_dataset(records_dir: Path) -> ds.Dataset:
    """All parts of a staged source as one dataset with a unified schema."""
    parts = sorted(records_dir.glob("part-*.parquet"))
    if not parts:
        return ds.dataset(pa.table({}))
    schemas = [pq.read_schema(p) for p in parts]
    schema = (
        pa.unify_schemas(schemas, promote_options="permissive") if len(schemas) > 1 else schemas[0]
    )
    return ds.dataset([str(p) for p in parts], schema=schema, format="parquet")


def staged_batches(
    records_dir: Path, *, columns: list[str] | None = None, batch_rows: int = 50_000
) -> Iterator[pa.RecordBatch]:
    """Stream a staged source's records in file order, in bounded memory.

    Part by part with ``ParquetFile.iter_batches``: a dataset scan reads ahead (hundreds of MB
    on a million records) while a slow consumer such as the profiler catches up.
    """
    parts = sorted(records_dir.glob("part-*.parquet"))
    if not parts:
        return
    schema = staged_dataset(records_dir).schema
    names = schema.names  # each access builds a new list: read it once (wide files: 20k columns)
    wanted = columns if columns is not None else names
    position = {name: i for i, name in enumerate(names)}
    target = pa.schema([schema.field(position[name]) for name in wanted])
    for part in parts:
        yield from part_batches(part, target, batch_rows=batch_rows)


def part_batches(
    part: Path,
    schema: pa.Schema,
    *,
    batch_rows: int = 50_000,
    row_groups: list[int] | None = None,
) -> Iterator[pa.RecordBatch]:
    """One part's records (or those of some of its row groups) in the source's unified schema
    (or the subset of its columns that ``schema`` names)."""
    handle = pq.ParquetFile(part)
    in_part = set(handle.schema_arrow.names)  # a property that rebuilds the schema each call
    present = [n for n in schema.names if n in in_part]
    for batch in handle.iter_batches(
        batch_size=batch_rows, row_groups=row_groups, columns=present, use_threads=False
    ):
        if batch.num_rows:
            yield _conform(batch, schema)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A part's batch in the unified schema: promoted types, missing columns as nulls."""
    if batch.schema.equals(schema):
        return batch
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, field.type))
        else:
            arrays.append(batch.column(index).cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def staged_slice(records_dir: Path, *, offset: int, limit: int) -> pa.Table:
    """Records ``offset`` to ``offset + limit`` (for paging through a source)."""
    taken: list[pa.RecordBatch] = []
    skipped = 0
    for batch in staged_batches(records_dir, batch_rows=max(limit, 1024)):
        if skipped + batch.num_rows <= offset:
            skipped += batch.num_rows
            continue
        start = max(0, offset - skipped)
        piece = batch.slice(start, limit - sum(b.num_rows for b in taken))
        taken.append(piece)
        skipped += batch.num_rows
        if sum(b.num_rows for b in taken) >= limit:
            break
    if not taken:
        return staged_dataset(records_dir).schema.empty_table()
    return pa.Table.from_batches(taken)


def quarantined(path: Path, *, limit: int = 100) -> list[dict[str, object]]:
    if not path.exists():
        return []
    table = pq.read_table(path, columns=["record_index", "byte_offset", "line", "field", "reason"])
    return table.slice(0, limit).to_pylist()
