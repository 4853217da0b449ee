"""The compiled (vectorised) engine routes exactly like the interpreter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InputError
from tools.routing import (
    AllOf,
    Always,
    AnyOf,
    Condition,
    FieldKind,
    NotOf,
    Operator,
    Predicate,
    Rule,
    RuleSet,
    compile_rule_set,
    evaluate_policy,
    load_rule_set,
)

STATUSES = ["active", "Active", "inactive", "pending", "cancelled", "EXPIRED", "expired"]
TYPES = [
    "auto",
    "homeowners",
    "life",
    "term_life",
    "annuity",
    "commercial_property",
    "commercial_liability",
    "umbrella",
]
SYSTEMS = ["policy_master", "life_admin", "personal_lines", "commercial_lines", "acquired_book"]
STATES = ["NY", "CA", "TX", "FL", "OH", "ny", "NJ", "PA", "IL"]
PLANS = ["monthly", "Quarterly", "annual", "legacy-only", "semi-annual"]


def random_policies(n: int, seed: int) -> pa.Table:
    """Policies with every column ~10% null, shaped to hit every example rule."""
    rng = np.random.default_rng(seed)

    def nulls(values: np.ndarray) -> list[Any]:
        out = values.tolist()
        for i in np.flatnonzero(rng.random(n) < 0.1):
            out[i] = None
        return out

    prefixes = np.array(list("ABCDPQZ"))
    ids = np.char.add(rng.choice(prefixes, n), rng.integers(0, 10**6, n).astype(str))
    start = np.datetime64("2010-01-01") + rng.integers(0, 5000, n).astype("timedelta64[D]")
    columns = {
        "policy_core.policy_id": pa.array(nulls(ids), pa.string()),
        "policy_core.status": pa.array(nulls(rng.choice(STATUSES, n)), pa.string()),
        "policy_core.policy_type": pa.array(nulls(rng.choice(TYPES, n)), pa.string()),
        "policy_core.issue_date": pa.array(nulls(start.astype("M8[D]")), pa.date32()),
        "policy_core.effective_date": pa.array(nulls(start), pa.date32()),
        "policy_core.expiration_date": pa.array(nulls(start + 365), pa.date32()),
        "policy_core.insured_party.address.state": pa.array(nulls(rng.choice(STATES, n))),
        "rating_components.premium_amount": pa.array(
            nulls(np.round(rng.lognormal(9, 2.5, n) - 20, 2)), pa.float64()
        ),
        "payments.payment_plan": pa.array(nulls(rng.choice(PLANS, n)), pa.string()),
        "payments.outstanding_balance": pa.array(nulls(rng.choice([0.0, 0.0, 12.5], n))),
        "data_quality_score": pa.array(nulls(np.round(rng.random(n) * 0.25 + 0.75, 3))),
        "source_system": pa.array(nulls(rng.choice(SYSTEMS, n)), pa.string()),
        "wave": pa.array(nulls(rng.integers(0, 5, n)), pa.int64()),
    }
    return pa.table(columns)


def interpreted_targets(rule_set: RuleSet, table: pa.Table) -> list[str | None]:
    return [evaluate_policy(rule_set, record).target for record in table.to_pylist()]


def test_compiled_equals_interpreter_on_random_policies(example_rules: Path) -> None:
    rule_set = load_rule_set(example_rules)
    table = random_policies(4000, seed=7)
    routed = compile_rule_set(rule_set, table.schema).route_batch(table)
    assert routed.column("target").to_pylist() == interpreted_targets(rule_set, table)
    rules = [evaluate_policy(rule_set, r).rule for r in table.to_pylist()]
    assert routed.column("rule").to_pylist() == rules
    # the data exercises every rule, so the agreement is not vacuous
    assert set(rules) == {r.name for r in rule_set.rules}


def test_other_column_encodings_route_the_same(example_rules: Path) -> None:
    rule_set = load_rule_set(example_rules)
    table = random_policies(1500, seed=11)
    expected = interpreted_targets(rule_set, table)
    variant = table
    for name in ("policy_core.status", "source_system"):
        index = variant.schema.get_field_index(name)
        variant = variant.set_column(index, name, variant[name].dictionary_encode())
    for name, arrow_type in [
        ("policy_core.policy_type", pa.large_string()),
        ("policy_core.expiration_date", pa.timestamp("us")),
        ("policy_core.issue_date", pa.string()),  # ISO text dates
        ("wave", pa.int8()),
        ("rating_components.premium_amount", pa.decimal128(18, 2)),
    ]:
        index = variant.schema.get_field_index(name)
        variant = variant.set_column(index, name, variant[name].cast(arrow_type))
    chunked = pa.concat_tables([variant.slice(0, 700), variant.slice(700)])
    routed = compile_rule_set(rule_set, chunked.schema).route_batch(chunked)
    assert routed.column("target").to_pylist() == expected


def test_missing_column_is_null_and_warned(seed_text: str) -> None:
    rule_set = load_rule_set(seed_text)
    table = pa.table({"policy_core.policy_id": ["Z1", "A1"], "data_quality_score": [0.1, 0.9]})
    compiled = compile_rule_set(rule_set, table.schema)
    assert any("payments.payment_plan" in w for w in compiled.warnings)
    assert compiled.route_batch(table).column("rule").to_pylist() == [
        "data_quality_issues",
        "migrated_policies",
    ]


def test_compile_errors_are_input_errors(seed_text: str) -> None:
    rule_set = load_rule_set(seed_text)
    with pytest.raises(InputError, match="policy_core.policy_id"):
        compile_rule_set(rule_set, pa.schema([("id", pa.string())]))
    bad = pa.schema([("policy_core.policy_id", pa.string()), ("data_quality_score", pa.date32())])
    with pytest.raises(InputError, match="data_quality_score"):
        compile_rule_set(rule_set, bad)
    text_scores = pa.table({"policy_core.policy_id": ["A"], "data_quality_score": ["high"]})
    compiled = compile_rule_set(rule_set, text_scores.schema)
    with pytest.raises(InputError, match="cannot be read as number"):
        compiled.route_batch(text_scores)


def test_empty_batch(seed_text: str) -> None:
    table = pa.table({"policy_core.policy_id": pa.array([], pa.string())})
    routed = compile_rule_set(load_rule_set(seed_text), table.schema).route_batch(table)
    assert routed.num_rows == 0 and routed.column_names == ["policy_id", "target", "rule"]


# --- property test: random rules over random records ------------------------------------

FIELDS = {
    "policy_core.policy_id": FieldKind.TEXT,
    "policy_core.status": FieldKind.TEXT,
    "rating_components.premium_amount": FieldKind.NUMBER,
    "policy_core.effective_date": FieldKind.DATE,
}
ARROW = {FieldKind.TEXT: pa.string(), FieldKind.NUMBER: pa.float64(), FieldKind.DATE: pa.date32()}
texts = st.text(alphabet="aAbB.x", max_size=3)
patterns = st.text(alphabet="aAb.*?", max_size=3)
numbers = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, 10.0])
dates = st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 6))
VALUES = {FieldKind.TEXT: texts, FieldKind.NUMBER: numbers, FieldKind.DATE: dates}
REGEXES = ["^a", "b$", "a.b", "[AB]", "^$", "x|\\."]


@st.composite
def predicates(draw: st.DrawFn) -> Predicate:
    field = draw(st.sampled_from(sorted(FIELDS)))
    kind = FIELDS[field]
    ops = [
        Operator.EQUALS,
        Operator.NOT_EQUALS,
        Operator.IN,
        Operator.NOT_IN,
        Operator.IS_NULL,
        Operator.NOT_NULL,
    ]
    if kind is FieldKind.TEXT:
        ops.append(Operator.MATCHES)
    else:
        ops += [
            Operator.LESS_THAN,
            Operator.LESS_OR_EQUAL,
            Operator.GREATER_THAN,
            Operator.GREATER_OR_EQUAL,
            Operator.BETWEEN,
        ]
    op = draw(st.sampled_from(ops))
    values = patterns if kind is FieldKind.TEXT else VALUES[kind]
    value: Any = None
    if op in (Operator.IN, Operator.NOT_IN):
        value = tuple(draw(st.lists(values, min_size=1, max_size=3)))
    elif op is Operator.BETWEEN:
        value = tuple(sorted(draw(st.lists(VALUES[kind], min_size=2, max_size=2))))
    elif op is Operator.MATCHES:
        value = draw(st.sampled_from(REGEXES))
    elif op not in (Operator.IS_NULL, Operator.NOT_NULL):
        value = draw(VALUES[kind])
    ignore_case = (
        kind is FieldKind.TEXT
        and op not in (Operator.IS_NULL, Operator.NOT_NULL)
        and draw(st.booleans())
    )
    return Predicate(field, kind, op, value, ignore_case)


conditions: st.SearchStrategy[Condition] = st.recursive(
    predicates(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda c: AllOf(tuple(c))),
        st.lists(inner, min_size=1, max_size=3).map(lambda c: AnyOf(tuple(c))),
        inner.map(NotOf),
    ),
    max_leaves=5,
)


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    conds = draw(st.lists(conditions, min_size=1, max_size=4))
    rules = [Rule(f"r{i}", c, f"T{i}", i) for i, c in enumerate(conds)]
    if draw(st.booleans()):
        rules.append(Rule("default", Always(), "Default", 99))
    return RuleSet("1", tuple(rules))


records = st.fixed_dictionaries(
    {
        "policy_core.policy_id": st.one_of(st.none(), texts),
        "policy_core.status": st.one_of(st.none(), texts),
        "rating_components.premium_amount": st.one_of(st.none(), numbers, st.just(float("nan"))),
        "policy_core.effective_date": st.one_of(st.none(), dates),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_set=rule_sets(), rows=st.lists(records, min_size=1, max_size=25))
def test_property_compiled_matches_interpreter(rule_set: RuleSet, rows: list[dict]) -> None:
    schema = pa.schema([(name, ARROW[kind]) for name, kind in FIELDS.items()])
    table = pa.Table.from_pylist(rows, schema=schema)
    routed = compile_rule_set(rule_set, schema).route_batch(table)
    expected = [evaluate_policy(rule_set, row) for row in rows]
    assert routed.column("target").to_pylist() == [d.target for d in expected]
    assert routed.column("rule").to_pylist() == [d.rule for d in expected]
