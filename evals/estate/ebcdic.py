"""Vectorised encoders for mainframe record fields (EBCDIC text, zoned, packed, binary).

Every encoder takes whole columns (numpy arrays of one chunk) and returns a ``(rows, width)``
uint8 matrix, so a record layout is assembled by assigning matrices into column slices of one
record matrix: no per-field Python loop.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

U8 = NDArray[np.uint8]

# latin-1 -> code page byte tables; cp037 and friends are bijective over the 256 latin-1 chars.
_LATIN1 = bytes(range(256)).decode("latin-1")


def code_page_table(encoding: str) -> U8:
    """The 256-entry table translating latin-1 byte values to ``encoding`` byte values."""
    return np.frombuffer(_LATIN1.encode(encoding), dtype=np.uint8).copy()


CP037 = code_page_table("cp037")


def text_matrix(values: list[str], width: int) -> U8:
    """Latin-1 bytes of ``values``, truncated/space-padded to ``width``, as a matrix."""
    joined = "".join(v[:width].ljust(width) for v in values).encode("latin-1")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(values), width)


def pool_matrix(pool: list[str], width: int) -> U8:
    """A space-padded latin-1 matrix of a value pool, to be fancy-indexed per record."""
    return text_matrix(pool, width)


def to_ebcdic(latin1: U8, table: U8 = CP037) -> U8:
    """Translate a latin-1 byte matrix to EBCDIC with a lookup table."""
    return table[latin1]


def digit_matrix(values: NDArray[np.int64], width: int) -> U8:
    """Decimal digits (0-9, most significant first) of non-negative ints, zero-padded."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((np.abs(values)[:, None] // powers) % 10).astype(np.uint8)


def ebcdic_unsigned(values: NDArray[np.int64], width: int) -> U8:
    """PIC 9(width) DISPLAY: EBCDIC digits F0-F9."""
    return digit_matrix(values, width) | np.uint8(0xF0)


def ebcdic_zoned_signed(values: NDArray[np.int64], width: int) -> U8:
    """PIC S9(width) DISPLAY, sign overpunched on the last digit (C positive, D negative)."""
    out = ebcdic_unsigned(values, width)
    zone = np.where(values < 0, 0xD0, 0xC0).astype(np.uint8)
    out[:, -1] = (out[:, -1] & np.uint8(0x0F)) | zone
    return out


def packed_decimal(values: NDArray[np.int64], digits: int) -> U8:
    """COMP-3 of ``digits`` digits: two digits a byte, sign nibble last (C positive, D negative).

    ``digits`` is the PIC digit count (``S9(7)V99`` -> 9); the byte length is digits // 2 + 1.
    """
    nbytes = digits // 2 + 1
    nibbles = np.zeros((len(values), nbytes * 2), dtype=np.uint8)
    nibbles[:, nbytes * 2 - 1 - digits : -1] = digit_matrix(values, digits)
    nibbles[:, -1] = np.where(values < 0, 0x0D, 0x0C)
    return ((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).astype(np.uint8)


def binary_be(values: NDArray[np.int64], nbytes: int, *, signed: bool) -> U8:
    """COMP / BINARY big-endian integer of ``nbytes`` bytes."""
    dtype = np.dtype(f">{'i' if signed else 'u'}{nbytes}")
    return values.astype(dtype).view(np.uint8).reshape(len(values), nbytes)
