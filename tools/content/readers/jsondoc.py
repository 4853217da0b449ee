"""JSON documents (a top-level array, or an object holding the array under ``records_key``) and
JSON Lines. Nested objects become dotted columns, arrays stay lists (see ``record_shape``).

The JSON array is streamed with ``json.JSONDecoder.raw_decode`` over a sliding text buffer, so a
file of any size is read one record at a time. Two passes: shapes first, then batches.

Split into ranges, both passes run range by range on an executor (each range's shapes are a
survey, merged in file order into the whole file's columns): JSON Lines by byte range cut at
line ends; a JSON array by record range, from a streaming pass that notes where every range's
first record starts.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import IO, Any, ClassVar, NoReturn

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, RAW_CAP, BadRecord, ReadBatch
from tools.content.readers.encodings import check_encoding, decode_error, locate_decode_error
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows
from tools.content.readers.record_shape import MAX_NESTING, RecordShape, flatten, nesting_error
from tools.content.readers.row_cuts import LineSpan, ascii_safe, line_spans, lines_of

_CHUNK = 1 << 20
_MAX_RECORD_CHARS = 64 << 20
_WS = " \t\r\n"
_TOO_DEEP = f"objects and arrays nested deeper than the parser allows (limit {MAX_NESTING})"

Item = tuple[int, int, Any, str | None, bytes | None]  # (index, line, record, error, raw)
#: A JSON array's range: (first record, records, byte where the first starts, its line).
RecordSpan = tuple[int, int, int, int]
#: The smallest byte range of JSON Lines worth a task of its own, and the head sampled to size.
_MIN_RANGE_BYTES, _SAMPLE_BYTES = 256 << 10, 1 << 20


class JsonOptions(ReaderOptions):
    """Options of the ``json`` reader."""

    encoding: str = "utf-8"
    records_key: str = "records"  # used when the top level is an object


class JsonlOptions(ReaderOptions):
    """Options of the ``jsonl`` reader."""

    encoding: str = "utf-8"


class _DictRecordsReader:
    """Shared two-pass batching for readers that produce dict records."""

    format_name: ClassVar[str]
    path: Path

    def _items(self, span: Any = None) -> Iterator[Item]:
        """The file's records (or one range's: :meth:`record_ranges`)."""
        raise NotImplementedError

    def _bytes_read(self) -> int:
        return 0

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` records; undecodable ones become BadRecords."""
        check_batch_rows(batch_rows)
        check_file(self.path)
        yield from self._batched(self._items(), self._shape(self._items()), batch_rows)

    @staticmethod
    def _shape(items: Iterable[Item]) -> RecordShape:
        shape = RecordShape()
        for _, _, record, error, _ in items:
            if error is None:
                shape.observe(flatten(record))
        return shape

    # ------------------------------------------------------------------ ranges

    survey_rounds: ClassVar[int] = 1  # the ranges' shapes

    def record_ranges(self, records: int) -> list[Any] | None:
        """The file's ranges of about ``records`` records; None: read in one pass."""
        raise NotImplementedError

    def range_plan(self) -> dict[str, Any]:
        """What every range needs from the whole file: its columns, once surveyed."""
        return {"shape": None}

    def survey_range(self, span: Any, plan: dict[str, Any]) -> RecordShape:
        """The shapes of one range's records (merged in file order by plan_from_surveys)."""
        return self._shape(self._items(span))

    def plan_from_surveys(
        self, plan: dict[str, Any], surveys: Iterable[RecordShape]
    ) -> dict[str, Any]:
        """The plan with the whole file's columns, from the ranges' shapes in order."""
        return {**plan, "shape": RecordShape.merged(surveys)}

    def range_batches(
        self, span: Any, batch_rows: int = DEFAULT_BATCH_ROWS, plan: dict[str, Any] | None = None
    ) -> Iterator[ReadBatch]:
        """One range's records against the plan's columns (the range's own without a plan)."""
        check_batch_rows(batch_rows)
        shape = (plan or {}).get("shape") or self._shape(self._items(span))
        yield from self._batched(self._items(span), shape, batch_rows)

    def _batched(
        self, items: Iterable[Item], shape: RecordShape, batch_rows: int
    ) -> Iterator[ReadBatch]:
        schema = shape.schema()
        rows: list[dict[str, Any]] = []
        bad: list[BadRecord] = []
        for index, line, record, error, raw in items:
            if error is not None:
                bad.append(BadRecord(record_index=index, reason=error, line=line, raw=raw))
                continue
            rows.append(flatten(record))
            if len(rows) == batch_rows:
                yield ReadBatch(shape.to_batch(rows, schema), bad, self._bytes_read())
                rows, bad = [], []
        if rows or bad:
            yield ReadBatch(shape.to_batch(rows, schema), bad, self._bytes_read())


class JsonlReader(_DictRecordsReader):
    """One JSON object per line; format name ``jsonl``."""

    format_name: ClassVar[str] = "jsonl"
    options_model: ClassVar[type[ReaderOptions]] = JsonlOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(JsonlOptions, options, self.format_name)
        self.encoding = check_encoding(self.options.encoding, self.format_name)
        self._offset = 0

    def _bytes_read(self) -> int:
        return self._offset

    #: A range's records are numbered from its first (the ingest shifts them by the records
    #: before); their lines are the file's.
    range_numbering: ClassVar[str] = "relative_index"

    def record_ranges(self, records: int) -> list[LineSpan] | None:
        """Byte ranges of about ``records`` lines, cut at line ends (a newline always ends a
        record: inside a JSON string it is escaped); None for one range or an encoding whose
        newline is not the ASCII byte."""
        check_file(self.path)
        if not ascii_safe(self.encoding):
            return None
        with self.path.open("rb") as fh:
            sample = fh.read(_SAMPLE_BYTES)
        per_line = len(sample) / max(1, sample.count(b"\n"))
        spans = line_spans(self.path, max(_MIN_RANGE_BYTES, int(records * per_line)))
        if len(spans) < 2:
            return None
        located = locate_decode_error(self.path, self.encoding)  # one error, before any range
        if located is not None:
            raise located
        return spans

    def _items(self, span: LineSpan | None = None) -> Iterator[Item]:
        if span is None:
            with self.path.open("rb") as fh:
                yield from self._line_items(fh, 0, 1)
            return
        start, end, line = span
        with self.path.open("rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        yield from self._line_items(lines_of(data), start, line)

    def _line_items(self, lines: Iterable[bytes], offset: int, first_line: int) -> Iterator[Item]:
        index = 0
        self._offset = offset
        for number, raw in enumerate(lines, start=first_line):
            start, self._offset = self._offset, self._offset + len(raw)
            if not raw.strip():
                continue
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise decode_error(
                    self.path, self.encoding, start + exc.start, number, raw[exc.start :]
                ) from None
            if number == 1:
                text = text.lstrip("\ufeff")
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield (
                    index,
                    number,
                    None,
                    f"invalid JSON at column {exc.colno}: {exc.msg}",
                    raw[:RAW_CAP],
                )
            except RecursionError:  # deeper than the JSON parser goes: this line only
                yield index, number, None, _TOO_DEEP, raw[:RAW_CAP]
            else:
                deep = nesting_error(record)
                if deep is not None:
                    yield index, number, None, deep, raw[:RAW_CAP]
                elif isinstance(record, dict):
                    yield index, number, record, None, None
                else:
                    yield (
                        index,
                        number,
                        None,
                        f"expected a JSON object, found {type(record).__name__}",
                        raw[:RAW_CAP],
                    )
            index += 1


class JsonReader(_DictRecordsReader):
    """A JSON document holding an array of objects; format name ``json``."""

    format_name: ClassVar[str] = "json"
    options_model: ClassVar[type[ReaderOptions]] = JsonOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(JsonOptions, options, self.format_name)
        self.encoding = check_encoding(self.options.encoding, self.format_name)
        self._stream: _JsonArrayStream | None = None

    def _bytes_read(self) -> int:
        return self._stream.fh.tell() if self._stream and not self._stream.fh.closed else 0

    def record_ranges(self, records: int) -> list[RecordSpan] | None:
        """Ranges of ``records`` records, from one streaming pass over the document (the same
        parse as one pass, so a malformed document fails here as it would there) noting the
        byte and line where each range's first record starts; None for one range or an
        encoding whose structural characters are not single ASCII bytes."""
        check_file(self.path)
        if not ascii_safe(self.encoding):
            return None
        step = max(1, records)
        starts: list[tuple[int, int, int]] = []
        total = 0
        with self.path.open("rb") as fh:
            stream = _JsonArrayStream(fh, self.path, self.encoding)
            for total, (line, _value, at) in enumerate(
                stream.records(self.options.records_key, every=step), start=1
            ):
                if at >= 0:
                    starts.append((total - 1, at, line))
        if len(starts) < 2:
            return None
        ends = [first for first, _, _ in starts[1:]] + [total]
        return [(f, end - f, at, line) for (f, at, line), end in zip(starts, ends, strict=True)]

    def _items(self, span: RecordSpan | None = None) -> Iterator[Item]:
        with self.path.open("rb") as fh:
            if span is None:
                self._stream = _JsonArrayStream(fh, self.path, self.encoding)
                values = self._stream.records(self.options.records_key)
                first = 0
            else:
                first, count, start, line = span
                fh.seek(start)
                self._stream = _JsonArrayStream(fh, self.path, self.encoding, start, line)
                values = islice(self._stream.elements(), count)
            for index, (line, record, _) in enumerate(values, start=first):
                deep = nesting_error(record)
                if deep is not None:
                    yield index, line, None, deep, None
                elif isinstance(record, dict):
                    yield index, line, record, None, None
                else:
                    raw = json.dumps(record).encode()[:RAW_CAP]
                    yield (
                        index,
                        line,
                        None,
                        f"expected a JSON object, found {type(record).__name__}",
                        raw,
                    )


class _JsonArrayStream:
    """Incremental reader of the records array of one JSON document."""

    def __init__(
        self, fh: IO[bytes], path: Path, encoding: str, offset: int = 0, line: int = 1
    ) -> None:
        """Read from ``fh``, positioned at byte ``offset`` of the file (line ``line``)."""
        self.fh = fh
        self.path = path
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")
        self.json = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.line = line  # line number at self.pos
        self.eof = False
        self.bytes_in = offset

    def _byte_offset(self) -> int:
        """The file offset of ``self.pos`` (for encodings where text re-encodes to its bytes)."""
        pending = len(self.decoder.getstate()[0])
        return self.bytes_in - pending - len(self.buf[self.pos :].encode(self.encoding))

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.fh.read(_CHUNK)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise decode_error(
                self.path,
                self.encoding,
                self.bytes_in + exc.start,
                None,
                chunk[max(exc.start, 0) :],
            ) from None
        self.bytes_in += len(chunk)
        self.eof = not chunk
        if self.bytes_in == len(chunk):
            text = text.lstrip("\ufeff")
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True

    def _advance(self, end: int) -> None:
        self.line += self.buf.count("\n", self.pos, end)
        self.pos = end

    def _peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self._advance(self.pos + 1)
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def _expect(self, chars: str, what: str) -> str:
        char = self._peek()
        if char == "" or char not in chars:
            self._fail(f"expected {what}, found {char or 'end of file'!r}")
        self._advance(self.pos + 1)
        return char

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self.json.raw_decode(self.buf, self.pos)
            except RecursionError:  # the record's end cannot be found: the file stops here
                self._fail(_TOO_DEEP)
            except json.JSONDecodeError as exc:
                if not self.eof and len(self.buf) - self.pos < _MAX_RECORD_CHARS:
                    self._fill()
                    continue
                self._fail(exc.msg, exc.pos)
            if end == len(self.buf) and not self.eof:  # a number may continue in the next chunk
                self._fill()
                continue
            self._advance(end)
            return value

    def _fail(self, msg: str, at: int | None = None) -> NoReturn:
        line = self.line + (self.buf.count("\n", self.pos, at) if at is not None else 0)
        raise InputError(
            f"invalid JSON: {msg}",
            where=f"{self.path}: line {line}",
            fix="fix the document, or export it as JSON Lines (format jsonl) so "
            "one bad record does not stop the file",
        )

    def records(self, records_key: str, every: int = 0) -> Iterator[tuple[int, Any, int]]:
        """Yield (line, value, byte) for every element of the records array (see elements)."""
        first = self._peek()
        if first == "{":
            self._advance(self.pos + 1)
            keys: list[str] = []
            while True:
                if self._peek() == "}":
                    raise InputError(
                        f"the top-level object has no {records_key!r} array",
                        where=str(self.path),
                        fix=f"set records_key to one of: {', '.join(keys) or '(none)'}",
                    )
                key = self._value()
                keys.append(str(key))
                self._expect(":", "':'")
                if key == records_key:
                    if self._peek() != "[":
                        self._fail(f"{records_key!r} is not an array")
                    break
                self._value()
                self._expect(",}", "',' or '}'")
                if self.buf[self.pos - 1] == "}":
                    self.pos -= 1
        elif first != "[":
            self._fail("a JSON document of records must be an array or an object")
        self._expect("[", "'['")
        if self._peek() == "]":
            return
        yield from self.elements(every)

    def elements(self, every: int = 0) -> Iterator[tuple[int, Any, int]]:
        """Yield (line, value, byte) for the array's elements from here to its end; byte is
        where the element starts for every ``every``-th element (the first included), else -1."""
        count = 0
        while True:
            self._peek()  # skip the whitespace first: the line is where the record starts
            line = self.line
            at = self._byte_offset() if every and count % every == 0 else -1
            yield line, self._value(), at
            count += 1
            if self._expect(",]", "',' or ']'") == "]":
                return
