"""Fixed-width text described by a layout of fields (name, start, length).

Records are lines (or, with ``record_length``, fixed-size chunks of a file without newlines).
Fields are cut with vectorised ``utf8_slice_codeunits`` per batch, so positions count decoded
characters (identical to bytes for single-byte encodings such as latin-1 or cp1252).
Like the CSV reader it makes a text pass first (encoding check, numeric typing) and then emits.

Split by byte range (:meth:`FixedWidthReader.record_ranges`: at line ends, or at multiples of
``record_length``), both passes run range by range on an executor: each range's text pass is a
survey of its columns, merged into the whole file's types, then each range is cast with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.content.readers._text_types import NumericColumnTyper
from tools.content.readers.base import DEFAULT_BATCH_ROWS, RAW_CAP, BadRecord, ReadBatch
from tools.content.readers.encodings import check_encoding, decode_error, locate_decode_error
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows
from tools.content.readers.row_cuts import LineSpan, ascii_safe, line_spans, lines_of

#: The smallest byte range worth a task of its own, and the head sampled to size ranges.
_MIN_RANGE_BYTES, _SAMPLE_BYTES = 256 << 10, 1 << 20


class FieldSpec(BaseModel):
    """One field of the layout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    start: int = Field(ge=0)  # 1-based by default, see FixedWidthOptions.start_origin
    length: int = Field(ge=1)


class FixedWidthOptions(ReaderOptions):
    """Options of the ``fixed_width`` reader."""

    fields: list[FieldSpec] = Field(min_length=1)
    encoding: str = "utf-8"
    start_origin: Literal[0, 1] = 1  # 1: start is a 1-based column as in record layouts
    record_length: int | None = Field(default=None, ge=1)  # records without line breaks
    skip_rows: int = Field(default=0, ge=0)
    strip: bool = True  # trim surrounding blanks from every value
    null_values: list[str] = [""]  # after stripping
    allow_short_lines: bool = True  # pad lines shorter than the layout (trailing blanks cut)
    infer_types: bool = True

    @model_validator(mode="after")
    def _layout(self) -> FixedWidthOptions:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate field names: {', '.join(dupes)}")
        if self.start_origin == 1 and any(f.start == 0 for f in self.fields):
            raise ValueError("start is 1-based (start_origin: 1) but a field starts at 0")
        return self


class FixedWidthReader:
    """Reads one fixed-width text file; format name ``fixed_width``."""

    format_name: ClassVar[str] = "fixed_width"
    options_model: ClassVar[type[ReaderOptions]] = FixedWidthOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(FixedWidthOptions, options, self.format_name)
        self.encoding = check_encoding(self.options.encoding, self.format_name)
        origin = self.options.start_origin
        self._slices = [(f.name, f.start - origin, f.length) for f in self.options.fields]
        self._record_end = max(s + n for _, s, n in self._slices)

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` records."""
        check_batch_rows(batch_rows)
        check_file(self.path)
        typer = NumericColumnTyper()
        if self.options.infer_types:
            for batch in self._text_batches(batch_rows):
                typer.observe(batch.records)
        types = typer.types() if self.options.infer_types else {}
        for batch in self._text_batches(batch_rows):
            if types:
                batch.records = typer.apply(batch.records, types)
            yield batch

    def _raw_records(self, span: LineSpan | None = None) -> Iterator[tuple[int, int, bytes]]:
        """Yield (line number or 0, byte offset, record bytes), of the file or of one range."""
        opts = self.options
        if span is not None:
            yield from self._span_records(span)
            return
        with self.path.open("rb") as fh:
            offset = 0
            if opts.record_length:
                fh.seek(opts.skip_rows * opts.record_length)
                offset = fh.tell()
                while chunk := fh.read(opts.record_length):
                    yield 0, offset, chunk
                    offset += len(chunk)
                return
            for number, line in enumerate(fh, start=1):
                start, offset = offset, offset + len(line)
                if number <= opts.skip_rows:
                    continue
                body = line.rstrip(b"\r\n")
                if body.strip():  # blank lines (often a trailing one) are not records
                    yield number, start, body

    def _span_records(self, span: LineSpan) -> Iterator[tuple[int, int, bytes]]:
        """The records of one range (after the preamble: :meth:`record_ranges` skips it)."""
        start, end, number = span
        with self.path.open("rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        size = self.options.record_length
        if size:
            for at in range(0, len(data), size):
                yield 0, start + at, data[at : at + size]
            return
        offset = start
        for line in lines_of(data):
            body = line.rstrip(b"\r\n")
            if body.strip():
                yield number, offset, body
            number, offset = number + 1, offset + len(line)

    def _text_batches(self, batch_rows: int, span: LineSpan | None = None) -> Iterator[ReadBatch]:
        chunk: list[tuple[int, int, bytes]] = []
        index = 0  # a range's records are numbered from its start (see range_numbering)
        for item in self._raw_records(span):
            chunk.append(item)
            if len(chunk) == batch_rows:
                yield self._decode(chunk, index)
                index += len(chunk)
                chunk = []
        if chunk:
            yield self._decode(chunk, index)

    # ------------------------------------------------------------------ ranges

    #: A range's bad records are numbered from its first record (the ingest shifts them by the
    #: records before); their lines and byte offsets are the file's.
    range_numbering: ClassVar[str] = "relative_index"

    def record_ranges(self, records: int) -> list[LineSpan] | None:
        """Byte ranges of about ``records`` records each, past the preamble rows: cut at line
        ends, or at multiples of ``record_length``; None when the file is read in one pass
        (one range, or lines in an encoding whose newline is not the ASCII byte)."""
        opts = self.options
        check_file(self.path)
        size = self.path.stat().st_size
        if opts.record_length:
            width = opts.record_length
            step = max(records, _MIN_RANGE_BYTES // width) * width
            first = min(size, opts.skip_rows * width)
            spans = [(at, min(at + step, size), 0) for at in range(first, size, step)]
        else:
            if not ascii_safe(self.encoding):
                return None
            with self.path.open("rb") as fh:
                sample = fh.read(_SAMPLE_BYTES)
            first = 0
            for _ in range(opts.skip_rows):
                first = sample.find(b"\n", first) + 1
                if first == 0:
                    return None
            per_line = len(sample) / max(1, sample.count(b"\n"))
            every = max(_MIN_RANGE_BYTES, int(records * per_line))
            spans = line_spans(self.path, every, start=first, line=opts.skip_rows + 1)
        if len(spans) < 2:
            return None
        located = locate_decode_error(self.path, self.encoding)  # one error, before any range
        if located is not None:
            raise located
        return spans

    def range_plan(self) -> dict[str, Any]:
        """What every range needs from the whole file: the column types, once surveyed."""
        return {"types": None}

    @property
    def survey_rounds(self) -> int:
        """One survey of the ranges (their text pass) when column types are inferred."""
        return 1 if self.options.infer_types else 0

    def survey_range(self, span: LineSpan, plan: dict[str, Any]) -> dict[str, Any]:
        """The text pass over one range: what the typer saw (merged by plan_from_surveys)."""
        typer = NumericColumnTyper()
        for batch in self._text_batches(DEFAULT_BATCH_ROWS, span):
            typer.observe(batch.records)
        return typer.seen

    def plan_from_surveys(
        self, plan: dict[str, Any], surveys: Iterable[dict[str, Any]]
    ) -> dict[str, Any]:
        """The plan with the whole file's column types, from the ranges' surveys in order."""
        typer = NumericColumnTyper()
        for seen in surveys:
            typer.merge(seen)
        return {**plan, "types": typer.types()}

    def range_batches(
        self,
        span: LineSpan,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        plan: dict[str, Any] | None = None,
    ) -> Iterator[ReadBatch]:
        """One range's records cast to the plan's types (text without a plan)."""
        check_batch_rows(batch_rows)
        types = (plan or {}).get("types") or {}
        typer = NumericColumnTyper()
        for batch in self._text_batches(batch_rows, span):
            if types:
                batch.records = typer.apply(batch.records, types)
            yield batch

    def _decode(self, chunk: list[tuple[int, int, bytes]], first_index: int) -> ReadBatch:
        texts: list[str] = []
        for line, offset, raw in chunk:
            try:
                texts.append(raw.decode(self.encoding))
            except UnicodeDecodeError as exc:
                raise decode_error(
                    self.path, self.encoding, offset + exc.start, line or None, raw[exc.start :]
                ) from None
        lines = pa.array(texts, pa.string())
        bad: list[BadRecord] = []
        if not self.options.allow_short_lines:
            short = pc.less(pc.utf8_length(lines), self._record_end)
            for i in pc.indices_nonzero(short).to_pylist():
                line, offset, raw = chunk[i]
                bad.append(
                    BadRecord(
                        record_index=first_index + i,
                        byte_offset=offset,
                        line=line or None,
                        reason=f"record has {len(texts[i])} characters, layout needs "
                        f"{self._record_end}",
                        raw=raw[:RAW_CAP],
                    )
                )
            if bad:
                lines = pc.filter(lines, pc.invert(short))
        arrays = []
        null_values = pa.array(self.options.null_values, pa.string())
        for _name, start, length in self._slices:
            value = pc.utf8_slice_codeunits(lines, start, start + length)
            if self.options.strip:
                value = pc.utf8_trim_whitespace(value)
            if len(null_values):
                value = pc.if_else(pc.is_in(value, null_values), None, value)
            arrays.append(value)
        names = [n for n, _, _ in self._slices]
        records = pa.RecordBatch.from_arrays(arrays, names=names)
        return ReadBatch(records, bad, chunk[-1][1] + len(chunk[-1][2]))
