"""Where a delimited text file may be cut into byte ranges that parse apart as they parse whole.

A newline ends a row unless it sits inside a quoted value, so a cut must know the quoting state
at the newline it picks. :func:`row_cuts` reads the file once, in chunks, and follows only the
quote characters (numpy finds them; a file without quotes costs one pass of ``bytes.find``),
with the state machine pyarrow's parser uses:

* outside a value a quote opens a quoted value only at the start of a field (after the
  delimiter, a newline or at the start of the file); elsewhere it is a literal character;
* inside, a quote closes the value, unless doubled (``""``, when ``doublequote`` is on).

An escape character, an encoding where a newline or a quote is not its ASCII byte, or a file
too small to split gives no cuts (the caller decodes it in one pass).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHUNK = 8 << 20
#: Single-byte or UTF-8 encodings: the delimiter, quote and newline are their ASCII bytes and
#: never part of another character.
ASCII_SAFE = ("utf-8", "ascii", "latin-1", "iso8859", "cp125", "cp437", "cp850", "cp858", "mac-")

_OUT, _IN, _QUOTE_SEEN = 0, 1, 2  # outside a quoted value; inside; inside, just saw a quote


def ascii_safe(encoding: str) -> bool:
    """True when newline, delimiter and quote bytes mean themselves in ``encoding``."""
    name = codecs.lookup(encoding).name
    return name.startswith(ASCII_SAFE) and not name.startswith("utf-8-sig")


class _QuoteState:
    """Pyarrow's quoting state, advanced one quote character at a time."""

    def __init__(self, delimiter: int, doublequote: bool) -> None:
        self.field_start = {delimiter, 0x0A, 0x0D}
        self.doublequote = doublequote
        self.state = _OUT
        self.last = -2  # file position of the quote that put us in _QUOTE_SEEN

    def quote(self, pos: int, prev: int | None) -> None:
        """A quote character at file position ``pos``; ``prev`` is the byte before (None: none)."""
        if self.state == _QUOTE_SEEN:
            if pos == self.last + 1:  # a doubled quote: a literal quote inside the value
                self.state = _IN
                return
            self.state = _OUT  # the value was closed by the last quote
        if self.state == _IN:
            if self.doublequote:
                self.state, self.last = _QUOTE_SEEN, pos
            else:
                self.state = _OUT
            return
        if prev is None or prev in self.field_start:
            self.state = _IN

    def outside_at(self, pos: int) -> bool:
        """Whether a newline at ``pos`` (after every quote before it was seen) ends a row."""
        return self.state == _OUT or (self.state == _QUOTE_SEEN and pos > self.last)


def row_cuts(  # noqa: PLR0913
    path: Path,
    every: int,
    *,
    first: int,
    delimiter: str,
    quotechar: str | None,
    doublequote: bool,
    escapechar: str | None,
) -> list[int] | None:
    """Byte offsets where a row starts, about ``every`` bytes apart, the first at or after
    ``first`` (past the preamble and header); None when the file must be read in one pass.

    Returns an empty list when the file is shorter than one range.
    """
    size = path.stat().st_size
    if size <= first + every:
        return []
    quote = ord(quotechar) if quotechar else None
    escape = ord(escapechar) if escapechar else None
    state = _QuoteState(ord(delimiter), doublequote)
    cuts: list[int] = []
    target = first + every
    base = 0
    prev_byte: int | None = None
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            arr = np.frombuffer(chunk, dtype=np.uint8)
            if escape is not None and (arr == escape).any():
                return None  # an escaped newline is not a row end: not worth following
            quotes = np.flatnonzero(arr == quote).tolist() if quote is not None else []
            qi = 0
            while target < size:
                local = chunk.find(b"\n", max(0, target - base))
                if local < 0:
                    break
                while qi < len(quotes) and quotes[qi] < local:
                    q = quotes[qi]
                    state.quote(base + q, int(arr[q - 1]) if q else prev_byte)
                    qi += 1
                if state.outside_at(base + local):
                    cuts.append(base + local + 1)
                    target = base + local + 1 + every
                else:
                    target = base + local + 1
            for q in quotes[qi:]:
                state.quote(base + q, int(arr[q - 1]) if q else prev_byte)
            prev_byte = int(arr[-1])
            base += len(chunk)
    return [c for c in cuts if c < size]


#: A byte range [start, end) of whole lines and the 1-based number of its first line.
LineSpan = tuple[int, int, int]


def line_spans(path: Path, every: int, *, start: int = 0, line: int = 1) -> list[LineSpan]:
    """The file from ``start`` (line ``line``) cut after newlines about ``every`` bytes apart,
    for line-oriented formats where a newline always ends a record (fixed-width text, JSON
    Lines). One read of the file (``bytes.count``) numbers the lines each range starts at."""
    size = path.stat().st_size
    spans: list[LineSpan] = []
    first, first_line = start, line
    target, base = start + every, start
    with path.open("rb") as fh:
        fh.seek(start)
        while chunk := fh.read(CHUNK):
            pos = 0
            while target < size:
                at = chunk.find(b"\n", max(pos, target - base))
                if at < 0:
                    break
                line += chunk.count(b"\n", pos, at + 1)
                pos, cut = at + 1, base + at + 1
                if cut < size:
                    spans.append((first, cut, first_line))
                    first, first_line = cut, line
                target = cut + every
            line += chunk.count(b"\n", pos)
            base += len(chunk)
    spans.append((first, size, first_line))
    return spans


def lines_of(data: bytes) -> Iterator[bytes]:
    """The lines of ``data`` with their newlines, split as iterating a binary file splits."""
    pos = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        stop = len(data) if newline < 0 else newline + 1
        yield data[pos:stop]
        pos = stop
