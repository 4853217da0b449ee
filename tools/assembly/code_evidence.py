"""Evidence from the data for coded values no code table can decide: numeric frequency modes.

A numeric mode counts payments a year in some systems (1, 2, 4, 12) and months between payments
in others (12, 6, 3, 1), so ``12`` is monthly in one and annual in the other; the code table
leaves them out on purpose. The source's own records can tell which: the days between two of a
record's dates (its last payment and its next due date) are about 365 / n when n counts payments
a year and about 30.4 * n when it counts months. The reading that explains more of the column's
values (at least two) is offered per value it explains, with the median interval and how many
records show it. It is a suggestion for a person: the crosswalk keeps the value unmapped (its
records quarantined) until someone confirms or edits it; a value neither reading explains (an
unknown code) gets none.

Intervals are counted per value in a histogram of days, part by part: memory does not grow with
the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tools.assembly.keyspace import parquet_files
from tools.canonical.dates import parse_dates
from tools.content.profiling import load_profile
from tools.content.sources import SourceInfo

PER_YEAR = "payments a year"
MONTHS = "months between payments"
#: What each reading of a numeric mode means, as the canonical frequency.
READINGS: dict[str, dict[int, str]] = {
    PER_YEAR: {1: "annual", 2: "semi_annual", 4: "quarterly", 12: "monthly"},
    MONTHS: {12: "annual", 6: "semi_annual", 3: "quarterly", 1: "monthly"},
}
FREQUENCIES = {"annual", "semi_annual", "quarterly", "monthly"}
TOLERANCE = 0.15  # a median interval within 15% of the reading's expected days
MAX_DAYS = 800  # longer intervals say nothing about a payment schedule
MIN_RECORDS = 5
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Suggestion:
    """A canonical value the data points to, and why (for a person to confirm)."""

    canonical: str
    evidence: str


def _expected(reading: str, n: int) -> float:
    return 365.25 / n if reading == PER_YEAR else 30.44 * n


def _date_columns(info: SourceInfo, column: str) -> list[tuple[str, str]]:
    """The source's date columns (name, format) its profile found, the coded column aside."""
    profile = load_profile(info)
    return [
        (c["name"], c["date_format"])
        for c in profile.get("columns", [])
        if c.get("type") == "date" and c.get("date_format") and c["name"] != column
    ]


def _histograms(
    info: SourceInfo, column: str, dates: list[tuple[str, str]], codes: list[str]
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Per pair of date columns, per code value: a histogram of the days between them."""
    pairs = list(combinations(dates, 2))
    out = {(a[0], b[0]): {v: np.zeros(MAX_DAYS + 1, np.int64) for v in codes} for a, b in pairs}
    wanted = pa.array(codes, pa.string())
    names = [column, *(name for name, _ in dates)]
    for path in parquet_files(info):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=names):
            code = pc.utf8_trim_whitespace(pc.cast(batch.column(0), pa.string()))
            index = pc.fill_null(pc.index_in(code, value_set=wanted), -1).to_numpy()
            if not (index >= 0).any():
                continue
            days = {
                name: pc.cast(parse_dates(batch.column(name), fmt)[0], pa.int32())
                for name, fmt in dates
            }
            for (a, _), (b, _) in pairs:
                gap = pc.fill_null(pc.abs(pc.subtract(days[b], days[a])), -1).to_numpy()
                ok = (index >= 0) & (gap >= 0) & (gap <= MAX_DAYS)
                at, spans = index[ok], gap[ok].astype(np.int64)
                for k, value in enumerate(codes):
                    mine = spans[at == k]
                    if len(mine):
                        out[(a, b)][value] += np.bincount(mine, minlength=MAX_DAYS + 1)
    return out


def _median(histogram: np.ndarray) -> float:
    cumulative = np.cumsum(histogram)
    return float(np.searchsorted(cumulative, cumulative[-1] / 2))


def _explained(
    medians: dict[str, tuple[float, int]], numbers: dict[str, int], reading: str
) -> dict[str, float]:
    """The values whose median interval fits ``reading`` (value -> expected days)."""
    table = READINGS[reading]
    out = {}
    for value, (median, _) in medians.items():
        n = numbers[value]
        if n in table and abs(median - _expected(reading, n)) <= TOLERANCE * _expected(reading, n):
            out[value] = _expected(reading, n)
    return out


def frequency_suggestions(
    info: SourceInfo, column: str, values: list[str], allowed: list[str]
) -> dict[str, Suggestion]:
    """Suggestions for the numeric ``values`` of a frequency column (see the module docstring);
    empty when the field is not a frequency, the source holds fewer than two dates, or no
    reading of the column explains two of its values better than the other."""
    numbers = {v: int(v) for v in values if v.isdigit() and 0 < int(v) <= 12}
    if not numbers or not FREQUENCIES <= set(allowed):
        return {}
    dates = _date_columns(info, column)
    if len(dates) < 2:
        return {}
    best: tuple[int, str, tuple[str, str], dict[str, tuple[float, int]]] | None = None
    for pair, per_value in _histograms(info, column, dates, list(numbers)).items():
        medians = {
            v: (_median(h), int(h.sum())) for v, h in per_value.items() if h.sum() >= MIN_RECORDS
        }
        fits = {r: len(_explained(medians, numbers, r)) for r in READINGS}
        reading = max(fits, key=lambda r: fits[r])
        score = fits[reading]
        if score >= 2 and score > min(fits.values()) and (best is None or score > best[0]):
            best = (score, reading, pair, medians)
    if best is None:
        return {}
    _, reading, (a, b), medians = best
    out = {}
    for value, expected in _explained(medians, numbers, reading).items():
        canonical = READINGS[reading][numbers[value]]
        if canonical not in allowed:
            continue
        median, records = medians[value]
        out[value] = Suggestion(
            canonical,
            f"needs a person (a numeric mode counts payments a year or months between them): "
            f"{records:,} records of '{value}' in {info.name}, median {median:.0f} days between "
            f"{a} and {b}: {numbers[value]} {reading} ({expected:.0f} days) -> {canonical}",
        )
    return out
