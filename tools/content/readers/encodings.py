"""Text encodings for readers: checking a codec, guessing one from bytes, locating a bad byte."""

from __future__ import annotations

import codecs
from pathlib import Path

from core.errors import InputError

_CHUNK = 1 << 20
_EBCDIC_TEXT = (
    set(range(0xC1, 0xCA))
    | set(range(0xD1, 0xDA))
    | set(range(0xE2, 0xEA))
    | set(range(0x81, 0x8A))
    | set(range(0x91, 0x9A))
    | set(range(0xA2, 0xAA))
    | set(range(0xF0, 0xFA))
    | {0x40, 0x4B, 0x60, 0x61, 0x6B}
)


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


def guess_encoding(sample: bytes) -> str:
    """Best single guess for a byte sample: utf-8, utf-8-sig, utf-16, cp037, cp1252 or latin-1."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and exc.reason.startswith("unexpected end"):
            return "utf-8"  # the sample cut a multi-byte character
    if looks_ebcdic(sample):
        return "cp037"
    # bytes 0x80-0x9F are control characters in latin-1 but letters/punctuation in cp1252
    if any(0x80 <= b <= 0x9F for b in sample):
        return "cp1252"
    return "latin-1"


def looks_ebcdic(sample: bytes) -> bool:
    """True when most bytes are EBCDIC letters, digits and blanks and few are ASCII text."""
    if len(sample) < 32:  # too little evidence: short cp1252 text can look like EBCDIC
        return False
    ebcdic = sum(1 for b in sample if b in _EBCDIC_TEXT)
    ascii_text = sum(1 for b in sample if 0x20 <= b < 0x7F or b in (9, 10, 13))
    return ebcdic / len(sample) > 0.5 and ascii_text / len(sample) < 0.6


def suggest_encoding(sample: bytes) -> str:
    """Guess which single-byte encoding fits bytes that are not valid for the requested one."""
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
