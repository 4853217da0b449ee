"""Delimited text (CSV, TSV, pipe, semicolon) with an explicit dialect, streamed by pyarrow.

Two streaming passes over the file (both bounded by pyarrow's block size):

1. every column read as text, to check the encoding up front (a bad byte raises InputError naming
   its byte offset and line before any batch is produced) and to decide numeric columns for the
   whole file (see :mod:`tools.content.readers._text_types`);
2. the batches, cast to those types. Rows with the wrong number of fields become BadRecords
   with their physical line number; the rest of the file is read normally.

Split by byte range (:meth:`CsvReader.record_ranges`, cut at row ends that
:mod:`tools.content.readers.row_cuts` finds outside quoted values), both passes run range by
range on an executor: pass 1 surveys each range (:meth:`CsvReader.survey_range`), the surveys
merge into the whole file's column types, and pass 2 decodes each range with them.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator, Mapping
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
from tools.content.readers.row_cuts import ascii_safe, row_cuts

_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "pipe": "|", "semicolon": ";", "comma": ","}
_BLOCK_SIZE = 4 << 20
#: The smallest byte range worth a task of its own, and the head sampled to size ranges.
_MIN_RANGE_BYTES, _SAMPLE_BYTES = 256 << 10, 1 << 20
Span = tuple[int, int]  # a byte range [start, end) of whole rows


def _skip(row: Any) -> str:
    """Pass over a ragged row (the schema probe reports none: the read itself does)."""
    return "skip"


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
        self._check_utf8()
        names = self._names()
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

    def _names(self) -> list[str] | None:
        """The names the options give; None: the header row's, or f0, f1... without one."""
        return list(self.options.columns) if self.options.columns else None

    def _check_utf8(self) -> None:
        if codecs.lookup(self.encoding).name == "utf-8":
            # pyarrow does not transcode UTF-8, so a bad byte would first surface inside its
            # invalid-row callback (an "Exception ignored" traceback) and then as a misleading
            # column-count error: find it up front and report it once, located.
            located = locate_decode_error(self.path, self.encoding)
            if located is not None:
                raise located

    # ------------------------------------------------------------------ ranges

    #: A range's bad records are numbered as if its first row followed the header: the ingest
    #: shifts their record_index and line by the records of the ranges before it.
    range_numbering: ClassVar[str] = "relative"

    def record_ranges(self, records: int) -> list[Span] | None:
        """Byte ranges of about ``records`` rows each, cut where a row ends outside any quoted
        value; None when the file is read in one pass (one range, an escape character in the
        file, or an encoding whose newline is not the ASCII byte)."""
        opts = self.options
        check_file(self.path)
        if not ascii_safe(self.encoding):
            return None
        with self.path.open("rb") as fh:
            sample = fh.read(_SAMPLE_BYTES)
        first = 0
        for _ in range(opts.skip_rows + (1 if opts.header else 0)):
            first = sample.find(b"\n", first) + 1
            if first == 0:
                return None
        per_row = len(sample) / max(1, sample.count(b"\n"))
        cuts = row_cuts(
            self.path,
            max(_MIN_RANGE_BYTES, int(records * per_row)),
            first=first,
            delimiter=opts.delimiter,
            quotechar=opts.quotechar,
            doublequote=opts.doublequote,
            escapechar=opts.escapechar,
        )
        if not cuts:
            return None
        self._check_utf8()  # as batches() does: one located error before any range is read
        bounds = [0, *cuts, self.path.stat().st_size]
        return list(zip(bounds[:-1], bounds[1:], strict=True))

    def range_plan(self) -> dict[str, Any]:
        """What every range needs from the whole file: its column names (the header's, read
        once here), and ``types`` once :meth:`plan_from_surveys` has merged the surveys."""
        try:
            return {"names": self._probe_names(self._names()), "types": None}
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._explain(exc) from None

    @property
    def survey_rounds(self) -> int:
        """Pass 1 runs by range (one survey) only when column types are inferred."""
        return 1 if self.options.infer_types else 0

    def survey_range(self, span: Span, plan: dict[str, Any]) -> dict[str, Any]:
        """Pass 1 over one range: what the typer saw (merged by :meth:`plan_from_surveys`)."""
        opts = self.options
        typer = NumericColumnTyper(opts.decimal, opts.thousands)
        for part in self._stream(self._names(), typer, bad=None, span=span, plan=plan):
            typer.observe(part.records)
        return typer.seen

    def plan_from_surveys(
        self, plan: dict[str, Any], surveys: Iterable[dict[str, Any]]
    ) -> dict[str, Any]:
        """The plan with the whole file's column types, from the ranges' surveys in order."""
        typer = NumericColumnTyper(self.options.decimal, self.options.thousands)
        for seen in surveys:
            typer.merge(seen)
        return {**plan, "types": typer.types()}

    def range_batches(
        self, span: Span, batch_rows: int = DEFAULT_BATCH_ROWS, plan: dict[str, Any] | None = None
    ) -> Iterator[ReadBatch]:
        """Pass 2 over one range: its rows cast to the plan's types, bad rows numbered as
        :attr:`range_numbering` says."""
        check_batch_rows(batch_rows)
        opts = self.options
        plan = plan or self.range_plan()
        typer = NumericColumnTyper(opts.decimal, opts.thousands)
        types = plan["types"] or {}
        bad: list[BadRecord] = []

        def typed() -> Iterator[ReadBatch]:
            for part in self._stream(self._names(), typer, bad=bad, span=span, plan=plan):
                records = typer.apply(part.records, types) if types else part.records
                yield ReadBatch(records, bad[:], part.bytes_read)
                bad.clear()
            if bad:
                yield ReadBatch(pa.RecordBatch.from_pylist([]), bad[:], span[1])

        yield from rebatch(typed(), batch_rows)

    # ------------------------------------------------------------------ parsing

    def _read_options(self, names: list[str] | None, start: int) -> pv.ReadOptions:
        """The whole file's read options; a range after the first has no preamble nor header
        and takes the names the plan read from the header."""
        opts = self.options
        if start:
            return pv.ReadOptions(
                use_threads=False, block_size=_BLOCK_SIZE, column_names=names,
                encoding=self.encoding,
            )  # fmt: skip
        return pv.ReadOptions(
            use_threads=False,  # keeps physical line numbers on invalid rows
            block_size=_BLOCK_SIZE,
            skip_rows=opts.skip_rows + (1 if opts.header and names else 0),
            column_names=names,
            autogenerate_column_names=not opts.header and not names,
            encoding=self.encoding,
        )

    def _parse_options(self, on_invalid: Any) -> pv.ParseOptions:
        opts = self.options
        return pv.ParseOptions(
            delimiter=opts.delimiter,
            quote_char=opts.quotechar or False,
            double_quote=opts.doublequote,
            escape_char=opts.escapechar or False,
            newlines_in_values=opts.newlines_in_values,
            invalid_row_handler=on_invalid,
        )

    def _probe_names(self, names: list[str] | None) -> list[str]:
        """The column names as pyarrow reads them from the head of the file (checked unique).

        The probe gets its own file handle, closed before the real read starts: pyarrow may
        still be reading ahead on a probe's handle (transcoding runs in a background thread),
        and sharing one handle lost rows of large latin-1 files.
        """
        convert_options = self._convert_options()
        with self.path.open("rb") as probe_fh:
            probe = pv.open_csv(
                probe_fh, self._read_options(names, 0), self._parse_options(_skip), convert_options
            )
            found = list(probe.schema.names)
            del probe
        self._check_names(found)
        return found

    def _convert_options(self) -> pv.ConvertOptions:
        return pv.ConvertOptions(
            null_values=self.options.null_values,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )

    def _stream(  # noqa: PLR0913
        self,
        names: list[str] | None,
        typer: NumericColumnTyper,
        bad: list[BadRecord] | None,
        *,
        span: Span | None = None,
        plan: dict[str, Any] | None = None,
    ) -> Iterator[ReadBatch]:
        opts = self.options
        header_lines = opts.skip_rows + (1 if opts.header else 0)
        # a later range's rows are numbered from 1: as if they followed the header
        line_shift = header_lines if span is not None and span[0] else 0

        collecting = False  # the schema probe parses the first block too: report rows once

        def on_invalid(row: Any) -> str:
            if bad is not None and collecting:
                line = row.number + line_shift
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

        read_names = plan["names"] if plan is not None and span and span[0] else names
        read_options = self._read_options(read_names, span[0] if span else 0)
        parse_options = self._parse_options(on_invalid)
        convert_options = self._convert_options()
        try:
            found = plan["names"] if plan is not None else self._probe_names(names)
            convert_options.column_types = {n: pa.string() for n in found}
            collecting = True
            if span is None:
                with self.path.open("rb") as fh:
                    reader = pv.open_csv(fh, read_options, parse_options, convert_options)
                    for batch in reader:
                        yield ReadBatch(batch, [], fh.tell())
                return
            with self.path.open("rb") as fh:  # a range: a task's worth of rows, read at once
                fh.seek(span[0])
                data = pa.py_buffer(fh.read(span[1] - span[0]))
            reader = pv.open_csv(
                pa.BufferReader(data), read_options, parse_options, convert_options
            )
            for batch in reader:
                yield ReadBatch(batch, [], span[1])
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
