"""Words cut short to their first four or more letters (``EXPI_DATE``, ``BIRT_DATE``) are
completed from the catalogue's vocabulary (issue 20); a word the vocabulary knows stays."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tools.canonical.matching.canonical import suggest_matches
from tools.canonical.matching.names import phrase
from tools.canonical.matching.segment import insurance_tokens


@pytest.mark.parametrize(
    ("name", "reading"),
    [
        ("EXPI_DATE", "expiration date"),
        ("BIRT_DATE", "birth date"),
        ("POLI_RFRNC", "policy reference"),
        ("RATE_CD", "rate code"),
        ("POL_EFF_DT", "policy effective date"),
    ],
)
def test_truncated_words_are_completed(name: str, reading: str) -> None:
    assert phrase(insurance_tokens(name)) == reading


def _dates(start: dt.date, step: int, n: int = 60) -> pa.Array:
    return pa.array([(start + dt.timedelta(days=step * k)).strftime("%Y%m%d") for k in range(n)])


def test_truncated_date_names_find_their_fields() -> None:
    columns = {
        "POLI_NUMB": pa.array([f"P{k:07d}" for k in range(60)]),
        "EXPI_DATE": _dates(dt.date(2024, 3, 1), 7),
        "BIRT_DATE": _dates(dt.date(1950, 3, 1), 181),
        "STAR_DATE": _dates(dt.date(2021, 3, 1), 7),
    }
    result = suggest_matches(columns, source_name="truncated")
    found = {c.column: c.best.target if c.best else None for c in result.columns}
    assert found["EXPI_DATE"] == "policy_core.expiration_date"
    assert found["BIRT_DATE"] == "policy_core.insured_party.date_of_birth"
