from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from core.errors import InputError
from tools.waves.expressions import check_rule, evaluate_rule

BATCH = pa.RecordBatch.from_pydict(
    {
        "policy_core.effective_date": pa.array([dt.date(2020, 1, 1), dt.date(2021, 1, 1), None]),
        "policy_core.expiration_date": pa.array(
            [dt.date(2021, 1, 1), dt.date(2020, 1, 1), dt.date(2020, 1, 1)]
        ),
        "rating_components.premium_amount": pa.array(
            [Decimal("10.00"), Decimal("0.00"), Decimal("5.00")], pa.decimal128(18, 2)
        ),
        "policy_core.status": ["active", "cancelled", None],
    }
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("expiration_date > effective_date", [True, False, False]),
        ("premium_amount > 0", [True, False, True]),
        ("status in ('active', 'pending')", [True, False, False]),
        ("premium_amount * 2 >= 20 or effective_date >= '2020-06-01'", [True, True, False]),
        ("effective_date is not null and length(status) > 6", [False, True, False]),
        ("not (policy_core.status == 'cancelled')", [True, False, False]),
        ("effective_date > date('2019-12-31') and premium_amount / 2 < 10", [True, True, False]),
    ],
)
def test_rules_evaluate_column_wise(rule: str, expected: list[bool]) -> None:
    assert evaluate_rule(rule, BATCH).to_pylist() == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("premium_amount >", "ended too early"),
        ("__import__('os')", "unknown function '__import__'"),
        ("premium_amount > 0; drop", "unexpected character ';'"),
        ("eval(1)", "unknown function 'eval'"),
        ("foo > 1", "names 'foo'"),
        ("premium_amount > 0 0", "unexpected '0'"),
        ("", "empty rule"),
    ],
)
def test_bad_rules_are_clear_errors(rule: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_rule(rule, BATCH.schema.names)


def test_ambiguous_names_must_be_spelled_out() -> None:
    with pytest.raises(InputError, match="ambiguous"):
        check_rule(
            "effective_date > '2020-01-01'",
            ["policy_core.effective_date", "coverage.effective_date"],
        )
