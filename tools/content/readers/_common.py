"""Helpers every built-in reader shares: file checks, option parsing, decode errors, re-batching."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import InputError
from tools.content.readers.base import BadRecord, ReadBatch

RAW_CAP = 4096  # BadRecord.raw keeps at most this many bytes
_CHUNK = 1 << 20

OptionsT = TypeVar("OptionsT", bound="ReaderOptions")


class ReaderOptions(BaseModel):
    """Base of every reader's options model: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_options(model: type[OptionsT], options: Mapping[str, Any], fmt: str) -> OptionsT:
    """Validate reader options, turning pydantic errors into one InputError naming the option.

    Args:
        model: The reader's options model.
        options: Raw options from a source config or the command line.
        fmt: Format name, used in the message.

    Returns:
        The validated options.

    Raises:
        InputError: An option is unknown, missing or of the wrong type.
    """
    try:
        return model.model_validate(dict(options or {}))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "options"
            msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{loc}: {msg}")
        known = ", ".join(sorted(model.model_fields))
        raise InputError(
            f"invalid {fmt} reader options: {'; '.join(problems)}",
            where=f"options of format {fmt!r}",
            fix=f"valid options are: {known}",
        ) from None


def check_encoding(encoding: str, fmt: str) -> str:
    """Return the codec's canonical name, or raise InputError for an unknown encoding."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            f"unknown encoding {encoding!r}",
            where=f"options of format {fmt!r}",
            fix="use a Python codec name such as utf-8, latin-1, cp1252 or cp037",
        ) from None


def check_file(path: Path, *, allow_empty: bool = False) -> Path:
    """Raise InputError unless ``path`` is an existing, non-empty regular file."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            "file not found",
            where=str(path),
            fix="check the path (relative paths in a source config are relative to the YAML file)",
        )
    if not path.is_file():
        raise InputError("is not a regular file", where=str(path), fix="point at a file")
    if not allow_empty and path.stat().st_size == 0:
        raise InputError("file is empty", where=str(path), fix="re-export the source or drop it")
    return path


def suggest_encoding(sample: bytes) -> str:
    """Guess which single-byte encoding fits bytes that are not valid for the requested one."""
    from tools.content.detect import guess_encoding

    return guess_encoding(sample)


def locate_decode_error(path: Path, encoding: str, start: int = 0) -> InputError | None:
    """Scan ``path`` incrementally and describe the first undecodable byte, if any.

    Memory stays at one chunk; used after a fast decoder reported a problem without a position.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, line = start, 1  # offset of the first byte of ``chunk``
    with path.open("rb") as fh:
        fh.seek(start)
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            pending = len(decoder.getstate()[0])  # bytes of a split character carried over
            try:
                decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                data = exc.object
                line += data.count(b"\n", 0, exc.start)
                bad_at = offset - pending + exc.start
                return decode_error(path, encoding, bad_at, line, bytes(data[exc.start :]))
            if final:
                return None
            line += chunk.count(b"\n")
            offset += len(chunk)


def decode_error(
    path: Path, encoding: str, offset: int, line: int | None, sample: bytes
) -> InputError:
    """Build the InputError for bytes that ``encoding`` cannot decode."""
    guess = suggest_encoding(sample)
    where = f"{path}: byte offset {offset}" + (f", line {line}" if line else "")
    return InputError(
        f"cannot decode byte 0x{sample[:1].hex() or '??'} as {encoding}",
        where=where,
        fix=f"the file looks like {guess}; set the source option encoding: {guess}",
    )


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
