"""The streaming profiler on small data whose answers are known."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pyarrow as pa
import pytest

from core.errors import InputError
from tools.content.profile import ColumnProfiler, compress_pattern, profile_batches


def batches() -> list[pa.RecordBatch]:
    first = pa.record_batch(
        {
            "policy_id": ["AB0000001", "AB0000002", "AB0000002", None],
            "start": ["2020-01-31", "2023-02-30", "2021-12-01", ""],
            "eu_date": ["31.12.2020", "01.02.2021", "31.02.2021", None],
            "julian": ["2020045", "2021366", "2020366", "2020001"],
            "us_date": ["1/31/2020", "12/1/2021", "13/1/2021", "2/29/2024"],
            "flag": ["Y", "N", "y", "N"],
            "premium": ["12.50", "3", "1,5", "-7.25"],
            "agency": ["0012", "0013", "0014", "0015"],
            "note": ["water damage in cellar", "fire", None, "  "],
            "amount": pa.array([Decimal("1.10"), None, Decimal("2.20"), Decimal("3.30")]),
        }
    )
    second = pa.record_batch(
        {
            "policy_id": ["AB0000003"],
            "start": ["2020-05-05"],
            "eu_date": ["01.01.2000"],
            "julian": ["2024060"],
            "us_date": ["7/4/1999"],
            "flag": ["Y"],
            "premium": ["100"],
            "agency": ["0016"],
            "note": ["theft"],
            "amount": pa.array([Decimal("0.50")]),
        }
    )
    return [first, second]


@pytest.fixture(scope="module")
def profile():
    return profile_batches(batches(), key_columns=["policy_id"])


def col(profile, name):
    return next(c for c in profile.columns if c.name == name)


def test_null_rate_distinct_and_top_values(profile) -> None:
    pid = col(profile, "policy_id")
    assert (pid.count, pid.null_count, pid.null_rate, pid.distinct) == (5, 1, 0.2, 3)
    assert pid.top_values[0].model_dump() == {"value": "AB0000002", "count": 2}
    note = col(profile, "note")
    assert note.null_count == 2  # blank text counts as missing
    assert note.type == "text"


def test_pattern_and_compression(profile) -> None:
    pid = col(profile, "policy_id")
    assert pid.pattern == "AA9999999" and pid.pattern_compressed == "A{2}9{7}"
    assert pid.patterns[0].share == 1.0
    assert compress_pattern("99.99.9999") == "9{2}.9{2}.9{4}"


def test_date_signatures_min_max_and_invalid_keys(profile) -> None:
    start = col(profile, "start")
    assert (start.type, start.date_format) == ("date", "YYYY-MM-DD")
    assert (start.min, start.max) == ("2020-01-31", "2021-12-01")
    assert start.invalid_dates.model_dump() == {"count": 1, "sample_keys": ["AB0000002"]}
    assert start.validity == 0.75
    eu = col(profile, "eu_date")
    assert eu.date_format == "DD.MM.YYYY" and eu.invalid_dates.count == 1
    julian = col(profile, "julian")
    assert julian.date_format == "YYYYDDD" and julian.max == "2024-02-29"
    assert julian.invalid_dates.count == 1  # 2021 has no day 366
    us = col(profile, "us_date")
    assert us.date_format == "MM/DD/YYYY" and us.invalid_dates.count == 1  # month 13


def test_inferred_types(profile) -> None:
    assert col(profile, "flag").type == "boolean"
    premium = col(profile, "premium")
    assert premium.type == "decimal" and (premium.min, premium.max) == (-7.25, 100.0)
    assert col(profile, "agency").type == "code"  # leading zeros
    amount = col(profile, "amount")
    assert (amount.type, amount.min, amount.max) == ("decimal", "0.50", "3.30")


def test_duplicate_keys_and_quality(profile) -> None:
    assert profile.records == 5
    assert profile.duplicate_keys.model_dump() == {"count": 1, "sample_keys": ["AB0000002"]}
    assert (profile.duplicate_rows, profile.null_keys, profile.key_uniqueness) == (1, 1, 0.75)
    pid = col(profile, "policy_id")
    # completeness 0.8 * validity 1 * uniqueness 0.75
    assert pid.is_key and pid.uniqueness == 0.75 and pid.quality == 0.6
    start = col(profile, "start")
    assert start.quality == round(0.8 * 0.75, 4)
    mean = sum(c.quality for c in profile.columns) / len(profile.columns)
    assert profile.quality_score == round(mean, 4)
    json.dumps(profile.model_dump(mode="json"))  # JSON-ready


def test_row_index_names_failing_rows_without_keys() -> None:
    result = profile_batches(batches())
    start = col(result, "start")
    assert start.invalid_dates.sample_keys == ["row:1"]
    assert result.duplicate_keys is None


def test_composite_key_and_missing_key_column() -> None:
    batch = pa.record_batch({"a": ["1", "1", "2"], "b": ["x", "x", "x"]})
    result = profile_batches([batch], key_columns=["a", "b"])
    assert result.duplicate_keys.sample_keys == ["1|x"]
    with pytest.raises(InputError, match="key columns not in the source: c"):
        profile_batches([batch], key_columns=["c"])


def test_distinct_switches_to_estimate_above_cap() -> None:
    rng = random.Random(7)
    values = [f"V{rng.randrange(10**9)}" for _ in range(30_000)]
    profiler = ColumnProfiler("v", exact_distinct_cap=1_000)
    for start in range(0, len(values), 5_000):
        profiler.update(pa.array(values[start : start + 5_000]))
    result = profiler.result()
    exact = len(set(values))
    assert not result.distinct_exact
    assert abs(result.distinct - exact) / exact < 0.05


def test_list_and_empty_columns() -> None:
    batch = pa.record_batch({"l": pa.array([[1, 2], None, []]), "e": pa.array([None, "", " "])})
    result = profile_batches([batch])
    lst, empty = col(result, "l"), col(result, "e")
    assert (lst.type, lst.null_rate, lst.max_length) == ("list", round(1 / 3, 4), 2)
    assert (empty.type, empty.null_rate, empty.quality) == ("empty", 1.0, 0.0)
