"""The contract every source-format reader follows (built-ins and plugins alike).

A reader is a class registered under the entry-point group ``data_mash.readers``; its entry-point
name is the format name used in source configs (``csv``, ``cobol``, ``jsonl``...). It decodes one
file into Arrow record batches so memory stays bounded by the batch size, never the file size.

Records that cannot be decoded are not dropped: they are reported as :class:`BadRecord` beside the
batch they would have belonged to, with their position and the reason, and the ingest quarantines
them. A problem with the file as a whole (unreadable copybook, unknown code page, options that make
no sense) is raised as :class:`core.errors.InputError` before any batch is produced.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa

DEFAULT_BATCH_ROWS = 50_000
RAW_CAP = 4096  # BadRecord.raw keeps at most this many bytes


@dataclass(frozen=True, slots=True)
class BadRecord:
    """One record the reader could not decode, and where it sits in the file."""

    record_index: int  # 0-based position among the file's records
    reason: str
    byte_offset: int | None = None  # for binary and text files where it is known
    line: int | None = None  # 1-based, for line-oriented text formats
    field: str | None = None  # the field that failed, when one did
    raw: bytes | None = None  # the undecoded bytes, capped by the reader (first 4 KiB)


@dataclass(slots=True)
class ReadBatch:
    """A batch of decoded records plus the records of the same stretch that failed to decode."""

    records: pa.RecordBatch
    bad: list[BadRecord] = field(default_factory=list)
    bytes_read: int = 0  # cumulative bytes consumed from the file, for progress bars


@runtime_checkable
class SourceReader(Protocol):
    """A streaming decoder for one file format."""

    format_name: ClassVar[str]
    # Optional: the options model (a ReaderOptions subclass or a dataclass). When present, text
    # values from a command line are parsed by each option's declared type.

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        """Validate options and open nothing heavy yet; raise InputError on bad options."""

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield decoded batches in file order; the concatenation is the whole file."""
        ...
