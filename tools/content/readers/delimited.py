"""Delimited text (CSV, TSV, pipe, semicolon) with an explicit dialect, streamed by pyarrow.

Two streaming passes over the file (both bounded by pyarrow's block size):

1. every column read as text, to check the encoding up front (a bad byte raises InputError naming
   its byte offset and line before any batch is produced) and to decide numeric columns for the
   whole file (see :mod:`tools.content.readers._text_types`);
2. the batches, cast to those types. Rows with the wrong number of fields become BadRecords
   with their physical line number; the rest of the file is read normally.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.csv as pv
from pydantic import field_validator, model_validator

from core.errors import InputError
from tools.content.readers._text_types import NumericColumnTyper
from tools.content.readers.base import DEFAULT_BATCH_ROWS, RAW_CAP, BadRecord, ReadBatch
from tools.content.readers.encodings import check_encoding, locate_decode_error
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows, rebatch

_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "pipe": "|", "semicolon": ";", "comma": ","}
_BLOCK_SIZE = 4 << 20


class CsvOptions(ReaderOptions):
    """Options of the ``csv`` reader (all explicit in a source config)."""

    delimiter: str = ","  # one character; also "tab", "pipe", "semicolon", "comma", "\\t"
    quotechar: str | None = '"'  # null or "" disables quoting
    escapechar: str | None = None
    doublequote: bool = True
    encoding: str = "utf-8"
    header: bool = True  # first (non-skipped) row holds column names
    columns: list[str] | None = None  # names to use; required-ish when header is false
    skip_rows: int = 0  # preamble lines before the header / first record
    decimal: str = "."  # "," for European numbers ("12,50" -> 12.50)
    thousands: str | None = None  # e.g. "." with decimal ","
    null_values: list[str] = [""]  # exact strings read as null
    infer_types: bool = True  # false: every column stays text
    newlines_in_values: bool = True  # quoted values may span lines

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        value = _DELIMITER_NAMES.get(value.lower(), value)
        if len(value) != 1:
            raise ValueError("must be one character (or tab, pipe, semicolon, comma)")
        return value

    @field_validator("quotechar", "escapechar")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if len(value) != 1:
            raise ValueError("must be one character")
        return value

    @model_validator(mode="after")
    def _numbers(self) -> CsvOptions:
        if self.decimal not in (".", ","):
            raise ValueError("decimal must be '.' or ','")
        if self.decimal == self.delimiter:
            raise ValueError("decimal separator cannot equal the delimiter (quote the values)")
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError("thousands separator cannot equal the decimal separator")
        return self


class CsvReader:
    """Reads one delimited text file; format name ``csv``."""

    format_name: ClassVar[str] = "csv"
    options_model: ClassVar[type[ReaderOptions]] = CsvOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(CsvOptions, options, self.format_name)
        self.encoding = check_encoding(self.options.encoding, self.format_name)

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` rows; ragged rows become BadRecords."""
        check_batch_rows(batch_rows)
        check_file(self.path)
        opts = self.options
        typer = NumericColumnTyper(opts.decimal, opts.thousands)
        if codecs.lookup(self.encoding).name == "utf-8":
            # pyarrow does not transcode UTF-8, so a bad byte would first surface inside its
            # invalid-row callback (an "Exception ignored" traceback) and then as a misleading
            # column-count error: find it up front and report it once, located.
            located = locate_decode_error(self.path, self.encoding)
            if located is not None:
                raise located
        names = list(opts.columns) if opts.columns else None  # else header row or f0, f1...
        # Pass 1: text only; fails fast on encoding problems and decides the numeric columns.
        for part in self._stream(names, typer, bad=None):
            if opts.infer_types:
                typer.observe(part.records)
        types = typer.types() if opts.infer_types else {}
        bad: list[BadRecord] = []

        def typed() -> Iterator[ReadBatch]:
            for part in self._stream(names, typer, bad=bad):
                records = typer.apply(part.records, types) if types else part.records
                yield ReadBatch(records, bad[:], part.bytes_read)
                bad.clear()
            if bad:
                yield ReadBatch(pa.RecordBatch.from_pylist([]), bad[:], 0)

        yield from rebatch(typed(), batch_rows)

    def _stream(
        self, names: list[str] | None, typer: NumericColumnTyper, bad: list[BadRecord] | None
    ) -> Iterator[ReadBatch]:
        opts = self.options
        header_lines = opts.skip_rows + (1 if opts.header else 0)

        collecting = False  # the schema probe parses the first block too: report rows once

        def on_invalid(row: Any) -> str:
            if bad is not None and collecting:
                line = row.number
                bad.append(
                    BadRecord(
                        record_index=(line - header_lines - 1) if line else len(bad),
                        reason=(
                            f"expected {row.expected_columns} fields, found {row.actual_columns}"
                        ),
                        line=line,
                        raw=row.text.encode(self.encoding, "replace")[:RAW_CAP],
                    )
                )
            return "skip"

        read_options = pv.ReadOptions(
            use_threads=False,  # keeps physical line numbers on invalid rows
            block_size=_BLOCK_SIZE,
            skip_rows=opts.skip_rows + (1 if opts.header and names else 0),
            column_names=names,
            autogenerate_column_names=not opts.header and not names,
            encoding=self.encoding,
        )
        parse_options = pv.ParseOptions(
            delimiter=opts.delimiter,
            quote_char=opts.quotechar or False,
            double_quote=opts.doublequote,
            escape_char=opts.escapechar or False,
            newlines_in_values=opts.newlines_in_values,
            invalid_row_handler=on_invalid,
        )
        convert_options = pv.ConvertOptions(
            null_values=opts.null_values,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        try:
            # The schema probe gets its own file handle, closed before the real read starts:
            # pyarrow may still be reading ahead on a probe's handle (transcoding runs in a
            # background thread), and sharing one handle lost rows of large latin-1 files.
            with self.path.open("rb") as probe_fh:
                probe = pv.open_csv(probe_fh, read_options, parse_options, convert_options)
                self._check_names(probe.schema.names)
                convert_options.column_types = {n: pa.string() for n in probe.schema.names}
                del probe
            collecting = True
            with self.path.open("rb") as fh:
                reader = pv.open_csv(fh, read_options, parse_options, convert_options)
                for batch in reader:
                    yield ReadBatch(batch, [], fh.tell())
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._explain(exc) from None

    def _check_names(self, names: list[str]) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise InputError(
                    f"column name {name!r} appears twice in the header",
                    where=f"{self.path}: line {self.options.skip_rows + 1}",
                    fix="give unique names with the columns option",
                )
            seen.add(name)

    def _explain(self, exc: Exception) -> InputError:
        text = str(exc)
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "utf-8" in text.lower():
            located = locate_decode_error(self.path, self.encoding)
            if located is not None:
                return located
        if "Empty CSV file" in text:
            return InputError(
                "file has no header row",
                where=str(self.path),
                fix="set header: false and columns: [...]",
            )
        if "duplicate" in text.lower() or "column names" in text.lower():
            return InputError(
                f"bad header: {text}",
                where=f"{self.path}: line 1",
                fix="give unique names with the columns option",
            )
        return InputError(
            f"cannot parse as delimited text: {text}",
            where=str(self.path),
            fix="check delimiter, quotechar and encoding (try data-mash ingest --detect)",
        )
