"""Vectorised legacy date parsing: token formats, Julian, CYYMMDD and Excel serials.

Values are matched against a regular expression built from the format, their parts checked
(month 1-12, day within the month, day of year within the year, year 1-9999) and composed with
numpy calendar arithmetic. Nothing is guessed: a value that does not fit the format fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TOKENS = {
    "YYYY": ("y", 4),
    "DDD": ("j", 3),
    "MM": ("m", 2),
    "DD": ("d", 2),
    "YY": ("yy", 2),
    "C": ("c", 1),
    # A timestamp's time of day is read and dropped: the canonical fields are dates.
    "HH": ("hh", 2),
    "MI": ("mi", 2),
    "SS": ("ss", 2),
}
_TOKEN_RE = re.compile("|".join(sorted(_TOKENS, key=len, reverse=True)))
ALIASES = {"julian": "YYYYDDD", "iso": "YYYY-MM-DD"}
EXCEL = "excel"
_EXCEL_MAX = 2_958_465  # 9999-12-31


@dataclass(frozen=True)
class DateFormat:
    """A compiled token format."""

    text: str
    regex: str
    groups: tuple[str, ...]
    digits_only: bool
    width: int


@lru_cache(maxsize=64)
def compile_format(text: str) -> DateFormat:
    """Compile a token format such as `MM/DD/YYYY`.

    Raises:
        ValueError: the format lacks a year, a month and day (or a day of year), or repeats a part.
    """
    fmt = ALIASES.get(text.lower(), text)
    pieces: list[tuple[str, str]] = []  # (kind, text): kind "tok" or "lit"
    pos = 0
    for match in _TOKEN_RE.finditer(fmt):
        if match.start() > pos:
            pieces.append(("lit", fmt[pos : match.start()]))
        pieces.append(("tok", match.group()))
        pos = match.end()
    if pos < len(fmt):
        pieces.append(("lit", fmt[pos:]))
    groups = [_TOKENS[t][0] for k, t in pieces if k == "tok"]
    if len(set(groups)) != len(groups):
        raise ValueError(f"date format {text!r} repeats a part")
    if "yy" in groups and "c" not in groups:
        raise ValueError(f"date format {text!r}: two-digit years need a century digit C (CYYMMDD)")
    has_year = "y" in groups or {"c", "yy"} <= set(groups)
    if not has_year or not ({"m", "d"} <= set(groups) or "j" in groups):
        raise ValueError(
            f"date format {text!r} needs YYYY (or CYY) and MM+DD or DDD; "
            "use tokens YYYY, MM, DD, DDD, C, YY or 'excel'"
        )
    regex = ""
    for i, (kind, piece) in enumerate(pieces):
        if kind == "lit":
            regex += re.escape(piece)
            continue
        name, width = _TOKENS[piece]
        before = pieces[i - 1][0] if i > 0 else "lit"
        after = pieces[i + 1][0] if i + 1 < len(pieces) else "lit"
        # Month and day may drop their leading zero (1/5/2024) when separators delimit them.
        flexible = name in ("m", "d") and before == "lit" and after == "lit"
        regex += f"(?P<{name}>\\d{{1,2}})" if flexible else f"(?P<{name}>\\d{{{width}}})"
    digits_only = all(k == "tok" for k, _ in pieces)
    width = sum(_TOKENS[t][1] for k, t in pieces if k == "tok")
    return DateFormat(fmt, f"^{regex}$", tuple(groups), digits_only, width)


def _ints(struct: pa.StructArray, name: str) -> np.ndarray:
    return (
        pc.cast(pc.struct_field(struct, [struct.type.get_field_index(name)]), pa.int64())
        .fill_null(0)
        .to_numpy(zero_copy_only=False)
    )


def _compose(
    y: np.ndarray, m: np.ndarray | None, d: np.ndarray | None, j: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970 and a validity mask for calendar parts."""
    ok = (y >= 1) & (y <= 9999)
    ys = np.where(ok, y, 1970)
    year_start = (ys - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    if j is not None:
        next_year = (ys - 1969).astype("datetime64[Y]").astype("datetime64[D]")
        ok &= (j >= 1) & (j <= (next_year - year_start).astype(np.int64))
        days = year_start + np.where(ok, j - 1, 0).astype("timedelta64[D]")
        return days.astype(np.int64), ok
    assert m is not None and d is not None
    ok &= (m >= 1) & (m <= 12)
    months = (ys - 1970) * 12 + np.where(ok, m - 1, 0)
    start = months.astype("datetime64[M]").astype("datetime64[D]")
    end = (months + 1).astype("datetime64[M]").astype("datetime64[D]")
    ok &= (d >= 1) & (d <= (end - start).astype(np.int64))
    days = start + np.where(ok, d - 1, 0).astype("timedelta64[D]")
    return days.astype(np.int64), ok


def _as_text(values: pa.Array, fmt: DateFormat) -> pa.Array:
    if pa.types.is_floating(values.type):
        whole = pc.equal(pc.floor(values), values).fill_null(False)
        as_int = pc.cast(pc.cast(values, pa.int64(), safe=False), pa.string())
        if fmt.digits_only:
            as_int = pc.utf8_lpad(as_int, width=fmt.width, padding="0")
        return pc.if_else(whole, as_int, pc.cast(values, pa.string()))
    if pa.types.is_integer(values.type) or pa.types.is_decimal(values.type):
        text = pc.cast(values, pa.string())
        if fmt.digits_only:  # CYYMMDD 991231 (C=0) lost its leading zero as a number
            text = pc.utf8_lpad(text, width=fmt.width, padding="0")
        return text
    return pc.utf8_trim_whitespace(pc.cast(values, pa.string()))


def parse_dates(
    values: pa.Array, format_text: str, null_values: tuple[str, ...] = ()
) -> tuple[pa.Array, np.ndarray]:
    """Parse a column of legacy dates.

    Args:
        values: strings or numbers.
        format_text: a token format or `excel`.
        null_values: extra texts meaning "no date" (zeros-only values always mean no date).

    Returns:
        (date32 array, failed mask): failed values are null in the array and True in the mask.
    """
    if format_text.lower() == EXCEL:
        return _excel(values)
    fmt = compile_format(format_text)
    text = _as_text(values, fmt)
    zeros = pc.match_substring_regex(text, r"^[^1-9A-Za-z]*0[^1-9A-Za-z]*$")
    blank = pc.or_(pc.equal(text, ""), zeros)
    if null_values:
        blank = pc.or_(blank, pc.is_in(text, value_set=pa.array(list(null_values), pa.string())))
    blank = blank.fill_null(False)
    text = pc.if_else(blank, pa.scalar(None, pa.string()), text)
    present = pc.is_valid(text).to_numpy(zero_copy_only=False)
    parts = pc.extract_regex(text, fmt.regex)
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    if len(values) == 0:
        return pa.array([], pa.date32()), np.zeros(0, dtype=bool)
    y = (
        _ints(parts, "y")
        if "y" in fmt.groups
        else (1900 + 100 * _ints(parts, "c") + _ints(parts, "yy"))
    )
    m = _ints(parts, "m") if "m" in fmt.groups else None
    d = _ints(parts, "d") if "d" in fmt.groups else None
    j = _ints(parts, "j") if "j" in fmt.groups else None
    days, ok = _compose(y, m, d, j)
    ok &= matched
    failed = present & ~ok
    dates = pa.array(days.astype(np.int32), pa.date32(), mask=~ok)
    return dates, failed


def _excel(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text = pc.utf8_trim_whitespace(values)
        numeric = pc.match_substring_regex(text, r"^\d+(\.\d+)?$").fill_null(False)
        present = pc.and_(pc.is_valid(text), pc.not_equal(text, "")).fill_null(False)
        number = pc.cast(pc.if_else(numeric, text, pa.scalar(None, pa.string())), pa.float64())
        present_np = present.to_numpy(zero_copy_only=False)
    else:
        number = pc.cast(values, pa.float64())
        numeric = pc.is_valid(number)
        present_np = pc.is_valid(values).to_numpy(zero_copy_only=False)
    serial = pc.floor(number).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    numeric_np = numeric.to_numpy(zero_copy_only=False)
    zero = present_np & numeric_np & (serial == 0)
    # Excel counts 1900-02-29 (serial 60), a day that never was: serials before it are one day off.
    ok = numeric_np & (serial >= 1) & (serial <= _EXCEL_MAX) & (serial != 60)
    base = np.where(serial < 60, -25568, -25569)  # 1899-12-31 / 1899-12-30 as days since 1970
    days = np.where(ok, serial + base, 0)
    failed = present_np & ~ok & ~zero
    return pa.array(days.astype(np.int32), pa.date32(), mask=~ok), failed
