"""Loading and validating rule sets: every problem named with its rule and YAML line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.errors import InputError
from tools.routing import (
    AllOf,
    Always,
    FieldKind,
    Operator,
    Predicate,
    load_rule_set,
    null_field_warnings,
    validate_rule_set,
)


def rules_text(body: str, header: str = "") -> str:
    """A rule file around ``body`` (rule items indented by four spaces)."""
    return f'routing_rules:\n  version: "1"\n{header}  rules:\n{body}'


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


DEFAULT = """\
    - name: default
      condition: true
      target: CoexistenceBridge
      priority: 99
"""


def test_seed_loads_as_written(seed_file: Path, seed_text: str) -> None:
    rule_set = load_rule_set(seed_file)
    assert rule_set.version == "1.0.0"
    assert [r.name for r in rule_set.rules] == [
        "migrated_policies",
        "legacy_only_policies",
        "data_quality_issues",
        "default_route",
    ]
    first = rule_set.rules[0].condition
    assert first == Predicate(
        "policy_core.policy_id", FieldKind.TEXT, Operator.IN, ("A*", "B*", "C*")
    )
    assert rule_set.rules[1].condition.field == "payments.payment_plan"  # type: ignore[union-attr]
    assert rule_set.rules[2].condition.kind is FieldKind.NUMBER  # type: ignore[union-attr]
    assert isinstance(rule_set.rules[3].condition, Always)
    assert rule_set.rules[0].line == line_of(seed_text, "migrated_policies")
    assert rule_set.warnings == ()
    assert rule_set.source == str(seed_file)
    assert len(rule_set.digest) == 64
    # the same text given inline loads identically
    assert load_rule_set(seed_text).rules == rule_set.rules


def test_example_rules_load_cleanly(example_rules: Path) -> None:
    rule_set = load_rule_set(example_rules)
    assert len(rule_set.rules) >= 14
    assert rule_set.canonical == "policy_v1"
    assert rule_set.warnings == ()
    archive = rule_set.rule("ended_before_2015").condition
    assert isinstance(archive, Predicate) and archive.value == dt.date(2015, 1, 1)


def test_rules_sorted_by_priority_whatever_the_file_order() -> None:
    text = rules_text(
        DEFAULT
        + """\
    - name: early
      condition: {field: wave, operator: equals, value: 0}
      target: NewPlatformAPI
      priority: 5
"""
    )
    assert [r.name for r in load_rule_set(text).rules] == ["early", "default"]


BAD_RULES = [
    (
        "unknown field",
        """\
    - name: r1
      condition: {field: policy_number, operator: equals, value: "1"}
      target: new_platform
      priority: 1
""",
        "r1",
        "condition:",
        "unknown field 'policy_number'",
    ),
    (
        "ambiguous leaf",
        """\
    - name: r2
      condition: {field: name, operator: equals, value: "Smith"}
      target: new_platform
      priority: 1
""",
        "r2",
        "condition:",
        "policy_core.agent_info.name, policy_core.insured_party.name",
    ),
    (
        "unknown operator",
        """\
    - name: r3
      condition: {field: status, operator: greater, value: "a"}
      target: new_platform
      priority: 1
""",
        "r3",
        "condition:",
        "unknown operator 'greater'",
    ),
    (
        "ordering on text",
        """\
    - name: r4
      condition: {field: policy_core.status, operator: less_than, value: "b"}
      target: new_platform
      priority: 1
""",
        "r4",
        "condition:",
        "type mismatch: less_than",
    ),
    (
        "number value for text field",
        """\
    - name: r5
      condition: {field: policy_id, operator: equals, value: 12345}
      target: new_platform
      priority: 1
""",
        "r5",
        "condition:",
        "quote the value",
    ),
    (
        "text value for number field",
        """\
    - name: r6
      condition: {field: data_quality_score, operator: greater_than, value: high}
      target: new_platform
      priority: 1
""",
        "r6",
        "condition:",
        "type mismatch: value 'high' is text",
    ),
    (
        "bad date",
        """\
    - name: r7
      condition: {field: effective_date, operator: less_than, value: "31/12/2020"}
      target: new_platform
      priority: 1
""",
        "r7",
        "condition:",
        "YYYY-MM-DD",
    ),
    (
        "bad regex",
        """\
    - name: r8
      condition: {field: policy_id, operator: matches, value: "([A-Z"}
      target: new_platform
      priority: 1
""",
        "r8",
        "condition:",
        "bad regex",
    ),
    (
        "regex RE2 cannot run",
        """\
    - name: r9
      condition: {field: policy_id, operator: matches, value: "^A(?!X)"}
      target: new_platform
      priority: 1
""",
        "r9",
        "condition:",
        "bad regex",
    ),
    (
        "list field compared",
        """\
    - name: r10
      condition: {field: endorsements, operator: equals, value: "x"}
      target: new_platform
      priority: 1
""",
        "r10",
        "condition:",
        "is a list",
    ),
    (
        "between reversed",
        """\
    - name: r11
      condition: {field: wave, operator: between, value: [3, 1]}
      target: new_platform
      priority: 1
""",
        "r11",
        "condition:",
        "low is above high",
    ),
    (
        "null test with value",
        """\
    - name: r12
      condition: {field: wave, operator: is_null, value: 1}
      target: new_platform
      priority: 1
""",
        "r12",
        "condition:",
        "takes no value",
    ),
    (
        "unknown rule key",
        """\
    - name: r13
      condition: true
      target: new_platform
      priorty: 1
""",
        "r13",
        "name: r13",
        "unknown key 'priorty'",
    ),
    (
        "nested condition problem has its own line",
        """\
    - name: r14
      condition:
        all:
          - {field: wave, operator: equals, value: 1}
          - {field: status, operator: matches, value: 3}
      target: new_platform
      priority: 1
""",
        "r14",
        "value: 3",
        "matches needs a regex string",
    ),
    (
        "condition false",
        """\
    - name: r15
      condition: false
      target: new_platform
      priority: 1
""",
        "r15",
        "name: r15",
        "condition False is not valid",
    ),
    (
        "matches on number",
        """\
    - name: r16
      condition: {field: wave, operator: matches, value: "1"}
      target: new_platform
      priority: 1
""",
        "r16",
        "condition:",
        "type mismatch: matches",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "rule", "line_marker", "message"), BAD_RULES, ids=[c[0] for c in BAD_RULES]
)
def test_validation_error_names_rule_and_line(
    case: str, body: str, rule: str, line_marker: str, message: str
) -> None:
    text = rules_text(body + DEFAULT)
    report = validate_rule_set(text)
    assert not report.ok
    matching = [e for e in report.errors if message in e.message]
    assert matching, report.errors
    assert matching[0].rule == rule
    assert matching[0].line == line_of(text, line_marker)


def rule(name: str, condition: str, priority: int, target: str = "new_platform") -> str:
    return (
        f"    - name: {name}\n      condition: {condition}\n      target: {target}\n"
        f"      priority: {priority}\n"
    )


SHADOWED = [
    (
        "after condition true",
        rule("catch_all", "true", 1) + rule("late", "{field: wave, operator: equals, value: 1}", 2),
        "catch_all",
    ),
    (
        "identical condition",
        rule("a", "{field: wave, operator: equals, value: 1}", 1)
        + rule("b", "{field: wave, operator: equals, value: 1}", 2),
        "'a'",
    ),
    (
        "value inside wildcard",
        rule("a", "{field: policy_id, operator: in, value: ['A*', 'B*']}", 1)
        + rule("b", "{field: policy_id, operator: equals, value: A123}", 2),
        "'a'",
    ),
    (
        "narrower range",
        rule("a", "{field: data_quality_score, operator: less_than, value: 0.8}", 1)
        + rule("b", "{field: data_quality_score, operator: between, value: [0.1, 0.5]}", 2),
        "'a'",
    ),
    (
        "narrower wildcard",
        rule("a", "{field: policy_id, operator: in, value: ['A*']}", 1)
        + rule("b", "{field: policy_id, operator: in, value: ['AB?1', 'A7*']}", 2),
        "'a'",
    ),
    (
        "conjunction of a wider rule",
        rule("a", "{field: status, operator: equals, value: active}", 1)
        + rule(
            "b",
            "{all: [{field: status, operator: equals, value: active}, "
            "{field: wave, operator: equals, value: 0}]}",
            2,
        ),
        "'a'",
    ),
    (
        "union of two earlier rules",
        rule("a", "{field: address.state, operator: equals, value: NY}", 1)
        + rule("c", "{field: address.state, operator: equals, value: CA}", 2)
        + rule("b", "{field: address.state, operator: in, value: [NY, CA]}", 3),
        "'c'",
    ),
    (
        "any whose branches are covered",
        rule("a", "{field: wave, operator: less_than, value: 2}", 1)
        + rule(
            "b",
            "{any: [{field: wave, operator: equals, value: 0}, "
            "{field: wave, operator: equals, value: 1}]}",
            2,
        ),
        "'a'",
    ),
    (
        "not of a narrower condition",
        rule("a", "{not: {field: wave, operator: equals, value: 1}}", 1)
        + rule("b", "{not: {field: wave, operator: in, value: [1, 2]}}", 2),
        "'a'",
    ),
]


@pytest.mark.parametrize(("case", "body", "cover"), SHADOWED, ids=[c[0] for c in SHADOWED])
def test_shadowed_rule_is_an_error(case: str, body: str, cover: str) -> None:
    text = rules_text(body + DEFAULT)
    errors = validate_rule_set(text).errors
    last = [line for line in text.splitlines() if "- name:" in line][-2].split(": ")[1]
    shadow = [e for e in errors if "shadowed" in e.message and e.rule == last]
    assert len(shadow) == 1, errors
    assert shadow[0].rule == last
    assert shadow[0].line == line_of(text, f"name: {last}")
    assert cover in shadow[0].message


NOT_SHADOWED = [
    (
        "wider later",
        rule("a", "{field: data_quality_score, operator: less_than, value: 0.5}", 1)
        + rule("b", "{field: data_quality_score, operator: less_than, value: 0.8}", 2),
    ),
    (
        "case-insensitive later",
        rule("a", "{field: status, operator: equals, value: active}", 1)
        + rule("b", "{field: status, operator: equals, value: active, ignore_case: true}", 2),
    ),
    (
        "different field",
        rule("a", "{field: policy_id, operator: in, value: ['A*']}", 1)
        + rule("b", "{field: carrier, operator: in, value: ['A*']}", 2),
    ),
    (
        "open bound",
        rule("a", "{field: wave, operator: less_than, value: 2}", 1)
        + rule("b", "{field: wave, operator: less_or_equal, value: 2}", 2),
    ),
]


@pytest.mark.parametrize(("case", "body"), NOT_SHADOWED, ids=[c[0] for c in NOT_SHADOWED])
def test_reachable_rule_is_not_reported(case: str, body: str) -> None:
    report = validate_rule_set(rules_text(body + DEFAULT))
    assert report.ok, report.errors


def test_duplicate_names_and_equal_priorities() -> None:
    text = rules_text(
        rule("same", "{field: wave, operator: equals, value: 1}", 1)
        + rule("same", "{field: wave, operator: equals, value: 2}", 2)
        + rule("other", "{field: wave, operator: equals, value: 3}", 2)
        + DEFAULT
    )
    errors = validate_rule_set(text).errors
    duplicate = next(e for e in errors if "duplicate rule name" in e.message)
    assert duplicate.rule == "same"
    lines = [i for i, line in enumerate(text.splitlines(), 1) if "name: same" in line]
    assert duplicate.line == lines[1]
    priority = next(e for e in errors if "priority 2" in e.message)
    assert priority.rule == "other" and "'same'" in priority.message
    assert priority.line == line_of(text, "name: other")


def test_no_default_route_warns_with_fall_through_conditions() -> None:
    text = rules_text(rule("only", "{field: wave, operator: equals, value: 0}", 1))
    report = validate_rule_set(text)
    assert report.ok
    (warning,) = report.warnings
    assert "no default route" in warning.message
    assert "not (wave equals 0)" in warning.message
    assert load_rule_set(text).warnings == (warning,)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        (
            'routing_rules:\n  version: "1"\n  rules:\n    - name: x\n      condition: {field: a\n',
            6,
            1,
        ),
        ("routing_rules:\n  rules:\n    - name: [unclosed\n", 4, 1),
        ("routing_rules:\n\tversion: 1\n", 2, 1),
    ],
)
def test_malformed_yaml_reports_line_and_column(text: str, line: int, column: int) -> None:
    (error,) = validate_rule_set(text).errors
    assert "malformed YAML" in error.message
    assert (error.line, error.column) == (line, column)
    with pytest.raises(InputError, match=f"line {line}, column {column}"):
        load_rule_set(text)


def test_duplicate_yaml_key_is_an_error() -> None:
    text = rules_text(
        "    - name: a\n      condition: true\n      target: legacy_batch\n"
        "      target: data_quality_queue\n      priority: 1\n"
    )
    errors = validate_rule_set(text).errors
    assert any("duplicate key 'target'" in e.message and e.line == 7 for e in errors)


def test_load_raises_listing_every_error() -> None:
    text = rules_text(
        rule("r1", "{field: nope, operator: equals, value: x}", 1)
        + rule("r2", "{field: wave, operator: bogus, value: 1}", 2)
        + DEFAULT
    )
    with pytest.raises(InputError) as info:
        load_rule_set(text)
    message = str(info.value)
    assert "2 problem(s)" in message
    assert f"line {line_of(text, 'nope')}: rule 'r1': unknown field 'nope'" in message
    assert "rule 'r2': unknown operator 'bogus'" in message


def test_canonical_version_mismatch() -> None:
    text = rules_text(DEFAULT, header="  canonical: policy_v2\n")
    error = validate_rule_set(text).errors[0]
    assert "policy_v2" in error.message and "policy_v1" in error.message
    assert load_rule_set(text, canonical_version="policy_v2").canonical == "policy_v2"
    assert validate_rule_set(rules_text(DEFAULT, header="  canonical: policy_v1\n")).ok


def test_structure_errors() -> None:
    assert "routing_rules" in validate_rule_set("rules: []\n").errors[0].message
    assert "empty rule file" in validate_rule_set("").errors[0].message
    assert (
        "non-empty `rules:`"
        in validate_rule_set('routing_rules: {version: "1"}\n').errors[0].message
    )


def test_missing_rule_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="rule file not found"):
        load_rule_set(tmp_path / "absent.yaml")
    with pytest.raises(InputError, match="rule file not found"):
        load_rule_set(str(tmp_path / "absent.yml"))


def test_custom_known_fields_replace_the_default_catalogue() -> None:
    fields = {"policy_core.policy_id": "text", "flags.vip": FieldKind.BOOLEAN}
    text = rules_text(rule("vip", "{field: vip, operator: equals, value: true}", 1) + DEFAULT)
    rule_set = load_rule_set(text, known_fields=fields)
    assert rule_set.rules[0].condition == Predicate(
        "flags.vip", FieldKind.BOOLEAN, Operator.EQUALS, True
    )
    # the v1 catalogue no longer applies, derived fields still do
    report = validate_rule_set(
        rules_text(
            rule("x", "{field: status, operator: equals, value: a}", 1)
            + rule("y", "{field: wave, operator: equals, value: 1}", 2)
            + DEFAULT
        ),
        known_fields=fields,
    )
    assert [e.rule for e in report.errors] == ["x"]


def test_ignore_case_on_a_number_warns() -> None:
    text = rules_text(
        rule("w", "{field: wave, operator: equals, value: 1, ignore_case: true}", 1) + DEFAULT
    )
    report = validate_rule_set(text)
    assert report.ok and "no effect" in report.warnings[0].message


def test_null_field_warnings(example_rules: Path) -> None:
    rule_set = load_rule_set(example_rules)
    counts = {"policy_core.policy_id": 0, "payments.payment_plan": 500, "data_quality_score": 10}
    issues = null_field_warnings(rule_set, counts, 500, "billing")
    flagged = {(i.rule, i.message.split(" ")[0]) for i in issues}
    assert ("legacy_only_policies", "payments.payment_plan") in flagged
    assert not any(
        i.message.startswith(("policy_core.policy_id", "data_quality_score ")) for i in issues
    )
    plan = next(i for i in issues if i.rule == "legacy_only_policies")
    assert "'billing'" in plan.message and "never holds" in plan.message
    assert plan.line is not None
    assert null_field_warnings(rule_set, counts, 0, "billing") == []


def test_composition_parses() -> None:
    text = rules_text(
        rule(
            "c",
            "{all: [{field: wave, operator: equals, value: 0}, {not: {field: status, "
            "operator: is_null}}]}",
            1,
        )
        + DEFAULT
    )
    condition = load_rule_set(text).rules[0].condition
    assert isinstance(condition, AllOf) and len(condition.children) == 2


def test_equal_priority_reported_alongside_other_errors() -> None:
    text = rules_text(
        rule("a", "{field: status, operator: equal, value: x}", 1)
        + rule("b", "{field: wave, operator: equals, value: 1}", 1)
        + DEFAULT
    )
    messages = [(e.rule, e.message.split(" ")[0]) for e in validate_rule_set(text).errors]
    assert ("a", "unknown") in messages and ("b", "priority") in messages
