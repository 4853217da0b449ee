"""XML: every ``record_element`` is a record, streamed with ``xml.etree.ElementTree.iterparse``.

Each record's attributes and child elements become dotted columns (namespaces dropped):
``<policy id="7"><insured><name>A</name></insured></policy>`` -> ``id``, ``insured.name``.
A leaf with attributes keeps its text under its own path and its attributes below it
(``premium`` and ``premium.currency``). A child tag that repeats in any record of the file is a
list column in every record, so the schema is the same for the whole file; finding those tags
costs one extra streaming pass (three in total: repeats, shapes, batches). Elements are cleared
and detached as soon as they are read, so memory is bounded by one record plus the batch.

Split by record range (:meth:`XmlReader.record_ranges`: a streaming pass with expat notes the
byte where every range's first record starts), the passes run range by range on an executor:
a range is parsed as the document's head up to its first record (declaration, DTD, the
records' ancestors with their namespaces) followed by the range's bytes, and stops after its
records. Surveys in two rounds (repeated tags, then shapes) merge into the whole file's schema.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from xml.parsers import expat

from pydantic import Field

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, ReadBatch
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows
from tools.content.readers.record_shape import MAX_NESTING, RecordShape, flatten
from tools.content.readers.row_cuts import ascii_safe

#: A range: (first record, records, byte where the first starts, the byte after the range,
#: the byte where the document's first record starts: its head ends there).
RecordSpan = tuple[int, int, int, int, int]
#: A range re-reads the document's head; a head longer than this is not split.
_MAX_HEAD_BYTES = 1 << 20


class XmlOptions(ReaderOptions):
    """Options of the ``xml`` reader."""

    record_element: str = Field(min_length=1)  # local tag name of one record, e.g. Policy
    attributes: bool = True  # include attributes as columns
    strip: bool = True  # trim surrounding whitespace of text
    # Overrides the encoding the XML declaration states (for files that declare it wrongly).
    encoding: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


class XmlReader:
    """Reads the records of one XML document; format name ``xml``."""

    format_name: ClassVar[str] = "xml"
    options_model: ClassVar[type[ReaderOptions]] = XmlOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(XmlOptions, options, self.format_name)
        self._fh: BinaryIO | None = None

    def _elements(self, span: RecordSpan | None = None) -> Iterator[ET.Element]:
        """Yield each complete record element (of the file or of one range), then clear and
        detach it."""
        if span is not None:
            _, count, start, end, head_end = span
            with self.path.open("rb") as fh:
                head = fh.read(head_end)
                fh.seek(start)
                body = fh.read(end - start)
            yield from islice(self._parsed(io.BytesIO(head + body)), count)
            return
        check_file(self.path)
        yield from self._parsed(self.path.open("rb"))

    def _parsed(self, source: BinaryIO) -> Iterator[ET.Element]:
        target = self.options.record_element
        stack: list[ET.Element] = []
        depth_in_record = 0
        found = False
        try:
            parser = ET.XMLParser(encoding=self.options.encoding) if self.options.encoding else None
            self._fh = source  # our own handle: its position is the progress
            for event, elem in ET.iterparse(self._fh, events=("start", "end"), parser=parser):
                if event == "start":
                    stack.append(elem)
                    if len(stack) > MAX_NESTING:
                        trail = "/".join(_local(e.tag) for e in stack[:5])
                        raise InputError(
                            f"elements nested more than {MAX_NESTING} levels deep "
                            f"(under {trail}/...)",
                            where=f"{self.path}: element <{_local(elem.tag)}> at depth "
                            f"{len(stack)}",
                            fix="flatten the export, or split the records out of the document",
                        )
                    if depth_in_record or _local(elem.tag) == target:
                        depth_in_record += 1
                    continue
                stack.pop()
                if depth_in_record:
                    depth_in_record -= 1
                    if depth_in_record == 0:
                        found = True
                        yield elem
                        elem.clear()
                        if stack:
                            stack[-1].remove(elem)
                elif stack:
                    elem.clear()  # content outside records is not needed
        except ET.ParseError as exc:
            line, column = exc.position
            raise InputError(
                f"malformed XML: {exc}",
                where=f"{self.path}: line {line}, column {column + 1}",
                fix="fix or re-export the document",
            ) from None
        finally:
            if self._fh is not None:
                self._fh.close()
        if not found:
            raise InputError(
                f"no <{target}> element found",
                where=str(self.path),
                fix="set record_element to the tag of one record "
                "(data-mash ingest --detect suggests one)",
            )

    def _to_dict(self, elem: ET.Element, path: str, repeated: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.options.attributes:
            for key, value in elem.attrib.items():
                out[_local(key)] = value
        groups: dict[str, list[ET.Element]] = {}
        for child in elem:
            groups.setdefault(_local(child.tag), []).append(child)
        for tag, children in groups.items():
            child_path = f"{path}.{tag}" if path else tag
            values = [self._value(c, child_path, repeated) for c in children]
            name = f"@{tag}" if tag in out else tag  # attribute and child of the same name
            if child_path in repeated:
                out[name] = values
            else:
                out[name] = values[0]
        return out

    def _value(self, elem: ET.Element, path: str, repeated: set[str]) -> Any:
        text = elem.text or ""
        text = text.strip() if self.options.strip else text
        has_attrs = self.options.attributes and bool(elem.attrib)
        if len(elem) == 0 and not has_attrs:
            return text or None
        value = self._to_dict(elem, path, repeated)
        if text:
            value = {"": text, **value} if len(elem) == 0 else {"_text": text, **value}
        return value

    def _find_repeated(self, span: RecordSpan | None = None) -> set[str]:
        repeated: set[str] = set()

        def walk(elem: ET.Element, path: str) -> None:
            seen: set[str] = set()
            for child in elem:
                tag = _local(child.tag)
                child_path = f"{path}.{tag}" if path else tag
                if tag in seen:
                    repeated.add(child_path)
                seen.add(tag)
                walk(child, child_path)

        for elem in self._elements(span):
            walk(elem, "")
        return repeated

    def _records(
        self, repeated: set[str], span: RecordSpan | None = None
    ) -> Iterator[dict[str, Any]]:
        for elem in self._elements(span):
            record: dict[str, Any] = {}
            self._flat_into(record, elem, "", "", repeated)
            # a leaf's own text sits under key "" -> "premium." after flattening
            yield {k[:-1] if k.endswith(".") else k: v for k, v in record.items()}

    def _flat_into(
        self, out: dict[str, Any], elem: ET.Element, prefix: str, path: str, repeated: set[str]
    ) -> None:
        """Add to ``out`` what ``flatten(self._to_dict(elem, path, repeated), prefix)`` holds,
        in the same order, without building the nested dict first (one record's hot path)."""
        attributes: set[str] = set()
        if self.options.attributes:
            for key, value in elem.attrib.items():
                name = _local(key)
                attributes.add(name)
                out[prefix + name] = value
        groups: dict[str, list[ET.Element]] = {}
        for child in elem:
            groups.setdefault(_local(child.tag), []).append(child)
        for tag, children in groups.items():
            child_path = f"{path}.{tag}" if path else tag
            name = prefix + (f"@{tag}" if tag in attributes else tag)
            if child_path in repeated:
                values = [self._value(c, child_path, repeated) for c in children]
                out[name] = [flatten(v) if isinstance(v, Mapping) else v for v in values]
                continue
            child = children[0]
            text = child.text or ""
            text = text.strip() if self.options.strip else text
            if len(child) == 0 and not (self.options.attributes and child.attrib):
                out[name] = text or None
                continue
            if text and len(child) and any(_local(c.tag) == "_text" for c in child):
                # a child element named _text takes the text's key: the nested dict's rules
                out.update(flatten(self._value(child, child_path, repeated), f"{name}."))
                continue
            if text:
                out[f"{name}.{'' if len(child) == 0 else '_text'}"] = text
            self._flat_into(out, child, f"{name}.", child_path, repeated)

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` records."""
        check_batch_rows(batch_rows)
        repeated = self._find_repeated()
        shape = self._shape(repeated)
        yield from self._batched(self._records(repeated), shape, batch_rows)

    def _shape(self, repeated: set[str], span: RecordSpan | None = None) -> RecordShape:
        shape = RecordShape()
        for record in self._records(repeated, span):
            shape.observe(record)
        return shape

    # ------------------------------------------------------------------ ranges

    survey_rounds: ClassVar[int] = 2  # the repeated tags, then the shapes

    def record_ranges(self, records: int) -> list[RecordSpan] | None:
        """Ranges of ``records`` records, from a streaming pass (expat, nothing built) that
        notes where each range's first record starts. None when one pass must read it: one
        range, an encoding whose markup is not ASCII bytes, a malformed or too deeply nested
        document (one pass reports it), records under different ancestors, a namespace
        declared between records, or a head (before the first record) over 1 MiB."""
        check_file(self.path)
        try:
            found = _record_starts(self.path, self.options, max(1, records))
        except (expat.ExpatError, _Unsplittable, LookupError):
            return None
        if found is None:
            return None
        starts, total = found
        if len(starts) < 2 or starts[0][1] > _MAX_HEAD_BYTES:
            return None
        size = self.path.stat().st_size
        head = starts[0][1]
        bounds = [*starts, (total, size)]
        return [
            (first, nxt - first, at, end, head)
            for (first, at), (nxt, end) in zip(bounds[:-1], bounds[1:], strict=True)
        ]

    def range_plan(self) -> dict[str, Any]:
        """What every range needs from the whole file: repeated tags, then the columns."""
        return {"repeated": None, "shape": None}

    def survey_range(self, span: RecordSpan, plan: dict[str, Any]) -> Any:
        """Round 1: the range's repeated tags; round 2: its records' shapes."""
        if plan["repeated"] is None:
            return self._find_repeated(span)
        return self._shape(plan["repeated"], span)

    def plan_from_surveys(self, plan: dict[str, Any], surveys: Iterable[Any]) -> dict[str, Any]:
        """The plan with the round's surveys merged (tags united; shapes in file order)."""
        if plan["repeated"] is None:
            return {**plan, "repeated": set().union(*surveys)}
        return {**plan, "shape": RecordShape.merged(surveys)}

    def range_batches(
        self,
        span: RecordSpan,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        plan: dict[str, Any] | None = None,
    ) -> Iterator[ReadBatch]:
        """One range's records against the plan's columns (the range's own without one)."""
        check_batch_rows(batch_rows)
        plan = plan or {}
        repeated = plan.get("repeated")
        if repeated is None:
            repeated = self._find_repeated(span)
        shape = plan.get("shape") or self._shape(repeated, span)
        for batch in self._batched(self._records(repeated, span), shape, batch_rows):
            batch.bytes_read = span[3]
            yield batch

    def _batched(
        self, records: Iterable[dict[str, Any]], shape: RecordShape, batch_rows: int
    ) -> Iterator[ReadBatch]:
        schema = shape.schema()
        rows: list[dict[str, Any]] = []
        for record in records:
            rows.append(record)
            if len(rows) == batch_rows:
                yield ReadBatch(shape.to_batch(rows, schema), bytes_read=self._position())
                rows = []
        if rows:
            yield ReadBatch(shape.to_batch(rows, schema), bytes_read=self._position())

    def _position(self) -> int:
        """Bytes the parser has consumed (read ahead by its buffer: an estimate, monotonic)."""
        fh = self._fh
        return fh.tell() if fh is not None and not fh.closed else self.path.stat().st_size


class _Unsplittable(Exception):
    """The streaming pass met what only one pass over the document handles."""


def _record_starts(
    path: Path, options: XmlOptions, step: int
) -> tuple[list[tuple[int, int]], int] | None:
    """(first record, byte where it starts) of every ``step``-th record, and the records.

    Expat reports the byte of each start tag. A range parses as the document's head followed
    by its own bytes, which holds only when every cut record has the first record's
    ancestors and no namespace is declared between records (a range's head would miss it).
    """
    declared = options.encoding or _declared_encoding(path)
    if declared is not None and not ascii_safe(declared):
        return None
    parser = expat.ParserCreate(options.encoding, namespace_separator="}")
    target = options.record_element
    ancestors: list[str] = []
    first_ancestors: list[str] | None = None
    starts: list[tuple[int, int]] = []
    state = {"depth": 0, "in_record": 0, "records": 0, "declared": False}

    def start(name: str, _attrs: Any) -> None:
        state["depth"] += 1
        if state["depth"] > MAX_NESTING:
            raise _Unsplittable
        declared_here, state["declared"] = state["declared"], False
        if state["in_record"]:
            state["in_record"] += 1
            return
        if name.rsplit("}", 1)[-1] != target:
            if declared_here and state["records"]:
                raise _Unsplittable
            ancestors.append(name)
            return
        nonlocal first_ancestors
        if first_ancestors is None:
            first_ancestors = list(ancestors)
        if state["records"] % step == 0:
            if ancestors != first_ancestors:
                raise _Unsplittable
            starts.append((state["records"], parser.CurrentByteIndex))
        state["in_record"], state["records"] = 1, state["records"] + 1

    def end(_name: str) -> None:
        state["depth"] -= 1
        if state["in_record"]:
            state["in_record"] -= 1
        else:
            ancestors.pop()

    def namespace(_prefix: str | None, _uri: str) -> None:
        state["declared"] = state["declared"] or not state["in_record"]

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartNamespaceDeclHandler = namespace
    with path.open("rb") as fh:
        parser.ParseFile(fh)
    return starts, state["records"]


def _declared_encoding(path: Path) -> str | None:
    """The encoding the XML declaration names (None: none named, UTF-8 or a BOM's)."""
    with path.open("rb") as fh:
        head = fh.read(256)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"\0<", b"<\0"):
        return "utf-16"
    if not head.startswith(b"<?xml"):
        return None
    decl = head.split(b"?>", 1)[0]
    for quote in (b'"', b"'"):
        marker = b"encoding=" + quote
        if marker in decl:
            return decl.split(marker, 1)[1].split(quote, 1)[0].decode("ascii", "replace")
    return None
