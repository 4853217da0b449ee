from __future__ import annotations

import typing

import pytest

from core.errors import NotFoundError
from knowledge.canonical.types import COVERAGE_TYPES, FREQUENCIES, CoverageType, PolicyStatus
from knowledge.glossary import code_table, list_code_tables, lookup_code


def test_tables_are_listed() -> None:
    assert set(list_code_tables()) >= {
        "policy_status",
        "line_of_business",
        "coverage_type",
        "payment_mode",
        "us_state",
    }


@pytest.mark.parametrize(
    ("table", "value", "expected"),
    [
        ("policy_status", "A", "active"),
        ("policy_status", "act", "active"),
        ("policy_status", " In-Force ", "active"),
        ("policy_status", "I", "inactive"),
        ("policy_status", "LAPSED", "inactive"),
        ("policy_status", "C", "cancelled"),
        ("policy_status", "CN", "cancelled"),
        ("policy_status", "X", "cancelled"),
        ("policy_status", "P", "pending"),
        ("policy_status", "PEND", "pending"),
        ("policy_status", "E", "expired"),
        ("policy_status", "EXP", "expired"),
        ("policy_status", "cancelled", "cancelled"),
        ("line_of_business", "AUTO", "auto"),
        ("line_of_business", "PA", "auto"),
        ("line_of_business", "HO", "property"),
        ("line_of_business", "LIFE", "life"),
        ("line_of_business", "WL", "life"),
        ("line_of_business", "TL", "life"),
        ("line_of_business", "CGL", "liability"),
        ("line_of_business", "BOP", "property"),
        ("line_of_business", "WC", "workers_compensation"),
        ("line_of_business", "d&o", "liability"),
        ("line_of_business", "Management", "liability"),
        ("coverage_type", "6All", "property"),
        ("coverage_type", "CYB", "cyber"),
        ("coverage_type", "COV A", "property"),
        ("payment_mode", "A", "annual"),
        ("payment_mode", "S", "semi_annual"),
        ("payment_mode", "Semi-Annual", "semi_annual"),
        ("payment_mode", "Q", "quarterly"),
        ("payment_mode", "M", "monthly"),
        ("us_state", "ca", "CA"),
        ("us_state", "New York", "NY"),
        ("us_state", "DC", "DC"),
    ],
)
def test_lookup(table: str, value: str, expected: str) -> None:
    assert lookup_code(table, value) == expected


def test_unknown_codes_and_tables() -> None:
    assert lookup_code("policy_status", "ZZ") is None
    assert lookup_code("policy_status", None) is None
    assert lookup_code("payment_mode", "12") is None  # numeric modes are system-specific
    with pytest.raises(NotFoundError, match="policy_stat"):
        lookup_code("policy_stat", "A")


def test_canonical_values_agree_with_the_model() -> None:
    assert code_table("policy_status").values == typing.get_args(PolicyStatus)
    assert code_table("line_of_business").values == typing.get_args(CoverageType) == COVERAGE_TYPES
    assert code_table("coverage_type").values == COVERAGE_TYPES
    assert code_table("payment_mode").values == FREQUENCIES
    states = code_table("us_state")
    assert len(states.entries) >= 51
    assert states.target == "policy_core.insured_party.address.state"


def test_every_code_entry_has_a_rationale_and_no_conflicts() -> None:
    for name in list_code_tables():
        table = code_table(name)
        assert table.entries, name
        for entry in table.entries:
            assert len(entry.rationale.strip()) >= 5, (name, entry.code)
        # building the index raises ConfigError on a code mapped two ways
        assert lookup_code(name, table.entries[0].code) == table.entries[0].canonical
