"""Parquet, read with ``ParquetFile.iter_batches``; struct columns flattened to dotted names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, ReadBatch
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows


class ParquetOptions(ReaderOptions):
    """Options of the ``parquet`` reader."""

    columns: list[str] | None = None  # top-level columns to read (default: all)


def flatten_array(name: str, array: pa.Array) -> list[tuple[str, pa.Array]]:
    """Split struct arrays into dotted leaf columns; rename list<struct> fields to dotted paths.

    A null struct makes all its leaves null (``StructArray.flatten`` applies the parent validity).
    """
    if pa.types.is_struct(array.type):
        out: list[tuple[str, pa.Array]] = []
        for field, child in zip(array.type, array.flatten(), strict=True):
            out.extend(flatten_array(f"{name}.{field.name}", child))
        return out
    if (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)) and pa.types.is_struct(
        array.type.value_type
    ):
        values = array.values
        leaves = flatten_array("", values)
        struct = pa.StructArray.from_arrays(
            [a for _, a in leaves], names=[n[1:] for n, _ in leaves]
        )
        cls = pa.LargeListArray if pa.types.is_large_list(array.type) else pa.ListArray
        offsets = array.offsets  # index into the unsliced ``values`` even for a sliced array
        mask = pc.is_null(array) if array.null_count else None
        return [(name, cls.from_arrays(offsets, struct, mask=mask))]
    return [(name, array)]


def flatten_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Flatten every struct column of ``batch`` (no-op when there is none)."""
    if not any(pa.types.is_struct(t) or pa.types.is_list(t) for t in batch.schema.types):
        return batch
    names: list[str] = []
    arrays: list[pa.Array] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        for leaf, array in flatten_array(name, column):
            names.append(leaf)
            arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=names)


class ParquetReader:
    """Reads one Parquet file; format name ``parquet``."""

    format_name: ClassVar[str] = "parquet"
    options_model: ClassVar[type[ReaderOptions]] = ParquetOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(ParquetOptions, options, self.format_name)

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` rows in file order."""
        check_batch_rows(batch_rows)
        check_file(self.path)
        try:
            pf = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(
                f"not a readable Parquet file: {exc}",
                where=str(self.path),
                fix="check the file, or set the right format",
            ) from None
        names = pf.schema_arrow.names
        missing = [c for c in self.options.columns or [] if c not in names]
        if missing:
            raise InputError(
                f"columns not in the file: {', '.join(missing)}",
                where=str(self.path),
                fix=f"choose from: {', '.join(names)}",
            )
        with pf:
            done = 0
            batches = pf.iter_batches(batch_size=batch_rows, columns=self.options.columns)
            while True:
                try:  # a damaged page or footer shows only when its row group is read
                    batch = next(batches, None)
                except (pa.ArrowException, OSError) as exc:
                    raise InputError(
                        f"damaged Parquet file after {done:,} rows: {exc}",
                        where=str(self.path),
                        fix="check the file, or write it again",
                    ) from None
                if batch is None:
                    break
                done += batch.num_rows
                yield ReadBatch(flatten_batch(batch), [], _progress(pf, done))


def _progress(pf: pq.ParquetFile, rows_done: int) -> int:
    """Approximate bytes consumed: the file size in proportion to rows read."""
    total = pf.metadata.num_rows or 1
    size = sum(pf.metadata.row_group(i).total_byte_size for i in range(pf.num_row_groups))
    return int(size * min(rows_done / total, 1.0))
