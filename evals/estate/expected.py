"""Decoded-value ground truth of the mainframe sources: every record, as a decoder must yield it.

One JSON line per record, in file order (line ``n`` is record ``n``), keyed by the column names
the ``cobol`` reader produces with the source's options (01 level dropped, ``-`` -> ``_``, groups
dotted, OCCURS as a list of dicts, fillers dropped). Value conventions:

- text (``PIC X``): the characters written, trimmed on both sides; a blank field is ``""``;
- ``DISPLAY``/binary integers (``PIC 9(8)``, ``COMP``): JSON ints. Injected invalid dates such
  as month 13 are still well-formed numbers, so they appear as written (``20171301``);
- scaled numbers (``V99``, packed or zoned): strings with exactly the copybook scale
  (``"-123.40"``), to be compared as :class:`decimal.Decimal` without float rounding;
- ``REDEFINES``: both views are given as a byte-faithful decoder reads the same bytes. The view
  selected by the record's type code holds the encoded values; the other view reinterprets them
  (text stays text; a ``DISPLAY`` number whose bytes are not all digits, or are blank, is
  ``null``);
- ``OCCURS DEPENDING ON``: the list holds exactly the counted occurrences.

Written chunk by chunk alongside the data files, so memory stays flat at any estate size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

EXPECTED_FILES = {
    "policy_master": "ground_truth/expected_policy_master.jsonl",
    "endorsements": "ground_truth/expected_endorsements.jsonl",
}


def texts(latin1: NDArray[np.uint8]) -> list[str]:
    """Rows of a latin-1 byte matrix as strings, trimmed on both sides like the reader."""
    width = latin1.shape[1]
    joined = np.ascontiguousarray(latin1).tobytes().decode("latin-1")
    return [joined[i : i + width].strip(" ") for i in range(0, len(joined), width)]


def display_ints(latin1: NDArray[np.uint8]) -> list[int | None]:
    """``PIC 9(n) DISPLAY`` values of a latin-1 matrix: the number, or None unless all digits."""
    digits = (latin1 >= 0x30) & (latin1 <= 0x39)
    ok = digits.all(axis=1)
    powers = 10 ** np.arange(latin1.shape[1] - 1, -1, -1, dtype=np.int64)
    values = ((latin1.astype(np.int64) - 0x30) * powers).sum(axis=1)
    return [v if good else None for v, good in zip(values.tolist(), ok.tolist(), strict=True)]


def decimals(units: NDArray[np.int64], scale: int = 2) -> list[str]:
    """Integers in units of 10**-scale as plain decimal strings with exactly ``scale`` places."""
    out = []
    for v in units.tolist():
        whole, frac = divmod(abs(v), 10**scale)
        out.append(f"{'-' if v < 0 else ''}{whole}.{frac:0{scale}d}")
    return out


def ints(values: NDArray[np.int64]) -> list[int]:
    """Plain Python ints of an integer column."""
    return [int(v) for v in values.tolist()]


class ExpectedWriter:
    """Streams one source's expected decoded records as JSON lines."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="\n")

    def write(self, columns: dict[str, list[Any]]) -> None:
        """Append records given column-wise (every list one value per record, same order)."""
        names = list(columns)
        rows = zip(*columns.values(), strict=True)
        lines = [json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) for row in rows]
        if lines:
            self._file.write("\n".join(lines) + "\n")

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()


def read_expected(path: Path) -> Iterator[dict[str, Any]]:
    """Iterate the expected records of one file (dicts, file order)."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
