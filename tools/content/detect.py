"""Guess a file's format and the reader options it needs, from a sample; never ingests.

``data-mash ingest --detect`` prints :meth:`DetectedSource.to_config_snippet` so the user starts
from an explicit source-config entry instead of silent guessing at ingest time.

Order of evidence: magic bytes (SQLite, Parquet, zip workbook, legacy .xls), then the encoding of
a 64 KiB sample (BOMs, strict UTF-8, EBCDIC letter/digit statistics, cp1252 vs latin-1), then the
text's shape (XML, JSON vs JSON Lines, delimiter consistency, fixed-width blank columns).
"""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from core.errors import InputError
from tools.content.cobol import describe_layout
from tools.content.readers.encodings import guess_encoding, looks_ebcdic
from tools.content.readers.files import check_file

__all__ = ["DetectedSource", "detect_format", "guess_encoding", "looks_ebcdic"]

SAMPLE_BYTES = 64 * 1024
_DELIMITERS = [",", ";", "\t", "|"]


class DetectedSource(BaseModel):
    """What :func:`detect_format` concluded, as a ready-to-edit source-config entry."""

    path: str
    format: str
    options: dict[str, Any] = Field(default_factory=dict)
    confidence: float = Field(ge=0, le=1)
    notes: list[str] = Field(default_factory=list)  # what was guessed and what to check

    def to_command_line(self) -> str:
        """The ``data-mash ingest`` command that reads the file with these options."""
        words = ["data-mash", "ingest", self.path, "--format", self.format]
        for key, value in self.options.items():
            if key == "copybook" and self.format == "cobol":
                words[3:5] = ["--copybook", str(value)]  # a copybook implies --format cobol
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list | dict):
                text = json.dumps(value, ensure_ascii=False)
            else:
                text = str(value)
            words += ["-o", f"{key}={text}"]
        return " ".join(shlex.quote(w) for w in words)

    def to_config_snippet(self, name: str | None = None, system: str | None = None) -> str:
        """A YAML ``sources:`` entry for this file (paths as given; make them YAML-relative)."""
        source_name = name or re.sub(r"\W+", "_", Path(self.path).stem).strip("_").lower()
        entry = {
            "name": source_name,
            "system": system or source_name,
            "path": self.path,
            "format": self.format,
            "options": self.options,
        }
        text = yaml.safe_dump(
            {"version": 1, "sources": [entry]},
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
        )
        comments = "".join(f"# {note}\n" for note in self.notes)
        return comments + text


def detect_format(
    path: Path | str, *, copybook: Path | str | None = None, encoding: str | None = None
) -> DetectedSource:
    """Guess the format and reader options of one file from its first 64 KiB.

    Args:
        path: The file to inspect.
        copybook: A COBOL copybook for the file: the format is then ``cobol`` and only the
            framing (fixed length, RDW, text lines) and the code page are guessed.
        encoding: An encoding or code page the user stated (kept as given, never guessed).

    Returns:
        The guess, with notes on anything the user should confirm.

    Raises:
        InputError: The file is missing, empty or a format no reader handles (legacy .xls).
    """
    path = check_file(Path(path))
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
        fh.seek(max(path.stat().st_size - 4, 0))
        tail = fh.read(4)
    shown = str(path)
    if copybook is not None:
        return _detect_cobol(path, Path(copybook), head, encoding)
    if head.startswith(b"SQLite format 3\x00"):
        return _detect_sqlite(path)
    if head.startswith(b"PAR1") and tail == b"PAR1":
        return DetectedSource(path=shown, format="parquet", confidence=1.0)
    if head.startswith(b"PK\x03\x04"):
        return _detect_zip(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(
            "legacy .xls (OLE2) workbook", where=shown, fix="save it as .xlsx, then use format xlsx"
        )
    stated = encoding
    encoding = guess_encoding(head)
    if encoding == "cp037":
        return DetectedSource(
            path=shown,
            format="cobol",
            options={"encoding": "cp037", "copybook": "TODO.cpy"},
            confidence=0.6,
            notes=[
                "bytes look like EBCDIC: a mainframe file needs its COBOL copybook",
                "set copybook, and record_format (F, V, VB) and code page if not cp037",
            ],
        )
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    if len(head) == SAMPLE_BYTES:  # drop the last, probably cut, line
        text = text[: text.rfind("\n") + 1] or text
    options: dict[str, Any] = {} if encoding == "utf-8" else {"encoding": encoding}
    notes = [] if encoding == "utf-8" else [f"encoding guessed as {encoding}"]
    if stated:
        options["encoding"], notes = stated, []
    stripped = text.lstrip()
    if stripped.startswith("<"):
        return _detect_xml(path, shown, options, notes)
    if stripped.startswith(("[", "{")):
        return _detect_json(shown, stripped, options, notes)
    return _detect_text_table(shown, text, options, notes)


def _detect_sqlite(path: Path) -> DetectedSource:

    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
    finally:
        con.close()
    notes = [f"tables: {', '.join(tables)}; one source entry per table"] if len(tables) > 1 else []
    return DetectedSource(
        path=str(path),
        format="sqlite",
        options={"table": tables[0] if tables else "TODO"},
        confidence=1.0,
        notes=notes,
    )


def _detect_zip(path: Path) -> DetectedSource:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise InputError(
            "a zip archive that is not a workbook",
            where=str(path),
            fix="unpack it and ingest the files inside",
        )
    # Imported here: the workbook engine loads only for Excel files.
    import python_calamine as calamine  # noqa: PLC0415

    workbook = calamine.CalamineWorkbook.from_path(str(path))
    sheets = list(workbook.sheet_names)
    workbook.close()
    notes = [f"sheets: {', '.join(sheets)}; one source entry per sheet"] if len(sheets) > 1 else []
    return DetectedSource(
        path=str(path),
        format="xlsx",
        options={"sheet": sheets[0] if sheets else 0, "header": True},
        confidence=0.9,
        notes=notes,
    )


def _detect_xml(
    path: Path, shown: str, options: dict[str, Any], notes: list[str]
) -> DetectedSource:
    """Record element = the most frequent tag among the root's children in the sample."""

    counts: Counter[str] = Counter()
    depth = 0
    try:
        with path.open("rb") as fh:
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                if event == "start":
                    depth += 1
                    if depth == 2:
                        counts[elem.tag.rsplit("}", 1)[-1]] += 1
                else:
                    depth -= 1
                    if fh.tell() > SAMPLE_BYTES and sum(counts.values()) >= 3:
                        break
    except ET.ParseError:
        pass  # a truncated or odd document still gives a guess from what was seen
    element = counts.most_common(1)[0][0] if counts else "TODO"
    if not counts:
        notes.append("no repeated element found: set record_element")
    options = {k: v for k, v in options.items() if k != "encoding"}  # XML declares its own
    return DetectedSource(
        path=shown,
        format="xml",
        options={**options, "record_element": element},
        confidence=0.8 if counts else 0.4,
        notes=notes,
    )


def _detect_json(
    shown: str, text: str, options: dict[str, Any], notes: list[str]
) -> DetectedSource:
    lines = [ln for ln in text.splitlines() if ln.strip()][:20]
    parsed = 0
    for line in lines:
        try:
            parsed += isinstance(json.loads(line), dict)
        except json.JSONDecodeError:
            pass
    if (
        len(lines) >= 1
        and parsed >= max(1, int(len(lines) * 0.8))
        and text.startswith("{")
        and len(lines) > 1
    ):
        return DetectedSource(
            path=shown, format="jsonl", options=options, confidence=0.95, notes=notes
        )
    if text.startswith("{"):
        keys = re.findall(r'"([^"\\]+)"\s*:\s*\[', text[:SAMPLE_BYTES])
        key = "records" if "records" in keys else (keys[0] if keys else "records")
        if key != "records":
            notes.append(f"records array guessed under key {key!r}")
        return DetectedSource(
            path=shown,
            format="json",
            options={**options, "records_key": key},
            confidence=0.8,
            notes=notes,
        )
    return DetectedSource(path=shown, format="json", options=options, confidence=0.9, notes=notes)


def _delimiter_counts(lines: list[str], delimiter: str) -> list[int]:
    # quoted sections removed first so a comma inside "Smith, J" does not count
    return [len(re.sub(r'"[^"]*"', "", line).split(delimiter)) - 1 for line in lines]


def _detect_text_table(
    shown: str, text: str, options: dict[str, Any], notes: list[str]
) -> DetectedSource:
    lines = [ln for ln in text.splitlines() if ln.strip()][:200]
    best: tuple[float, str] | None = None
    for delimiter in _DELIMITERS:
        counts = _delimiter_counts(lines, delimiter)
        if not counts or max(counts) == 0:
            continue
        mode, freq = Counter(counts).most_common(1)[0]
        if mode == 0:
            continue
        score = freq / len(counts) + min(mode, 50) / 1000  # consistency first, then columns
        if best is None or score > best[0]:
            best = (score, delimiter)
    if best is not None and best[0] >= 0.8:
        delimiter = best[1]
        rows = [re.sub(r'"[^"]*"', "x", ln).split(delimiter) for ln in lines[:50]]
        header = _looks_like_header(rows)
        opts: dict[str, Any] = {
            "delimiter": delimiter,
            "quotechar": '"',
            "header": header,
            **options,
        }
        body = "\n".join(lines[1:] if header else lines)
        if delimiter != "," and re.search(r"(^|[^\d,.])\d+,\d{1,4}($|[^\d,])", body):
            opts["decimal"] = ","
            notes.append("numbers with a decimal comma found: decimal ','")
        if not header:
            notes.append("no header row recognised: set columns: [...] to name the fields")
        return DetectedSource(
            path=shown,
            format="csv",
            options=opts,
            confidence=round(min(best[0], 1.0), 2),
            notes=notes,
        )
    return _detect_fixed_width(shown, lines, options, notes)


def _looks_like_header(rows: list[list[str]]) -> bool:
    if len(rows) < 2:
        return True
    first, rest = rows[0], rows[1:]
    numeric = re.compile(r"^\s*[-+]?\d[\d.,/ :-]*\s*$")
    if any(numeric.match(cell) for cell in first):
        return False
    # a header when some column is numeric below the first row but not in it
    for i in range(len(first)):
        column = [r[i] for r in rest if i < len(r)]
        if column and sum(bool(numeric.match(c)) for c in column) >= 0.8 * len(column):
            return True
    return len(set(first)) == len(first) and all(c.strip() for c in first)


def _detect_fixed_width(
    shown: str, lines: list[str], options: dict[str, Any], notes: list[str]
) -> DetectedSource:
    """Field boundaries where a column position is blank in every line and text follows."""
    sample = lines[:100]
    width = max((len(ln) for ln in sample), default=0)
    blank = [all(i >= len(ln) or ln[i] == " " for ln in sample) for i in range(width)]
    fields: list[dict[str, Any]] = []
    start = None
    for i in range(width + 1):
        filled = i < width and not blank[i]
        if filled and start is None:
            start = i
        elif not filled and start is not None:
            # extend to the next field start so trailing blanks stay inside this field
            end = next((j for j in range(i, width) if not blank[j]), width)
            fields.append(
                {"name": f"field_{len(fields) + 1}", "start": start + 1, "length": end - start}
            )
            start = None
    notes.append("fixed-width layout guessed from blank columns: check and name the fields")
    return DetectedSource(
        path=shown,
        format="fixed_width",
        options={**options, "fields": fields},
        confidence=0.4 if len(fields) > 1 else 0.2,
        notes=notes,
    )


def _detect_cobol(path: Path, copybook: Path, head: bytes, encoding: str | None) -> DetectedSource:
    """Framing and code page of a mainframe file whose copybook is known."""
    width = int(describe_layout(copybook)["record_length"])
    size = path.stat().st_size
    options: dict[str, Any] = {"copybook": str(copybook)}
    notes: list[str] = []
    ebcdic = looks_ebcdic(head) or (encoding is not None and encoding.lower() != "ascii")
    framing = _rdw_framing(head, width)
    if framing is not None:
        options.update(framing)
        notes.append("records start with a record descriptor word (RDW): record_format V")
    elif not ebcdic and b"\n" in head:
        options["record_format"] = "D"
        notes.append("text lines: record_format D (ASCII unless an encoding is set)")
    elif size % width:
        notes.append(
            f"the file size ({size} bytes) is not a multiple of the copybook's record length "
            f"({width} bytes): check record_length, file_start_offset / file_end_offset or "
            "record_format"
        )
    if encoding:
        options["encoding"] = encoding
    elif not ebcdic and "record_format" not in options:
        options["encoding"] = "ascii"
        notes.append("bytes look like ASCII, not EBCDIC")
    elif ebcdic:
        notes.append("EBCDIC: the default code page is cobrix's common; set encoding (cp037...)")
    confidence = 0.9 if framing is not None or size % width == 0 else 0.5
    return DetectedSource(
        path=str(path), format="cobol", options=options, confidence=confidence, notes=notes
    )


def _rdw_framing(head: bytes, width: int) -> dict[str, Any] | None:
    """RDW options when the first records of ``head`` chain as RDW-framed records."""
    for big in (True, False):
        pos, seen = 0, 0
        while pos + 4 <= len(head) and seen < 20:
            rdw = head[pos : pos + 4]
            raw, zero = (rdw[:2], rdw[2:]) if big else (rdw[2:], rdw[:2])
            length = int.from_bytes(raw, "big" if big else "little")
            if zero != b"\0\0" or not 0 < length <= max(width, 1) * 4:
                break
            pos += 4 + length
            seen += 1
        whole = pos == len(head)  # the records tile the sample exactly
        cut = len(head) == SAMPLE_BYTES and pos > len(head) and seen >= 2  # sample ends inside
        if seen and (whole or cut or seen >= 20):
            return {"record_format": "V", "rdw_big_endian": big}
    return None
