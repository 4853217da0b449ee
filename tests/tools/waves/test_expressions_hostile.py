"""Hostile gate expressions: one clear error naming the rule, never an internal error."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from core.errors import DataMashError, InputError
from tools.waves.expressions import MAX_NESTING, check_rule, evaluate_rule, parse_rule

BATCH = pa.RecordBatch.from_pydict(
    {
        "policy_core.status": ["active", "pending"],
        "policy_core.effective_date": pa.array([dt.date(2024, 1, 1), None], pa.date32()),
        "rating_components.premium_amount": [100.0, 0.0],
    }
)

HOSTILE = [
    "status > 5",
    "effective_date > 'soon'",
    "length(5)",
    "1 in (1,2)",
    "status in (1, 2)",
    "premium_amount + status > 1",
    "lower(5) == 1",
    "date('tomorrow') < effective_date",
    "not status",
    "status and premium_amount",
    "(" * 3000 + "1" + ")" * 3000,
    "(" * (MAX_NESTING + 1) + "true" + ")" * (MAX_NESTING + 1),
    "not " * (MAX_NESTING + 1) + "true",
    "-" * (MAX_NESTING + 1) + "premium_amount > 0",
    "length(" * (MAX_NESTING + 1) + "status" + ")" * (MAX_NESTING + 1),
    "premium_amount > " + "9" * 5000,
    "premium_amount > " + "9" * 31,
]


@pytest.mark.parametrize("rule", HOSTILE, ids=lambda r: r[:30])
def test_hostile_rule_is_one_error_naming_it(rule: str) -> None:
    with pytest.raises(InputError) as caught:
        node = check_rule(rule, BATCH.schema.names)
        evaluate_rule(rule, BATCH, node)
    message = str(caught.value)
    assert "business rule" in message and rule[:20] in message
    assert "Error" not in message.split(":", maxsplit=1)[0]  # not a Python exception's name


def test_nesting_within_the_bound_still_works() -> None:
    depth = MAX_NESTING - 1
    rule = "(" * depth + "premium_amount > 0" + ")" * depth
    assert evaluate_rule(rule, BATCH).to_pylist() == [True, False]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("status in ('active')", [True, False]),
        ("effective_date > '2023-12-31'", [True, False]),
        ("length(status) == 6", [True, False]),
        ("premium_amount > 99999999999999999999", [False, False]),
    ],
)
def test_good_rules_still_evaluate(rule: str, expected: list[bool]) -> None:
    assert evaluate_rule(rule, BATCH).to_pylist() == expected


def test_parse_errors_are_data_mash_errors() -> None:
    for rule in ["", "status >", "in (", "'unclosed", "a ==== b", "f(x)"]:
        with pytest.raises(DataMashError):
            parse_rule(rule)
