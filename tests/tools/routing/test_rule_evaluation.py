"""Every operator, composition and case rule, checked on the interpreter and the compiled engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tools.routing import compile_rule_set, evaluate_policy, load_rule_set

D = dt.date
SCHEMA = pa.schema(
    [
        ("policy_core.policy_id", pa.string()),
        ("policy_core.status", pa.string()),
        ("policy_core.effective_date", pa.date32()),
        ("rating_components.premium_amount", pa.float64()),
        ("coverage_sections", pa.list_(pa.struct([("coverage_type", pa.string())]))),
        ("wave", pa.int64()),
    ]
)
IDS = ["A123", "a9", "AB1", "B77", "Z1", None, "A\n", "X.1"]
STATUS = ["active", "Active", "cancelled", "EXPIRED", "pending", None, "inactive", "active"]
DATES = [
    D(2020, 1, 1),
    D(2014, 12, 31),
    None,
    D(2021, 6, 30),
    D(2020, 1, 2),
    D(1999, 1, 1),
    D(2030, 1, 1),
    D(2020, 1, 1),
]
PREMIUM = [100.0, 0.0, -5.0, None, 2_600_000.0, float("nan"), 999.5, 1000.0]
COVER = [[{"coverage_type": "life"}], [], None, [{"coverage_type": "auto"}], None, [], [], None]
WAVE = [0, 1, 2, 3, None, 0, 1, 5]


def records() -> list[dict[str, Any]]:
    columns = [IDS, STATUS, DATES, PREMIUM, COVER, WAVE]
    return [dict(zip(SCHEMA.names, row, strict=True)) for row in zip(*columns, strict=True)]


def fired(condition: str) -> list[bool]:
    """Route the fixture policies with one rule; assert both engines agree; return who matched."""
    text = (
        'routing_rules:\n  version: "1"\n  rules:\n'
        f"    - name: probe\n      condition: {condition}\n"
        "      target: new_platform\n      priority: 1\n"
        "    - name: rest\n      condition: true\n      target: legacy_batch\n      priority: 2\n"
    )
    rule_set = load_rule_set(text)
    interpreted = [evaluate_policy(rule_set, r).target for r in records()]
    table = pa.Table.from_pylist(records(), schema=SCHEMA)
    compiled = compile_rule_set(rule_set, SCHEMA).route_batch(table)
    assert compiled.column("target").to_pylist() == interpreted
    assert compiled.column("policy_id").to_pylist() == IDS
    return [t == "new_platform" for t in interpreted]


T, F = True, False

CASES = [
    ("{field: policy_id, operator: equals, value: A123}", [T, F, F, F, F, F, F, F]),
    (
        "{field: policy_id, operator: equals, value: a123, ignore_case: true}",
        [T, F, F, F, F, F, F, F],
    ),
    ("{field: status, operator: not_equals, value: active}", [F, T, T, T, T, F, T, F]),
    (
        "{field: status, operator: not_equals, value: ACTIVE, ignore_case: true}",
        [F, F, T, T, T, F, T, F],
    ),
    ("{field: policy_id, operator: in, value: ['A*', 'B*']}", [T, F, T, T, F, F, T, F]),
    ("{field: policy_id, operator: in, value: ['A?', 'X.1']}", [F, F, F, F, F, F, T, T]),
    (
        "{field: policy_id, operator: in, value: ['a*'], ignore_case: true}",
        [T, T, T, F, F, F, T, F],
    ),
    ("{field: policy_id, operator: in, value: ['X?1']}", [F, F, F, F, F, F, F, T]),
    ("{field: status, operator: in, value: [active, pending]}", [T, F, F, F, T, F, F, T]),
    (
        "{field: status, operator: in, value: [expired], ignore_case: true}",
        [F, F, F, T, F, F, F, F],
    ),
    ("{field: status, operator: not_in, value: [active, pending]}", [F, T, T, T, F, F, T, F]),
    ("{field: policy_id, operator: not_in, value: ['A*', '?9']}", [F, F, F, T, T, F, F, T]),
    ("{field: premium_amount, operator: less_than, value: 100}", [F, T, T, F, F, F, F, F]),
    ("{field: premium_amount, operator: less_or_equal, value: 100}", [T, T, T, F, F, F, F, F]),
    ("{field: premium_amount, operator: greater_than, value: 999.5}", [F, F, F, F, T, F, F, T]),
    ("{field: premium_amount, operator: greater_or_equal, value: 999.5}", [F, F, F, F, T, F, T, T]),
    ("{field: premium_amount, operator: between, value: [0, 1000]}", [T, T, F, F, F, F, T, T]),
    ("{field: premium_amount, operator: equals, value: 100}", [T, F, F, F, F, F, F, F]),
    ("{field: premium_amount, operator: in, value: [0, 1000]}", [F, T, F, F, F, F, F, T]),
    ("{field: premium_amount, operator: is_null}", [F, F, F, T, F, T, F, F]),
    ("{field: premium_amount, operator: not_in, value: [0]}", [T, F, T, F, T, F, T, T]),
    ("{field: wave, operator: equals, value: 0}", [T, F, F, F, F, T, F, F]),
    ("{field: wave, operator: between, value: [1, 3]}", [F, T, T, T, F, F, T, F]),
    ("{field: effective_date, operator: less_than, value: 2020-01-01}", [F, T, F, F, F, T, F, F]),
    (
        "{field: effective_date, operator: greater_or_equal, value: '2020-01-02'}",
        [F, F, F, T, T, F, T, F],
    ),
    ("{field: effective_date, operator: equals, value: 2020-01-01}", [T, F, F, F, F, F, F, T]),
    (
        "{field: effective_date, operator: between, value: [2015-01-01, 2021-12-31]}",
        [T, F, F, T, T, F, F, T],
    ),
    (
        "{field: effective_date, operator: in, value: [1999-01-01, 2030-01-01]}",
        [F, F, F, F, F, T, T, F],
    ),
    ("{field: effective_date, operator: is_null}", [F, F, T, F, F, F, F, F]),
    ("{field: status, operator: matches, value: '^(act|pend)'}", [T, F, F, F, T, F, F, T]),
    (
        "{field: status, operator: matches, value: 'IRED$', ignore_case: true}",
        [F, F, F, T, F, F, F, F],
    ),
    ("{field: policy_id, operator: matches, value: '\\.'}", [F, F, F, F, F, F, F, T]),
    ("{field: policy_id, operator: is_null}", [F, F, F, F, F, T, F, F]),
    ("{field: policy_id, operator: not_null}", [T, T, T, T, T, F, T, T]),
    ("{field: coverage_sections, operator: is_null}", [F, T, T, F, T, T, T, T]),
    ("{field: coverage_sections, operator: not_null}", [T, F, F, T, F, F, F, F]),
    ("{field: carrier, operator: is_null}", [T] * 8),  # column absent from the batch
    ("{field: carrier, operator: equals, value: x}", [F] * 8),
    (
        "{all: [{field: status, operator: equals, value: active}, "
        "{field: wave, operator: equals, value: 0}]}",
        [T, F, F, F, F, F, F, F],
    ),
    (
        "{any: [{field: policy_id, operator: in, value: ['Z*']}, "
        "{field: wave, operator: greater_than, value: 4}]}",
        [F, F, F, F, T, F, F, T],
    ),
    ("{not: {field: status, operator: equals, value: active}}", [F, T, T, T, T, T, T, F]),
    (
        "{not: {any: [{field: wave, operator: is_null}, "
        "{field: wave, operator: less_than, value: 2}]}}",
        [F, F, T, T, F, F, F, T],
    ),
    (
        "{all: [{not: {field: policy_id, operator: is_null}}, "
        "{any: [{field: status, operator: in, value: [cancelled]}, "
        "{field: premium_amount, operator: greater_than, value: 1000000}]}]}",
        [F, F, T, F, T, F, F, F],
    ),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=[c[0][:70] for c in CASES])
def test_operator(condition: str, expected: list[bool]) -> None:
    assert fired(condition) == expected


def test_rule_level_ignore_case_applies_to_nested_conditions() -> None:
    text = (
        'routing_rules:\n  version: "1"\n  rules:\n    - name: r\n      ignore_case: true\n'
        "      condition: {all: [{field: status, operator: equals, value: ACTIVE}, "
        "{field: policy_id, operator: in, value: ['a*']}]}\n"
        "      target: new_platform\n      priority: 1\n"
    )
    rule_set = load_rule_set(text)
    assert (
        evaluate_policy(
            rule_set, {"policy_core.status": "Active", "policy_core.policy_id": "A1"}
        ).target
        == "new_platform"
    )
    assert (
        evaluate_policy(
            rule_set, {"policy_core.status": "Active", "policy_core.policy_id": "B1"}
        ).target
        is None
    )


def test_explanation_names_values_and_patterns(seed_text: str) -> None:
    rule_set = load_rule_set(seed_text)
    decision = evaluate_policy(rule_set, {"policy_core.policy_id": "A123"})
    assert (decision.target, decision.rule) == ("new_platform", "migrated_policies")
    assert "policy_core.policy_id='A123' matched 'A*'" in decision.explanation
    decision = evaluate_policy(
        rule_set, {"policy_core": {"policy_id": "Z9"}, "payments": {"payment_plan": "legacy-only"}}
    )
    assert decision.rule == "legacy_only_policies"
    assert "payments.payment_plan='legacy-only' equals 'legacy-only'" in decision.explanation
    decision = evaluate_policy(
        rule_set, {"policy_core.policy_id": "Z9", "data_quality_score": 0.42}
    )
    assert "data_quality_score=0.42 < 0.8" in decision.explanation
    decision = evaluate_policy(rule_set, {"policy_core.policy_id": "Z9"})
    assert decision.target == "coexistence_bridge" and "default route" in decision.explanation


def test_explanation_of_composition(example_rules: Path) -> None:
    rule_set = load_rule_set(example_rules)
    record = {
        "policy_core.policy_id": "P1",
        "wave": 0,
        "data_quality_score": 0.97,
        "policy_core.status": "active",
        "policy_core.policy_type": "auto",
        "policy_core.expiration_date": "2030-01-01",
        "rating_components.premium_amount": 500,
    }
    decision = evaluate_policy(rule_set, record)
    assert decision.rule == "wave0_clean_candidates"
    assert "wave=0 equals 0" in decision.explanation
    assert "data_quality_score=0.97 >= 0.95" in decision.explanation
    assert (
        "not (policy_core.policy_type='auto' matched none of ['commercial_*', 'life', '*_life'])"
    ) in decision.explanation
    record["policy_core.status"] = "Expired"
    decision = evaluate_policy(rule_set, record)
    assert decision.rule == "cancelled_or_expired_archive"
    assert "policy_core.status='Expired' matched 'expired' (ignoring case)" in decision.explanation


def test_no_match_decision() -> None:
    text = (
        'routing_rules:\n  version: "1"\n  rules:\n    - name: only\n'
        "      condition: {field: wave, operator: equals, value: 0}\n      target: new_platform\n"
        "      priority: 1\n"
    )
    decision = evaluate_policy(load_rule_set(text), {"wave": 1})
    assert decision.target is None and decision.rule is None
    assert "no rule matched" in decision.explanation and "wave equals 0" in decision.explanation


def test_interpreter_coerces_loose_record_values(seed_text: str) -> None:
    rule_set = load_rule_set(seed_text)
    for score in ("0.5", 0.5, 0):
        record = {"policy_core.policy_id": "Z", "data_quality_score": score}
        assert evaluate_policy(rule_set, record).rule == "data_quality_issues"
    assert evaluate_policy(rule_set, {"data_quality_score": "n/a"}).rule == "default_route"
