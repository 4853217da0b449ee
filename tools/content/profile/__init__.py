"""Streaming column profiler: one pass over Arrow batches, memory bounded, vectorised per batch.

Per column it accumulates counts with ``pyarrow.compute`` on whole batches; Python only loops over
*distinct* patterns and (above the exact cap) distinct values of a batch, never over rows.

Definitions (also in docs/profiling.md):

- A value is *null* when it is null or, for text, empty / blank after trimming.
  ``null_rate = nulls / rows``; ``completeness = 1 - null_rate``.
- ``distinct`` is exact while a column has at most ``exact_distinct_cap`` distinct values
  (``distinct_exact`` true); beyond that it is a HyperLogLog estimate (2^14 registers, blake2b
  64-bit hashes, about 0.8 % standard error) and ``top_values`` become approximate (per batch only
  the 100 most frequent values are merged into a bounded counter).
- ``pattern``: each letter -> ``A``, each digit -> ``9``, other characters kept, on the first 40
  characters (``…`` marks longer values); the most common one is reported, with
  ``pattern_compressed`` writing runs as ``A{2}9{7}``.
- Date signatures are derived from patterns (``9999-99-99`` -> ``YYYY-MM-DD``; ``99999999`` ->
  ``YYYYMMDD``; ``9999999`` -> ``YYYYDDD`` Julian; ``99.99.9999`` -> ``DD.MM.YYYY``;
  ``99/99/9999`` -> ``MM/DD/YYYY`` or ``DD/MM/YYYY``, whichever leaves fewer invalid dates...).
  A date is *valid* when its month, day (calendar-aware, leap years included), day of year,
  time of day and, for four-digit years, year (1800-2199) are in range. ``00000000`` and
  ``2023-02-30`` are invalid dates.
- Integer columns holding dates as numbers (``YYYYMMDD (int)``, ``YYYYDDD (int)``,
  ``CYYMMDD (int)``) get type ``date`` when the name reads as a date and at least half of the
  values are valid dates, or when at least 95 % are, whatever the name (profile/numeric_dates.py);
  every non-null value that is not a valid date counts as invalid and is sampled by key.
- Inferred ``type`` of a text column, over its non-null values: ``boolean`` when every value is a
  boolean token (true/false/yes/no/y/n/t/f) and there are at most two; ``date``/``datetime`` when
  at least 80 % have the best signature's shape and at least half of those are valid; ``integer``
  when at least 95 % are integers (``code`` instead if any has a leading zero); ``decimal`` when
  at least 95 % are numbers; otherwise ``code`` (at most 20 characters, at least 90 % without a
  blank, and at most 1,000 distinct values or one pattern covering 90 %) or ``text``.
  Arrow-typed columns keep their type (int -> integer, float/decimal -> decimal, ...).
- ``validity`` = share of non-null values that conform to the inferred type: integer- or
  number-shaped for integer/decimal, valid dates of the chosen signature for date/datetime,
  boolean tokens for boolean, values whose pattern covers at least 5 % of the column for code,
  and 1 for text, list and Arrow-typed columns.
- ``uniqueness`` (only for a single-column key) = distinct non-null keys / non-null keys.
- Column ``quality = completeness * validity * uniqueness`` (uniqueness 1 when not the key):
  the share of values that are present, well-formed and, for a key, not duplicated.
- Source ``quality_score`` = mean column quality, times the composite key's uniqueness when the
  key has several columns. All scores are in [0, 1], rounded to 4 decimals.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError
from tools.content.profile.dates import DATEISH, DateStats, date_shapes, parse_dates
from tools.content.profile.keys import KeyCounter
from tools.content.profile.models import (
    ColumnProfile,
    ColumnType,
    IssueSample,
    PatternCount,
    SourceProfile,
    ValueCount,
)
from tools.content.profile.numeric_dates import int_date_candidates, is_int_date_column
from tools.content.profile.sketches import (
    ValueCounter,
    char_pattern,
    compress_pattern,
    json_scalar,
    round4,
)
from tools.content.readers.base import ReadBatch
from tools.content.readers.columnar import flatten_batch

__all__ = [
    "ColumnProfile",
    "ColumnProfiler",
    "ColumnType",
    "IssueSample",
    "PatternCount",
    "SourceProfile",
    "SourceProfiler",
    "ValueCount",
    "compress_pattern",
    "profile_batches",
]

EXACT_DISTINCT_CAP = 50_000
TOP_K = 10
SAMPLE_KEYS = 20
_PATTERN_CAP = 1_000
_BOOL_TOKENS = pa.array(["true", "false", "yes", "no", "y", "n", "t", "f"])
_INT_PAT = re.compile(r"^[+-]?9+$")
_DEC_PAT = re.compile(r"^[+-]?(9+[.,]9+|[.,]9+|9{1,3}([.,]9{3})+([.,]9+)?)$")


def _native_type(type_: pa.DataType) -> ColumnType | None:
    if pa.types.is_integer(type_):
        return "integer"
    if pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "decimal"
    if pa.types.is_boolean(type_):
        return "boolean"
    if pa.types.is_date(type_):
        return "date"
    if pa.types.is_timestamp(type_):
        return "datetime"
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_struct(type_):
        return "list"
    return None  # text: inferred from the values


class _RowKeys:
    """Keys of one batch's rows, built only when a failing row needs naming."""

    def __init__(self, batch: pa.RecordBatch, key_columns: Sequence[str], first_row: int) -> None:
        self.batch, self.key_columns, self.first_row = batch, key_columns, first_row
        self._keys: pa.Array | None = None

    def keys(self) -> pa.Array:
        if self._keys is None:
            self._keys = _key_array(self.batch, self.key_columns, self.first_row)
        return self._keys

    def take(self, positions: pa.Array, limit: int) -> list[str]:
        if limit <= 0 or not len(positions):
            return []
        return [
            k if k is not None else "(null key)"
            for k in self.keys().take(positions[:limit]).to_pylist()
        ]


def _key_array(batch: pa.RecordBatch, key_columns: Sequence[str], first_row: int) -> pa.Array:
    if not key_columns:
        rows = pa.array(np.arange(first_row, first_row + batch.num_rows), pa.int64())
        return pc.binary_join_element_wise("row:", pc.cast(rows, pa.string()), "")
    parts = [pc.cast(batch.column(name), pa.string()) for name in key_columns]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "|")


class ColumnProfiler:
    """Accumulates one column's profile over batches; see the module docstring."""

    def __init__(
        self, name: str, *, exact_distinct_cap: int = EXACT_DISTINCT_CAP, top_k: int = TOP_K
    ) -> None:
        self.name = name
        self.top_k = top_k
        self.arrow_type: pa.DataType | None = None
        self.rows = self.nulls = 0
        self.values = ValueCounter(exact_distinct_cap)
        self.patterns: Counter[str] = Counter()
        self.lengths: list[int] = []  # running [min, max]
        self.low: Any = None
        self.high: Any = None
        self.num_low: float | None = None
        self.num_high: float | None = None
        self.shape_counts: Counter[str] = Counter()  # int, dec, bool, leading_zero, blank_inside
        self.dates: dict[str, DateStats] = {}

    def update(self, array: pa.Array, keys: _RowKeys | None = None) -> None:
        """Add one batch of this column. ``keys`` names rows for the invalid-date sample."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        self.arrow_type = self.arrow_type or array.type
        self.rows += len(array)
        native = _native_type(array.type)
        if native == "list":
            self._update_list(array)
            return
        if native is None:
            text = pc.cast(array, pa.string()) if not pa.types.is_string(array.type) else array
            text = pc.utf8_trim_whitespace(text)
            text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        else:
            text = pc.cast(array, pa.string())
            self._min_max(pc.drop_null(array))
            if native == "integer":
                self._update_int_dates(array, keys)
        self.nulls += text.null_count
        positions = pc.indices_nonzero(pc.is_valid(text))
        valid = pc.drop_null(text)
        if not len(valid):
            return
        lengths = pc.min_max(pc.utf8_length(valid))
        self.lengths = [
            min(self.lengths[0], lengths["min"].as_py())
            if self.lengths
            else lengths["min"].as_py(),
            max(self.lengths[1], lengths["max"].as_py())
            if self.lengths
            else lengths["max"].as_py(),
        ]
        self.values.add(pc.value_counts(valid))
        pattern = char_pattern(valid)
        pattern_counts = pc.value_counts(pattern)
        self.patterns.update(
            dict(
                zip(
                    pattern_counts.field("values").to_pylist(),
                    pattern_counts.field("counts").to_pylist(),
                    strict=True,
                )
            )
        )
        if len(self.patterns) > _PATTERN_CAP:
            self.patterns = Counter(dict(self.patterns.most_common(_PATTERN_CAP // 2)))
        if native is None:
            self._min_max(valid)
            self._infer_shapes(valid, pattern, pattern_counts, positions, keys)

    def merge(self, other: ColumnProfiler) -> None:
        """Add the same column's profile of a later range of rows (see SourceProfiler.merge)."""
        self.arrow_type = self.arrow_type or other.arrow_type
        self.rows += other.rows
        self.nulls += other.nulls
        self.values.merge(other.values)
        self.patterns.update(other.patterns)
        if len(self.patterns) > _PATTERN_CAP:
            self.patterns = Counter(dict(self.patterns.most_common(_PATTERN_CAP // 2)))
        if other.lengths:
            self.lengths = (
                [min(self.lengths[0], other.lengths[0]), max(self.lengths[1], other.lengths[1])]
                if self.lengths
                else list(other.lengths)
            )
        if other.low is not None and (self.low is None or other.low < self.low):
            self.low = other.low
        if other.high is not None and (self.high is None or other.high > self.high):
            self.high = other.high
        if other.num_low is not None:
            self.num_low = (
                other.num_low if self.num_low is None else min(self.num_low, other.num_low)
            )
        if other.num_high is not None:
            self.num_high = (
                other.num_high if self.num_high is None else max(self.num_high, other.num_high)
            )
        self.shape_counts.update(other.shape_counts)
        for signature, theirs in other.dates.items():
            stats = self.dates.setdefault(signature, DateStats(theirs.kind))
            stats.matched += theirs.matched
            stats.valid += theirs.valid
            if theirs.low is not None:
                stats.low = theirs.low if stats.low is None else min(stats.low, theirs.low)
            if theirs.high is not None:
                stats.high = theirs.high if stats.high is None else max(stats.high, theirs.high)
            stats.invalid_keys = (stats.invalid_keys + theirs.invalid_keys)[:SAMPLE_KEYS]

    def _update_list(self, array: pa.Array) -> None:
        self.nulls += array.null_count
        lengths = pc.drop_null(pc.list_value_length(array))
        if len(lengths):
            mm = pc.min_max(lengths)
            low, high = mm["min"].as_py(), mm["max"].as_py()
            self.lengths = (
                [min(self.lengths[0], low), max(self.lengths[1], high)]
                if self.lengths
                else [low, high]
            )

    def _update_int_dates(self, array: pa.Array, keys: _RowKeys | None) -> None:
        """Count integer values that read as dates (see profile/numeric_dates.py)."""
        positions = pc.indices_nonzero(pc.is_valid(array))
        values = pc.drop_null(array).to_numpy(zero_copy_only=False)
        for signature, (matched, ok, stamps) in int_date_candidates(values).items():
            stats = self.dates.setdefault(signature, DateStats("date"))
            stats.matched += int(matched.sum())
            stats.valid += int(ok.sum())
            if ok.any():
                lo, hi = stamps[ok].min(), stamps[ok].max()
                stats.low = lo if stats.low is None else min(stats.low, lo)
                stats.high = hi if stats.high is None else max(stats.high, hi)
            # every value this signature cannot read counts as invalid, so sample all of them
            need = SAMPLE_KEYS - len(stats.invalid_keys)
            bad = np.flatnonzero(~ok)
            if len(bad) and need > 0 and keys is not None:
                stats.invalid_keys += keys.take(positions.take(pa.array(bad[:need])), need)

    def _min_max(self, values: pa.Array) -> None:
        if not len(values):
            return
        mm = pc.min_max(values)
        low, high = mm["min"].as_py(), mm["max"].as_py()
        self.low = low if self.low is None or (low is not None and low < self.low) else self.low
        self.high = (
            high if self.high is None or (high is not None and high > self.high) else self.high
        )

    def _infer_shapes(
        self,
        valid: pa.Array,
        pattern: pa.Array,
        pattern_counts: pa.StructArray,
        positions: pa.Array,
        keys: _RowKeys | None,
    ) -> None:
        distinct_patterns = pattern_counts.field("values").to_pylist()
        counts = pattern_counts.field("counts").to_pylist()
        int_pats = [p for p in distinct_patterns if _INT_PAT.match(p)]
        dec_pats = [p for p in distinct_patterns if _DEC_PAT.match(p)]
        by_pattern = dict(zip(distinct_patterns, counts, strict=True))
        self.shape_counts["int"] += sum(by_pattern[p] for p in int_pats)
        self.shape_counts["dec"] += sum(by_pattern[p] for p in dec_pats)
        self.shape_counts["blank_inside"] += pc.sum(pc.match_substring(valid, " ")).as_py() or 0
        lowered = pc.utf8_lower(valid)
        self.shape_counts["bool"] += pc.sum(pc.is_in(lowered, value_set=_BOOL_TOKENS)).as_py() or 0
        if int_pats:
            zeros = pc.match_substring_regex(valid, r"^[+-]?0[0-9]")
            self.shape_counts["leading_zero"] += pc.sum(zeros).as_py() or 0
        numeric_pats = [
            p for p in int_pats + dec_pats if "," not in p or p.count(",") == 1 and "." not in p
        ]
        if numeric_pats:
            mask = pc.is_in(pattern, value_set=pa.array(numeric_pats))
            numbers = pc.cast(pc.replace_substring(pc.filter(valid, mask), ",", "."), pa.float64())
            if len(numbers):
                mm = pc.min_max(numbers)
                lo, hi = mm["min"].as_py(), mm["max"].as_py()
                self.num_low = lo if self.num_low is None else min(self.num_low, lo)
                self.num_high = hi if self.num_high is None else max(self.num_high, hi)
        for pat in distinct_patterns:
            if not re.match(DATEISH, pat):
                continue
            shapes = date_shapes(pat)
            if not shapes:
                continue
            mask = pc.equal(pattern, pat)
            subset = pc.filter(valid, mask)
            sub_positions = pc.filter(positions, mask)
            for shape in shapes:
                stats = self.dates.setdefault(shape.signature, DateStats(shape.kind))
                ok, stamps = parse_dates(subset, shape)
                stats.matched += len(subset)
                stats.valid += int(ok.sum())
                if ok.any():
                    lo, hi = stamps[ok].min(), stamps[ok].max()
                    stats.low = lo if stats.low is None else min(stats.low, lo)
                    stats.high = hi if stats.high is None else max(stats.high, hi)
                bad = np.flatnonzero(~ok)
                need = SAMPLE_KEYS - len(stats.invalid_keys)
                if len(bad) and need > 0 and keys is not None:
                    stats.invalid_keys += keys.take(sub_positions.take(pa.array(bad[:need])), need)

    # ------------------------------------------------------------------ result

    def _best_date(self) -> tuple[str, DateStats] | None:
        if not self.dates:
            return None
        return max(self.dates.items(), key=lambda kv: (kv[1].matched, kv[1].valid))

    def _int_date(self) -> tuple[str, DateStats] | None:
        """The date signature of an integer column, or None when it is not a date column."""
        best = self._best_date()
        if best is None:
            return None
        non_null = self.rows - self.nulls
        return (
            best
            if is_int_date_column(self.name, non_null, best[1].matched, best[1].valid)
            else None
        )

    def _infer(self, non_null: int) -> tuple[ColumnType, float, dict[str, float]]:
        """Inferred type, validity and type shares for a text column."""
        share = {k: v / non_null for k, v in self.shape_counts.items()}
        shares = {
            "integer": share.get("int", 0.0),
            "decimal": share.get("int", 0.0) + share.get("dec", 0.0),
            "boolean": share.get("bool", 0.0),
        }
        best = self._best_date()
        if best:
            shares[best[1].kind] = best[1].matched / non_null
        if (
            shares["boolean"] == 1.0
            and self.values.exact
            and len(pc.unique(pc.utf8_lower(self.values.values))) <= 2
        ):  # Y/y/N: still 2
            return "boolean", 1.0, shares
        if best and best[1].matched / non_null >= 0.8 and best[1].valid >= 0.5 * best[1].matched:
            return best[1].kind, best[1].valid / non_null, shares  # type: ignore[return-value]
        if shares["integer"] >= 0.95:
            # leading zeros ("00123") mean an identifier or code, not a quantity
            kind: ColumnType = "code" if self.shape_counts["leading_zero"] else "integer"
            return kind, shares["integer"], shares
        if shares["decimal"] >= 0.95:
            return "decimal", shares["decimal"], shares
        top_pattern = self.patterns.most_common(1)[0][1] / non_null if self.patterns else 0.0
        is_code = (
            self.lengths
            and self.lengths[1] <= 20
            and share.get("blank_inside", 0.0) <= 0.1
            and (self.values.distinct() <= 1000 or top_pattern >= 0.9)
        )
        if is_code:
            common = sum(c for c in self.patterns.values() if c / non_null >= 0.05)
            return "code", min(common / non_null, 1.0), shares
        return "text", 1.0, shares

    def result(self, *, is_key: bool = False, uniqueness: float | None = None) -> ColumnProfile:
        """The column's profile; ``uniqueness`` is applied when it is the single key column."""
        non_null = self.rows - self.nulls
        native = _native_type(self.arrow_type) if self.arrow_type is not None else None
        date_format = invalid = None
        low, high = self.low, self.high
        shares: dict[str, float] = {}
        if non_null == 0:
            col_type: ColumnType = "empty" if native is None else native
            validity = 1.0
        elif native == "integer" and (int_date := self._int_date()) is not None:
            date_format, stats = int_date
            col_type, validity = "date", stats.valid / non_null
            shares = {"integer": 1.0, "date": stats.valid / non_null}
            low = str(stats.low) if stats.low is not None else None
            high = str(stats.high) if stats.high is not None else None
            invalid = IssueSample(
                count=non_null - stats.valid, sample_keys=stats.invalid_keys[:SAMPLE_KEYS]
            )
        elif native is not None:
            col_type, validity = native, 1.0
        else:
            col_type, validity, shares = self._infer(non_null)
            if col_type in ("integer", "decimal") and self.num_low is not None:
                low, high = self.num_low, self.num_high
                if col_type == "integer":
                    low, high = int(low), int(high)  # type: ignore[arg-type]
            best = self._best_date()
            if col_type in ("date", "datetime") and best:
                date_format, stats = best
                unit = "D" if col_type == "date" else "s"
                low = (
                    str(stats.low.astype(f"datetime64[{unit}]")) if stats.low is not None else None
                )
                high = (
                    str(stats.high.astype(f"datetime64[{unit}]"))
                    if stats.high is not None
                    else None
                )
                invalid = IssueSample(
                    count=non_null - stats.valid, sample_keys=stats.invalid_keys[:SAMPLE_KEYS]
                )
        completeness = non_null / self.rows if self.rows else 0.0
        unique = uniqueness if is_key else None
        quality = completeness * validity * (unique if unique is not None else 1.0)
        common = self.patterns.most_common(5)
        return ColumnProfile(
            name=self.name,
            arrow_type=str(self.arrow_type),
            type=col_type,
            count=self.rows,
            null_count=self.nulls,
            null_rate=round4(1 - completeness if self.rows else 1.0),
            distinct=self.values.distinct(),
            distinct_exact=self.values.exact,
            min=json_scalar(low),
            max=json_scalar(high),
            min_length=self.lengths[0] if self.lengths else None,
            max_length=self.lengths[1] if self.lengths else None,
            top_values=[
                ValueCount(value=v, count=c) for v, c in self.values.most_common(self.top_k)
            ],
            pattern=common[0][0] if common else None,
            pattern_compressed=compress_pattern(common[0][0]) if common else None,
            patterns=[
                PatternCount(pattern=p, count=c, share=round4(c / non_null)) for p, c in common
            ],
            date_format=date_format,
            invalid_dates=invalid,
            type_shares={k: round4(v) for k, v in shares.items()},
            is_key=is_key,
            completeness=round4(completeness),
            validity=round4(validity),
            uniqueness=None if unique is None else round4(unique),
            quality=round4(quality),
        )


class SourceProfiler:
    """Profiles a whole source: one :class:`ColumnProfiler` per column plus key checks."""

    def __init__(
        self,
        key_columns: Sequence[str] = (),
        *,
        exact_distinct_cap: int = EXACT_DISTINCT_CAP,
        top_k: int = TOP_K,
        first_row: int = 0,
    ) -> None:
        self.key_columns = list(key_columns)
        self.cap, self.top_k = exact_distinct_cap, top_k
        self.first_row = first_row  # the source row of this profiler's first record
        self.columns: dict[str, ColumnProfiler] = {}
        self.records = 0
        self.null_keys = 0
        # exact key counts: memory grows with distinct keys (compactly), unavoidable for an
        # exact check
        self.key_counter = KeyCounter()

    def update(self, batch: pa.RecordBatch | ReadBatch) -> None:
        """Add one batch (a RecordBatch, or a reader's ReadBatch)."""

        if isinstance(batch, ReadBatch):
            batch = batch.records
        batch = flatten_batch(batch)
        # ``schema.names`` builds a new list on every access: read it once, look up in a set
        # (a 20,000-column file would otherwise cost columns x columns per batch).
        names = batch.schema.names
        present = set(names)
        missing = [k for k in self.key_columns if k not in present]
        if missing:
            raise InputError(
                f"key columns not in the source: {', '.join(missing)}",
                where="key_columns",
                fix=f"choose from: {', '.join(names)}",
            )
        keys = _RowKeys(batch, self.key_columns, self.first_row + self.records)
        for name, column in zip(names, batch.columns, strict=True):
            profiler = self.columns.get(name)
            if profiler is None:
                profiler = self.columns[name] = ColumnProfiler(
                    name, exact_distinct_cap=self.cap, top_k=self.top_k
                )
                profiler.rows = self.records  # a column first seen late was null before
                profiler.nulls = self.records
            profiler.update(column, keys)
        for name, profiler in self.columns.items():
            if name not in present:  # absent from this batch: all null
                profiler.rows += batch.num_rows
                profiler.nulls += batch.num_rows
        if self.key_columns:
            self._update_keys(keys.keys())
        self.records += batch.num_rows

    def merge(self, other: SourceProfiler) -> None:
        """Add the profile of the rows that follow this one's (``other.first_row`` is
        ``first_row + records``): profiles of consecutive ranges merged in order give what one
        pass gives, except approximate top values past the exact-distinct cap and patterns past
        their cap, which are bounded summaries either way."""
        for name, theirs in other.columns.items():
            mine = self.columns.get(name)
            if mine is None:
                mine = self.columns[name] = ColumnProfiler(
                    name, exact_distinct_cap=self.cap, top_k=self.top_k
                )
                mine.rows = mine.nulls = self.records  # null in every row before
            mine.merge(theirs)
        for name, mine in self.columns.items():
            if name not in other.columns:  # absent from the other range: all null there
                mine.rows += other.records
                mine.nulls += other.records
        self.null_keys += other.null_keys
        self.key_counter.merge(other.key_counter)
        self.records += other.records

    def _update_keys(self, keys: pa.Array) -> None:
        self.null_keys += keys.null_count
        self.key_counter.add(keys)

    def result(self) -> SourceProfile:
        """The source profile (columns in first-seen order)."""
        duplicates = None
        duplicate_rows = 0
        uniqueness: float | None = None
        if self.key_columns:
            dup_keys, duplicate_rows, sample = self.key_counter.duplicates(SAMPLE_KEYS)
            duplicates = IssueSample(count=dup_keys, sample_keys=sample)
            keyed = self.records - self.null_keys
            uniqueness = self.key_counter.distinct / keyed if keyed else 1.0
        single_key = self.key_columns[0] if len(self.key_columns) == 1 else None
        columns = [
            p.result(
                is_key=name in self.key_columns,
                uniqueness=uniqueness if name == single_key else None,
            )
            for name, p in self.columns.items()
        ]
        score = float(np.mean([c.quality for c in columns])) if columns else 0.0
        if uniqueness is not None and single_key is None:
            score *= uniqueness
        return SourceProfile(
            records=self.records,
            columns=columns,
            key_columns=self.key_columns,
            duplicate_keys=duplicates,
            duplicate_rows=duplicate_rows,
            null_keys=self.null_keys,
            key_uniqueness=None if uniqueness is None else round4(uniqueness),
            quality_score=round4(score),
        )


def profile_batches(
    batches: Iterable[pa.RecordBatch | ReadBatch],
    key_columns: Sequence[str] = (),
    *,
    exact_distinct_cap: int = EXACT_DISTINCT_CAP,
    top_k: int = TOP_K,
) -> SourceProfile:
    """Profile a stream of batches in one pass.

    Args:
        batches: Arrow record batches (or a reader's ReadBatch objects), in file order.
        key_columns: Columns that together identify a record; drive duplicate-key checks and
            name failing rows (``row:<index>`` when empty).
        exact_distinct_cap: Distinct values counted exactly per column before estimating.
        top_k: Number of top values reported per column.

    Returns:
        The source profile; ``model_dump(mode="json")`` is JSON-ready.

    Raises:
        InputError: A key column does not exist in the batches.
    """
    profiler = SourceProfiler(key_columns, exact_distinct_cap=exact_distinct_cap, top_k=top_k)
    for batch in batches:
        profiler.update(batch)
    return profiler.result()
