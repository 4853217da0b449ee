"""Dates stored as integers (``PIC 9(8)`` YYYYMMDD, Julian YYYYDDD, IBM CYYMMDD), vectorised.

Mainframe and CSV exports often keep dates as plain numbers, which readers rightly type as
integers. An integer column is read as a date column only when its name says so (glossary words
such as DT/DTE/DATE/EFF/EXP/ISS, see :func:`name_suggests_date`) and at least half of its
values are valid dates, or, whatever its name, when at least 95 % of its values are valid dates;
amounts and counts (``FACEAMT`` = 50000000) therefore stay integers.

Signatures: ``YYYYMMDD (int)`` (8 digits), ``YYYYDDD (int)`` (7 digits, day 001-366) and
``CYYMMDD (int)`` (century digit 0 = 19xx, 1 = 20xx; up to 7 digits). Validity follows the text
date rules: calendar-aware month/day, leap years, four-digit years 1800-2199.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from knowledge.glossary import expand_name

YYYYMMDD = "YYYYMMDD (int)"
YYYYDDD = "YYYYDDD (int)"
CYYMMDD = "CYYMMDD (int)"
MIN_VALID_SHARE = 0.95  # of non-null values, for a column whose name does not suggest a date
MIN_NAMED_VALID_SHARE = 0.5  # of shape-matching values, for a column named like a date
MIN_MATCHED_SHARE = 0.8  # of non-null values having the signature's digit count

# Words of the expanded name (knowledge.glossary) that mark a date column.
DATE_WORDS = frozenset(
    {
        "date",
        "dates",
        "dob",
        "birth",
        "effective",
        "expiration",
        "expiry",
        "expires",
        "issue",
        "issued",
        "maturity",
        "inception",
        "renewal",
        "cancellation",
        "anniversary",
        "dated",
    }
)
_RAW_DATE = re.compile(r"(dt|dte|date|dat|dob)$")
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@lru_cache(maxsize=4096)
def name_suggests_date(name: str) -> bool:
    """True when a column name reads as a date (``EFF_DT``, ``ISSUEDT``, ``INSDOB``, ``DOB``).

    Only the last dotted segment counts (``INSD_DTL.INSD_PERS.BIRTH_DT`` -> ``BIRTH_DT``).
    """

    leaf = name.rsplit(".", 1)[-1]
    if set(expand_name(leaf).lower().split()) & DATE_WORDS:
        return True
    return any(_RAW_DATE.search(token) for token in re.split(r"[^a-z0-9]+", leaf.lower()) if token)


def _calendar(
    year: np.ndarray, month: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(valid mask, datetime64[D] with NaT where invalid) of year/month/day integer arrays."""
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok = (year >= 1800) & (year <= 2199) & (month >= 1) & (month <= 12)
    safe_month = np.where(ok, month, 1)
    ok &= (day >= 1) & (day <= _DAYS_IN_MONTH[safe_month - 1] + ((safe_month == 2) & leap))
    return ok, _stamp(ok, year, safe_month, np.where(ok, day, 1))


def _stamp(ok: np.ndarray, year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    base = (np.where(ok, year, 2000) - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (
        month - 1
    ).astype("timedelta64[M]")
    stamp = base.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    return np.where(ok, stamp, np.datetime64("NaT", "D"))


def int_date_candidates(values: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each signature's (shape-matched mask, valid mask, datetime64[D]) over integer values.

    Only signatures that match at least one value are returned; ``valid`` implies ``matched``.
    """
    v = values.astype(np.int64, copy=False)
    out = {}
    eight = (v >= 10_000_000) & (v <= 99_999_999)
    if eight.any():
        ok, stamp = _calendar(v // 10_000, v // 100 % 100, v % 100)
        out[YYYYMMDD] = (eight, ok & eight, stamp)
    seven = (v >= 1_000_000) & (v <= 9_999_999)
    if seven.any():
        year, doy = v // 1000, v % 1000
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        ok = seven & (year >= 1800) & (year <= 2199) & (doy >= 1) & (doy <= 365 + leap)
        jan1 = _stamp(ok, year, np.ones_like(year), np.ones_like(year))
        stamp = np.where(
            ok,
            jan1 + (np.where(ok, doy, 1) - 1).astype("timedelta64[D]"),
            np.datetime64("NaT", "D"),
        )
        out[YYYYDDD] = (seven, ok, stamp)
    cyy = (v >= 10_101) & (v <= 1_991_231)
    if cyy.any():
        ok, stamp = _calendar(
            1900 + v // 1_000_000 * 100 + v // 10_000 % 100, v // 100 % 100, v % 100
        )
        out[CYYMMDD] = (cyy, ok & cyy, stamp)
    return out


def is_int_date_column(name: str, non_null: int, matched: int, valid: int) -> bool:
    """Whether an integer column's best date signature makes it a date column (module doc)."""
    if not non_null or matched < MIN_MATCHED_SHARE * non_null:
        return False
    if valid >= MIN_VALID_SHARE * non_null:
        return True
    return valid >= MIN_NAMED_VALID_SHARE * matched and name_suggests_date(name)
