"""Dates stored as integers: recognised by name or by values, invalid ones counted and keyed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from evals.estate import generate_estate
from tools.content.profile import ColumnProfile, profile_batches
from tools.content.profile.numeric_dates import name_suggests_date
from tools.content.source_config import load_source_config


def _profile(columns: dict[str, list[int | None]], key: str = "ID") -> dict[str, ColumnProfile]:
    n = len(next(iter(columns.values())))
    ids = [f"K{i}" for i in range(n)]
    batch = pa.record_batch({key: ids, **{k: pa.array(v, pa.int64()) for k, v in columns.items()}})
    # two batches, so counts, bounds and key samples are merged across batches
    profile = profile_batches([batch.slice(0, n // 2), batch.slice(n // 2)], [key])
    return {c.name: c for c in profile.columns}


def test_yyyymmdd_julian_and_cyymmdd_integers_are_dates_with_invalid_keys() -> None:
    ymd = [20240131, 20240229, 20231301, 20230229, None, 20190704] * 5
    jul = [2024060, 2024366, 2023366, 2021400, 2020001, 2022365] * 5
    cyy = [1240131, 991231, 1231301, 1200229, 1010101, 1150615] * 5
    cols = _profile({"EFF_DT": ymd, "ISSUEDT": jul, "TXN_DT": cyy})
    eff = cols["EFF_DT"]
    assert (eff.type, eff.date_format, eff.arrow_type) == ("date", "YYYYMMDD (int)", "int64")
    assert eff.invalid_dates.count == 10  # month 13 and 2023-02-29, five times each
    assert eff.invalid_dates.sample_keys[:2] == ["K2", "K3"]
    assert (eff.min, eff.max) == ("2019-07-04", "2024-02-29")
    assert eff.validity == pytest.approx(15 / 25) and eff.null_count == 5
    jul_col = cols["ISSUEDT"]
    assert jul_col.date_format == "YYYYDDD (int)" and jul_col.invalid_dates.count == 10
    assert jul_col.invalid_dates.sample_keys[:2] == ["K2", "K3"]  # 2023 day 366, day 400
    assert jul_col.max == "2024-12-31"
    txn = cols["TXN_DT"]
    assert txn.date_format == "CYYMMDD (int)" and txn.invalid_dates.count == 5
    assert (txn.min, txn.max) == ("1999-12-31", "2024-01-31")


def test_ordinary_integers_are_not_taken_for_dates() -> None:
    n = 40
    cols = _profile(
        {
            # 8-digit amounts: mostly month 00 -> not dates, whatever the name
            "FACEAMT": [5_000_000, 10_000_000, 25_000_000, 50_000_000] * (n // 4),
            "EXP_AMT": [10_000_000, 20_240_131] * (n // 2),
            # valid-looking but not a date name and only 90 % valid: stays an integer
            "SEQ_NO": [20240101 + i % 28 for i in range(n - 4)] + [20241399] * 4,
            "COV_CNT": [1, 2, 3, 1] * (n // 4),
        }
    )
    for name in ("FACEAMT", "EXP_AMT", "SEQ_NO", "COV_CNT"):
        assert (cols[name].type, cols[name].date_format, cols[name].invalid_dates) == (
            "integer",
            None,
            None,
        ), name


def test_unnamed_integer_column_of_valid_dates_is_a_date() -> None:
    values = [20240101 + i % 28 for i in range(60)]
    col = _profile({"COL7": values})["COL7"]
    assert (col.type, col.date_format, col.invalid_dates.count) == ("date", "YYYYMMDD (int)", 0)


def test_date_names_from_the_glossary() -> None:
    for name in (
        "EFF_DT",
        "EXPR_DT",
        "ISS_DT",
        "ISSUEDT",
        "INSDOB",
        "MATURDT",
        "a.b.BIRTH_DT",
        "effective_date",
        "POL_EXP_DTE",
    ):
        assert name_suggests_date(name), name
    for name in ("FACEAMT", "PREM_AMT", "COV_CNT", "POL_NBR", "ZIP_CD", "AGENTNO"):
        assert not name_suggests_date(name), name


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("estate")
    generate_estate(root, policies=2500, seed=5)
    return root


@pytest.mark.parametrize(
    ("source", "key", "injected_column", "other_dates"),
    [
        (
            "policy_master",
            "POL_NBR",
            "EFF_DT",
            [
                "EXPR_DT",
                "ISS_DT",
                "INSD_DTL.INSD_PERS.BIRTH_DT",
                "INSD_DTL.INSD_CORP.INC_DT",
                "LST_RATE_DT",
            ],
        ),
        ("life", "CONTRNO", "ISSUEDT", ["MATURDT", "INSDOB", "LASTUPD"]),
        ("endorsements", "ENDT_NBR", "ENDT_EFF_DT", []),
    ],
)
def test_estate_injected_invalid_dates_are_found_exactly(
    estate: Path, source: str, key: str, injected_column: str, other_dates: list[str]
) -> None:
    with (estate / "ground_truth" / "problems.jsonl").open(encoding="utf-8") as f:
        injected = [
            p
            for line in f
            if (p := json.loads(line))["source"] == source and p["kind"] == "invalid_date"
        ]
    assert Counter(p["field"] for p in injected) == Counter({injected_column: len(injected)})
    assert len(injected) >= 3
    reader = load_source_config(estate / "sources.yaml").source(source).reader()
    columns = {c.name: c for c in profile_batches(reader.batches(1000), [key]).columns}
    col = columns[injected_column]
    assert col.type == "date" and col.date_format.endswith("(int)")
    assert col.invalid_dates.count == len(injected)
    if source != "endorsements":  # endorsement keys are ENDT_NBR, the problems log policy ids
        assert set(col.invalid_dates.sample_keys) <= {p["policy_id"] for p in injected}
    assert len(col.invalid_dates.sample_keys) == min(20, len(injected))
    for name in other_dates:
        assert columns[name].type == "date" and columns[name].invalid_dates.count == 0, name
    for name, column in columns.items():  # nothing else is taken for a date
        if name not in other_dates and name != injected_column:
            assert column.date_format is None or not column.date_format.endswith("(int)"), name


def test_every_estate_source_reports_exactly_the_injected_invalid_dates(estate: Path) -> None:
    """Text, ISO datetime (``T``) and integer dates alike: found per column == injected."""
    with (estate / "ground_truth" / "problems.jsonl").open(encoding="utf-8") as f:
        injected = Counter(
            (p["source"], p["field"])
            for line in f
            if (p := json.loads(line))["kind"] == "invalid_date"
        )
    found: Counter[tuple[str, str]] = Counter()
    for entry in load_source_config(estate / "sources.yaml").sources:
        for column in profile_batches(entry.reader().batches()).columns:
            if column.invalid_dates and column.invalid_dates.count:
                found[(entry.name, column.name)] = column.invalid_dates.count
    assert found == injected
    assert len({source for source, _ in injected}) >= 8


def test_iso_datetimes_with_t_and_z_are_datetimes() -> None:
    batch = pa.record_batch(
        {
            "k": ["a", "b", "c"],
            "sent": ["2025-01-17T12:35:44", "2025-13-16T14:23:38", "2024-02-29T23:59:59Z"],
        }
    )
    col = profile_batches([batch], ["k"]).columns[1]
    assert (col.type, col.date_format) == ("datetime", "YYYY-MM-DDTHH:MM:SS")
    assert col.invalid_dates.model_dump() == {"count": 1, "sample_keys": ["b"]}
    assert col.max == "2025-01-17T12:35:44"


def test_key_counts_are_exact_across_batches_and_key_widths() -> None:
    """The compact key counter (profile/keys.py) against a brute-force count."""
    keys = ["P1", "P10", "P1", None, "Ä", "", "P10", "P100000000000", "P1", "Ä", "b"] * 3
    batch = pa.record_batch({"K": keys, "V": list(range(len(keys)))})
    batches = [batch.slice(i, 4) for i in range(0, len(keys), 4)]
    profile = profile_batches(batches, ["K"])
    counts = Counter(k for k in keys if k is not None)
    dups = sorted((k for k, c in counts.items() if c > 1), key=lambda k: (-counts[k], k))
    assert profile.duplicate_keys.model_dump() == {"count": len(dups), "sample_keys": dups}
    assert profile.duplicate_rows == sum(c - 1 for c in counts.values() if c > 1)
    assert profile.null_keys == 3
    assert profile.key_uniqueness == round(len(counts) / (len(keys) - 3), 4)
