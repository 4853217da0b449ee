"""Lookup tables for DISPLAY (zoned) numerics: digit and overpunched-sign bytes per encoding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ZonedTables:
    """Lookup tables for DISPLAY numerics in one encoding family."""

    digit: np.ndarray  # byte -> 0..9, 255 if not a plain digit
    op_digit: np.ndarray  # byte -> digit of a (possibly overpunched) digit byte, 255 otherwise
    op_neg: np.ndarray  # byte -> negative overpunch
    op_pos: np.ndarray  # byte -> explicit positive overpunch (C zone / '{'..'I')
    space: int
    plus: int
    minus: int
    point: int
    comma: int


def zoned_tables(ebcdic: bool) -> ZonedTables:
    """Tables for EBCDIC (F0-F9, C/D overpunch) or ASCII ('0'-'9', '{'/'A'-'I', '}'/'J'-'R')."""
    digit = np.full(256, 255, dtype=np.uint8)
    op_digit = np.full(256, 255, dtype=np.uint8)
    op_neg = np.zeros(256, dtype=bool)
    op_pos = np.zeros(256, dtype=bool)
    if ebcdic:
        for d in range(10):
            digit[0xF0 + d] = op_digit[0xF0 + d] = d
            op_digit[0xC0 + d] = op_digit[0xD0 + d] = d
            op_neg[0xD0 + d] = True
            op_pos[0xC0 + d] = True
        return ZonedTables(digit, op_digit, op_neg, op_pos, 0x40, 0x4E, 0x60, 0x4B, 0x6B)
    for d in range(10):
        digit[0x30 + d] = op_digit[0x30 + d] = d
    for d, ch in enumerate("{ABCDEFGHI"):
        op_digit[ord(ch)] = d
        op_pos[ord(ch)] = True
    for d, ch in enumerate("}JKLMNOPQR"):
        op_digit[ord(ch)] = d
        op_neg[ord(ch)] = True
    for d in range(10):  # some ASCII exports overpunch negatives as p-y
        op_digit[0x70 + d] = d
        op_neg[0x70 + d] = True
    return ZonedTables(digit, op_digit, op_neg, op_pos, 0x20, 0x2B, 0x2D, 0x2E, 0x2C)
