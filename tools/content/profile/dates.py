"""Date-format signatures from character patterns, validated with numpy (calendar-aware).

A distinct pattern such as ``99.99.9999`` maps to one or more interpretations (``DD.MM.YYYY``)
with fixed component positions, so a whole group of values is sliced and checked at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MONTHS = pa.array(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
)
# Patterns worth trying as dates. Letters are ``A`` in patterns, so an ISO datetime's ``T`` and
# ``Z`` appear as ``A`` (``9999-99-99A99:99:99A``).
DATEISH = r"^[9./:\- +]+$|^9{1,2}[- ]?AAA[- ]?9{2,4}$|^9999-99-99A99[:.]99[9:.+\-]*A?$"


@dataclass
class DateShape:
    signature: str
    kind: Literal["date", "datetime"]
    parts: dict[str, tuple[int, int]]  # component -> (start, end) in the value


@dataclass
class DateStats:
    kind: str
    matched: int = 0
    valid: int = 0
    invalid_keys: list[str] = field(default_factory=list)
    low: np.datetime64 | None = None
    high: np.datetime64 | None = None


_DATE_RULES: list[tuple[re.Pattern[str], list[tuple[str, str]]]] = [
    (re.compile(r"^(9999)([-/.])(99)\2(99)$"), [("YYYY{s}MM{s}DD", "Y M D")]),
    (
        re.compile(r"^(9999)(99)(99)$"),
        [("YYYYMMDD", "Y M D"), ("DDMMYYYY", "D M Y"), ("MMDDYYYY", "M D Y")],
    ),
    (re.compile(r"^(9999)(999)$"), [("YYYYDDD", "Y J")]),
    (
        re.compile(r"^(9{1,2})([./-])(9{1,2})\2(9999)$"),
        [("MM{s}DD{s}YYYY", "M D Y"), ("DD{s}MM{s}YYYY", "D M Y")],
    ),
    (
        re.compile(r"^(9{1,2})([./-])(9{1,2})\2(99)$"),
        [("MM{s}DD{s}YY", "M D y"), ("DD{s}MM{s}YY", "D M y")],
    ),
    (re.compile(r"^(99)([- ]?)(AAA)\2(9999)$"), [("DD{s}MON{s}YYYY", "D b Y")]),
]
_DATETIME_RULE = re.compile(
    r"^(9999)-(99)-(99)([A -])(99)[:.](99)(?:[:.](99))?(?:\.9+)?"
    r"(?:A|[+-]99:?99)?$"
)  # A: the T separator and Z suffix


def date_shapes(pattern: str) -> list[DateShape]:
    """Date interpretations of one pattern, each with fixed component positions."""
    m = _DATETIME_RULE.match(pattern)
    if m:
        sep = "T" if m.group(4) == "A" else m.group(4)
        sig = "YYYY-MM-DD-HH.MM.SS" if sep == "-" else f"YYYY-MM-DD{sep}HH:MM:SS"
        parts = {"Y": m.span(1), "M": m.span(2), "D": m.span(3), "h": m.span(5), "m": m.span(6)}
        if m.group(7):
            parts["s"] = m.span(7)
        return [DateShape(sig, "datetime", parts)]
    shapes = []
    for rule, choices in _DATE_RULES:
        m = rule.match(pattern)
        if not m:
            continue
        groups = [i for i in range(1, (m.lastindex or 0) + 1) if not set(m.group(i)) <= set("./- ")]
        sep = m.group(2) if rule.groups >= 4 else ""
        if sep == "." and len(choices) == 2:
            choices = choices[::-1]  # dotted dates are European: day first on a tie
        for template, order in choices:
            if rule.pattern == r"^(9999)(99)(99)$":
                widths = {"Y": 4, "M": 2, "D": 2}
                spans, pos = {}, 0
                for comp in order.split():
                    spans[comp] = (pos, pos + widths[comp])
                    pos += widths[comp]
            else:
                spans = {comp: m.span(g) for comp, g in zip(order.split(), groups, strict=True)}
            shapes.append(DateShape(template.format(s=sep), "date", spans))
    return shapes


def parse_dates(values: pa.Array, shape: DateShape) -> tuple[np.ndarray, np.ndarray]:
    """Validate values of one pattern; return (valid mask, datetime64[s] with NaT if invalid)."""

    def comp(name: str) -> np.ndarray:
        start, end = shape.parts[name]
        piece = pc.utf8_slice_codeunits(values, start, end)
        if name == "b":
            return (
                pc.index_in(pc.utf8_upper(piece), value_set=_MONTHS)
                .to_numpy(zero_copy_only=False)
                .astype("float64")
                + 1
            )
        return pc.cast(piece, pa.int64()).to_numpy(zero_copy_only=False).astype("int64")

    n = len(values)
    if "Y" in shape.parts:
        year = comp("Y")
        ok = (year >= 1800) & (year <= 2199)
    else:
        yy = comp("y")
        year = np.where(yy < 50, 2000 + yy, 1900 + yy)  # two-digit years pivot at 50
        ok = np.ones(n, dtype=bool)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    if "J" in shape.parts:
        doy = comp("J")
        ok &= (doy >= 1) & (doy <= 365 + leap)
        month, day = np.ones(n, dtype="int64"), np.where(ok, doy, 1)
    else:
        month_f = comp("b") if "b" in shape.parts else comp("M")
        month_f = np.nan_to_num(month_f, nan=0).astype("int64")
        day = comp("D")
        ok &= (month_f >= 1) & (month_f <= 12)
        month = np.where(ok, month_f, 1)
        dim = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[month - 1] + (
            (month == 2) & leap
        )
        ok &= (day >= 1) & (day <= dim)
    seconds = np.zeros(n, dtype="int64")
    for name, limit, scale in (("h", 24, 3600), ("m", 60, 60), ("s", 62, 1)):
        if name in shape.parts:
            value = comp(name)
            ok &= (value >= 0) & (value < limit)
            seconds += np.where(ok, value, 0) * scale
    safe_year = np.where(ok, year, 2000)
    base = (safe_year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (
        np.where(ok, month, 1) - 1
    ).astype("timedelta64[M]")
    stamp = base.astype("datetime64[D]") + (np.where(ok, day, 1) - 1).astype("timedelta64[D]")
    stamp = stamp.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return ok, np.where(ok, stamp, np.datetime64("NaT"))
