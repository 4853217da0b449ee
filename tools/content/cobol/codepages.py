"""Single-byte code pages as 256-entry tables (byte -> Unicode character).

``common`` / ``common_extended`` are cobrix's invariant EBCDIC tables (basic Latin only; other
bytes become spaces, or control characters in the extended one). The national EBCDIC pages come
from Python's codecs with cobrix's control-character handling: the plain ``cp037`` keeps only
CR/LF/NEL and turns other controls into spaces; every other national page (and ``*_extended``)
maps controls like ``common_extended``. cp1141/cp1148 are cp273/cp500 with the euro sign at 0x9F;
cp1047 is cp037 with its six bracket/caret swaps.
"""

from __future__ import annotations

import codecs
from functools import cache
from pathlib import Path

from core.errors import InputError

# The EBCDIC invariant characters (identical in every EBCDIC code page) -- from the cobrix table.
_COMMON_PRINTABLE: dict[int, str] = {
    0x40: " ",
    0x41: " ",
    0x4B: ".",
    0x4C: "<",
    0x4D: "(",
    0x4E: "+",
    0x4F: "|",
    0x50: "&",
    0x5A: "!",
    0x5B: "$",
    0x5C: "*",
    0x5D: ")",
    0x5E: ";",
    0x60: "-",
    0x61: "/",
    0x6A: "|",
    0x6B: ",",
    0x6C: "%",
    0x6D: "_",
    0x6E: ">",
    0x6F: "?",
    0x79: "`",
    0x7A: ":",
    0x7B: "#",
    0x7C: "@",
    0x7D: "'",
    0x7E: "=",
    0x7F: '"',
    0xA1: "~",
    0xB0: "^",
    0xBA: "[",
    0xBB: "]",
    0xC0: "{",
    0xCA: "-",
    0xD0: "}",
    0xE0: "\\",
}
for _i, _c in enumerate("abcdefghi"):
    _COMMON_PRINTABLE[0x81 + _i] = _c
    _COMMON_PRINTABLE[0xC1 + _i] = _c.upper()
for _i, _c in enumerate("jklmnopqr"):
    _COMMON_PRINTABLE[0x91 + _i] = _c
    _COMMON_PRINTABLE[0xD1 + _i] = _c.upper()
for _i, _c in enumerate("stuvwxyz"):
    _COMMON_PRINTABLE[0xA2 + _i] = _c
    _COMMON_PRINTABLE[0xE2 + _i] = _c.upper()
for _i in range(10):
    _COMMON_PRINTABLE[0xF0 + _i] = str(_i)

# Control bytes 0x00-0x3F as cobrix's extended tables map them (pacsys EBCDIC->ASCII table).
_EXT_CONTROLS = [
    0x00,
    0x01,
    0x02,
    0x03,
    0x1A,
    0x09,
    0x1A,
    0x20,
    0x1A,
    0x1A,
    0x1A,
    0x0B,
    0x0C,
    0x0A,
    0x0E,
    0x0F,
    0x10,
    0x11,
    0x12,
    0x13,
    0x1A,
    0x1A,
    0x08,
    0x1A,
    0x18,
    0x19,
    0x1A,
    0x1A,
    0x1C,
    0x1D,
    0x1E,
    0x1F,
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x0D,
    0x17,
    0x1B,
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x05,
    0x06,
    0x07,
    0x20,
    0x20,
    0x16,
    0x20,
    0x20,
    0x20,
    0x20,
    0x04,
    0x20,
    0x20,
    0x20,
    0x20,
    0x14,
    0x15,
    0x20,
    0x20,
]

# Control bytes 0x00-0x3F of cobrix's national "extended" pages (cp037_extended and friends).
_NATIONAL_CONTROLS = [
    0x00,
    0x01,
    0x02,
    0x03,
    0x20,
    0x09,
    0x20,
    0x7F,
    0x20,
    0x20,
    0x20,
    0x0B,
    0x0C,
    0x0A,
    0x0E,
    0x0F,
    0x10,
    0x11,
    0x12,
    0x13,
    0x20,
    0x85,
    0x08,
    0x20,
    0x18,
    0x19,
    0x20,
    0x20,
    0x1C,
    0x1D,
    0x1E,
    0x1F,
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x0D,
    0x17,
    0x1B,
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x05,
    0x06,
    0x07,
    0x20,
    0x20,
    0x16,
    0x20,
    0x20,
    0x20,
    0x20,
    0x04,
    0x20,
    0x20,
    0x20,
    0x20,
    0x14,
    0x15,
    0x20,
    0x1A,
]

EBCDIC_PAGES = (
    "common",
    "common_extended",
    "cp037",
    "cp037_extended",
    "cp273",
    "cp500",
    "cp1047",
    "cp1140",
    "cp1141",
    "cp1148",
)
ALIASES = {
    "ebcdic": "common",
    "cp37": "cp037",
    "ibm037": "cp037",
    "ibm500": "cp500",
    "ibm273": "cp273",
    "ibm1047": "cp1047",
    "ibm1140": "cp1140",
    "ibm1141": "cp1141",
    "ibm1148": "cp1148",
    "us-ascii": "ascii",
    "latin-1": "iso-8859-1",
    "latin1": "iso-8859-1",
    "iso8859-1": "iso-8859-1",
    "iso-8859-1": "iso-8859-1",
    "utf-8": "ascii",
    "utf8": "ascii",
}


def _common(extended: bool) -> list[str]:
    table = [" "] * 256
    if extended:
        for b, cp in enumerate(_EXT_CONTROLS):
            table[b] = chr(cp)
    else:
        table[0x0D], table[0x25] = "\n", "\r"
    for b, ch in _COMMON_PRINTABLE.items():
        table[b] = ch
    return table


def _national(codec: str, extended: bool) -> list[str]:
    table = [bytes([b]).decode(codec) for b in range(256)]
    if codec == "cp273":
        table[0xBC] = "\xaf"  # macron, as the IBM table (Python's codec has an overline)
    table[0xFF] = " "
    if extended:
        for b, cp in enumerate(_NATIONAL_CONTROLS):
            table[b] = chr(cp)
    else:
        for b in range(0x40):
            table[b] = " "
        table[0x0D], table[0x15], table[0x25] = "\n", "\x85", "\r"
    return table


@cache
def code_page_table(name: str, custom_path: str | None = None) -> tuple[str, ...]:
    """The 256-character decoding table of a code page.

    Args:
        name: ``common``, ``common_extended``, ``cp037``, ``cp037_extended``, ``cp273``,
            ``cp500``, ``cp1047``, ``cp1140``, ``cp1141``, ``cp1148``, ``ascii``,
            ``iso-8859-1`` or ``custom`` (with ``custom_path``).
        custom_path: for ``custom``: a text file with 256 entries (one per line, or whitespace
            separated), each a character, ``U+XXXX`` or a hex code point ``0xXX``.

    Returns:
        A tuple of 256 one-character strings.

    Raises:
        InputError: an unknown code page or an unreadable custom table.
    """
    key = ALIASES.get(name.lower(), name.lower())
    if key == "custom":
        return _custom(custom_path)
    if key in ("common", "common_extended"):
        return tuple(_common(key == "common_extended"))
    # ASCII text: control bytes (0x00-0x1F) are removed, as cobrix does
    if key == "ascii":
        return tuple("" if b < 0x20 else chr(b) if b < 0x80 else "\ufffd" for b in range(256))
    if key == "iso-8859-1":
        return tuple("" if b < 0x20 else chr(b) for b in range(256))
    extended = key.endswith("_extended")
    base = key.removesuffix("_extended")
    if base in ("cp037", "cp273", "cp500", "cp1140"):
        table = _national(base, extended or base != "cp037")
    elif base in ("cp1141", "cp1148"):
        table = _national("cp273" if base == "cp1141" else "cp500", True)
        table[0x9F] = "\u20ac"
    elif base == "cp1047":
        table = _national("cp037", extended)
        for b, ch in {
            0x5F: "^",
            0xAD: "[",
            0xB0: "\xac",
            0xBA: "\xdd",
            0xBB: "\xa8",
            0xBD: "]",
        }.items():
            table[b] = ch
    else:
        raise InputError(
            f"unknown code page {name!r}",
            where="option encoding",
            fix=f"use one of {', '.join(EBCDIC_PAGES)}, ascii, iso-8859-1 or custom",
        )
    return tuple(table)


def _custom(path: str | None) -> tuple[str, ...]:
    if not path:
        raise InputError(
            "encoding 'custom' needs a table file",
            where="option code_page_file",
            fix="set code_page_file to a file with 256 entries",
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read code page table: {exc}", where=str(path)) from exc
    lines = text.splitlines()
    entries = lines if len(lines) == 256 else text.split()
    if len(entries) != 256:
        raise InputError(
            f"custom code page has {len(entries)} entries, expected 256",
            where=str(path),
            fix="one entry per byte value 0x00-0xFF",
        )
    out = []
    for i, e in enumerate(entries):
        s = e.strip("\r\n")
        if s.upper().startswith("U+"):
            out.append(chr(int(s[2:], 16)))
        elif s.lower().startswith("0x") and len(s) > 2:
            out.append(chr(int(s, 16)))
        elif len(s) == 1:
            out.append(s)
        elif s == "":
            out.append(" ")
        else:
            raise InputError(
                f"entry {i} ({s!r}) is not one character, U+XXXX or 0xXX",
                where=f"{path}: line {i + 1}",
            )
    return tuple(out)


def is_ebcdic(name: str) -> bool:
    """True when ``name`` is an EBCDIC code page (decides zoned/sign byte conventions)."""
    key = ALIASES.get(name.lower(), name.lower())
    return key not in ("ascii", "iso-8859-1")


def check_codec_available(name: str) -> None:
    """Raise InputError early for an unknown code page (cheap validation for reader options)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key != "custom":
        code_page_table(key)
    codecs.lookup("cp037")
