"""Re-batching reader output to the requested batch size."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

from core.errors import InputError
from tools.content.readers.base import BadRecord, ReadBatch


def rebatch(parts: Iterable[ReadBatch], batch_rows: int) -> Iterator[ReadBatch]:
    """Coalesce and split reader output so every batch holds between 1 and ``batch_rows`` rows.

    Bad records travel with the next emitted batch; a trailing batch with only bad records is
    emitted with zero rows so nothing is dropped. Every input part must share one schema.
    """
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    bad: list[BadRecord] = []
    bytes_read = 0
    schema: pa.Schema | None = None
    for part in parts:
        bad.extend(part.bad)
        bytes_read = max(bytes_read, part.bytes_read)
        rb = part.records
        if rb.num_columns or schema is None:
            schema = rb.schema
        start = 0
        while start < rb.num_rows:
            take = min(batch_rows - pending_rows, rb.num_rows - start)
            pending.append(rb.slice(start, take))
            pending_rows += take
            start += take
            if pending_rows == batch_rows:
                yield ReadBatch(_concat(pending), bad, bytes_read)
                pending, pending_rows, bad = [], 0, []
    if pending_rows or bad:
        if pending:
            records = _concat(pending)
        else:
            records = pa.RecordBatch.from_pylist([], schema=schema or pa.schema([]))
        yield ReadBatch(records, bad, bytes_read)


def _concat(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


def check_batch_rows(batch_rows: int) -> int:
    """Raise InputError for a non-positive batch size."""
    if batch_rows < 1:
        raise InputError(f"batch_rows must be at least 1, got {batch_rows}", where="batch_rows")
    return batch_rows
