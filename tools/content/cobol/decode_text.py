"""Vectorised text decoding: a whole column of fixed-width fields -> an Arrow string array.

The code page is a 256-entry lookup table applied to the (rows, width) byte block at once; the
UTF-8 bytes of each character come from a second (256, 3) table so no per-row Python runs.
Trimming follows Java's ``String.trim`` (characters <= U+0020), as cobrix does.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.content.cobol.codepages import code_page_table

TRIM_POLICIES = ("both", "left", "right", "none", "keep_all")


@dataclass(frozen=True)
class CharTable:
    """Precomputed lookup tables for one code page."""

    name: str
    single: np.ndarray | None  # (256,) uint8 when every character is at most one UTF-8 byte
    dropped: np.ndarray | None  # (256,) bool: bytes that decode to nothing (ASCII controls)
    lens: np.ndarray  # (256,) UTF-8 byte length of each character
    utf8: np.ndarray  # (256, 3) UTF-8 bytes, zero padded
    trim: np.ndarray  # (256,) bool: character <= U+0020
    chars: tuple[str, ...]
    multi: np.ndarray  # (256,) bool: character needs more than one UTF-8 byte
    charmap: str  # 256-character table for codecs.charmap_decode
    first: np.ndarray  # (256,) uint8 first UTF-8 byte of each character


_FIRST_BYTES: dict[int, bytes] = {}


def _first_bytes(table: CharTable) -> bytes:
    # Tables are built once per code page (char_table is cached), so their id is a stable key.
    found = _FIRST_BYTES.get(id(table))
    if found is None:
        found = _FIRST_BYTES[id(table)] = table.first.tobytes()
    return found


@cache
def char_table(
    name: str, custom_path: str | None = None, *, keep_controls: bool = False
) -> CharTable:
    """Build (once) the lookup tables for a code page name (see codepages.code_page_table).

    ``keep_controls`` (trimming ``keep_all``): ASCII control bytes decode to themselves instead
    of being dropped, as cobrix's ``keep_all`` does for ASCII text.
    """
    chars = code_page_table(name, custom_path)
    if keep_controls:
        chars = tuple(chr(b) if c == "" and b < 0x20 else c for b, c in enumerate(chars))
    enc = [c.encode("utf-8") for c in chars]
    lens = np.array([len(e) for e in enc], dtype=np.int64)
    if lens.max() > 3:
        raise ValueError("code page characters must be in the Basic Multilingual Plane")
    utf8 = np.zeros((256, 3), dtype=np.uint8)
    for i, e in enumerate(enc):
        utf8[i, : len(e)] = list(e)
    single = utf8[:, 0].copy() if (lens <= 1).all() else None
    dropped = (lens == 0) if (lens == 0).any() else None
    trim = np.array([c == "" or ord(c) <= 0x20 for c in chars], dtype=bool)
    multi = lens > 1
    charmap = "".join(c if c else "\ufffd" for c in chars)
    return CharTable(
        name, single, dropped, lens, utf8, trim, chars, multi, charmap, utf8[:, 0].copy()
    )


def validity_buffer(valid: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    """Arrow validity bitmap and null count for a boolean ``valid`` mask (None = all valid)."""
    if valid is None:
        return None, 0
    nulls = int(valid.size - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


TRIM_CHARS = "".join(chr(i) for i in range(0x21))  # Java String.trim(): <= U+0020


def _trim(arr: pa.Array, trim: str, ascii_only: bool) -> pa.Array:
    if trim not in ("both", "left", "right"):
        return arr
    name = {"both": "trim", "left": "ltrim", "right": "rtrim"}[trim]
    func = getattr(pc, ("ascii_" if ascii_only else "utf8_") + name)
    return func(arr, characters=TRIM_CHARS)


def decode_strings(
    block: np.ndarray, table: CharTable, trim: str = "both", valid: np.ndarray | None = None
) -> pa.Array:
    """Decode a (rows, width) uint8 block of text fields.

    The common case -- every byte maps to one UTF-8 byte -- is one lookup-table gather over the
    block and a zero-copy Arrow string array with fixed offsets; national characters go through
    C-level charmap decoding of the whole block; trimming is Arrow's vectorised utf8_trim.

    Args:
        block: the field bytes of every row.
        table: the code page tables.
        trim: ``both`` / ``left`` / ``right`` / ``none`` / ``keep_all`` (no trimming; the
            reader also keeps ASCII control characters and turns null detection off).
        valid: rows to decode (others become null).

    Returns:
        A ``pa.string()`` array with one value per row.
    """
    m, w = block.shape
    vbuf, nulls = validity_buffer(valid)
    if m == 0:
        return pa.array([], type=pa.string())
    lens: np.ndarray | None = None
    ascii_only = False
    if table.dropped is not None and table.dropped[block].any():
        lens, data = _expand(block, table)
    else:
        # first UTF-8 byte of each character: >= 0x80 only for non-ASCII characters.
        # bytes.translate is a C byte-map, faster than np.take / fancy indexing on uint8.
        data = np.frombuffer(
            np.ascontiguousarray(block).tobytes().translate(_first_bytes(table)), dtype=np.uint8
        )
        ascii_only = w == 0 or int(data.max()) < 0x80
        if not ascii_only and table.single is None:
            lens = table.lens[block].sum(axis=1)
            text = codecs.charmap_decode(
                np.ascontiguousarray(block).tobytes(), "strict", table.charmap
            )[0]
            data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if lens is None:
        offsets = np.arange(0, (m + 1) * w, w, dtype=np.int64)
    else:
        offsets = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
    if offsets[-1] >= 2**31 - 1:
        arr = pa.LargeStringArray.from_buffers(
            m, pa.py_buffer(offsets), pa.py_buffer(data), vbuf, nulls
        ).cast(pa.string())
    else:
        arr = pa.StringArray.from_buffers(
            m,
            pa.py_buffer(offsets.astype(np.int32)),
            pa.py_buffer(np.ascontiguousarray(data)),
            vbuf,
            nulls,
        )
    return _trim(arr, trim, ascii_only)


def _expand(block: np.ndarray, table: CharTable) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of every character (0-3 bytes each) and the byte length per row."""
    blen = table.lens[block]
    sel = np.arange(3) < blen[..., None]
    return blen.sum(axis=1), table.utf8[block][sel]
