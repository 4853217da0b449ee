"""XML: every ``record_element`` is a record, streamed with ``xml.etree.ElementTree.iterparse``.

Each record's attributes and child elements become dotted columns (namespaces dropped):
``<policy id="7"><insured><name>A</name></insured></policy>`` -> ``id``, ``insured.name``.
A leaf with attributes keeps its text under its own path and its attributes below it
(``premium`` and ``premium.currency``). A child tag that repeats in any record of the file is a
list column in every record, so the schema is the same for the whole file; finding those tags
costs one extra streaming pass (three in total: repeats, shapes, batches). Elements are cleared
and detached as soon as they are read, so memory is bounded by one record plus the batch.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import Field

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, ReadBatch
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows
from tools.content.readers.record_shape import MAX_NESTING, RecordShape, flatten


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

    def _elements(self) -> Iterator[ET.Element]:
        """Yield each complete record element, then clear and detach it."""
        check_file(self.path)
        target = self.options.record_element
        stack: list[ET.Element] = []
        depth_in_record = 0
        found = False
        try:
            parser = ET.XMLParser(encoding=self.options.encoding) if self.options.encoding else None
            self._fh = self.path.open("rb")  # our own handle: its position is the progress
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

    def _find_repeated(self) -> set[str]:
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

        for elem in self._elements():
            walk(elem, "")
        return repeated

    def _records(self, repeated: set[str]) -> Iterator[dict[str, Any]]:
        for elem in self._elements():
            record = flatten(self._to_dict(elem, "", repeated))
            # a leaf's own text sits under key "" -> "premium." after flattening
            yield {k[:-1] if k.endswith(".") else k: v for k, v in record.items()}

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` records."""
        check_batch_rows(batch_rows)
        repeated = self._find_repeated()
        shape = RecordShape()
        for record in self._records(repeated):
            shape.observe(record)
        schema = shape.schema()
        rows: list[dict[str, Any]] = []
        for record in self._records(repeated):
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
