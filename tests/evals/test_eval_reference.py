"""The reference router and journey-script validation (pure functions, no estate)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.errors import InputError
from evals.journey_scripts import load_script
from evals.routing_reference import ReferenceRouter

RULES = """
routing_rules:
  version: "1"
  canonical: policy_v1
  rules:
    - {name: no_id, condition: {field: policy_core.policy_id, operator: is_null},
       target: DQ, priority: 0}
    - {name: prefix, condition: {field: policy_id, operator: in, value: ["A*"]},
       target: New, priority: 1}
    - name: old
      condition: {field: policy_core.expiration_date, operator: less_than, value: 2015-01-01}
      target: Legacy
      priority: 2
    - name: closed
      condition: {field: policy_core.status, operator: in, value: [cancelled], ignore_case: true}
      target: Legacy
      priority: 3
    - {name: default, condition: true, target: Bridge, priority: 99}
"""


def test_reference_router_follows_priorities_and_nulls(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    fields = ["policy_core.policy_id", "policy_core.expiration_date", "policy_core.status"]
    router = ReferenceRouter(path, fields)
    assert router.route({"policy_core.policy_id": None}) == ("DQ", "no_id")
    assert router.route({"policy_core.policy_id": "A1"}) == ("New", "prefix")
    assert router.route(
        {"policy_core.policy_id": "B1", "policy_core.expiration_date": dt.date(2014, 5, 1)}
    ) == ("Legacy", "old")
    assert router.route(
        {
            "policy_core.policy_id": "B1",
            "policy_core.expiration_date": None,
            "policy_core.status": "CANCELLED",
        }
    ) == ("Legacy", "closed")
    assert router.route({"policy_core.policy_id": "B1"}) == ("Bridge", "default")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "journey: x\nanswers:\n  - approve\n  - {stp: a, answer: b}\n",
            4,
            "each answer is a bare answer or {step: STEP, answer: ANSWER}",
        ),
        ("journey: x\nanswers: []\n", 2, "'answers' must be a non-empty list"),
        (
            "journey: x\nanswers: [approve]\nexpect:\n  - wave_done: {wave: 0}\n",
            4,
            "unknown outcome 'wave_done'",
        ),
        (
            "journey: x\nanswers: [approve]\nexpect:\n  - mapping_approved: {min_fields: many}\n",
            4,
            "must be an integer",
        ),
        ("journey: x\nanswers:\n  - [unclosed\n", 4, "not valid YAML"),
        ("answers: [approve]\n", 1, "missing 'journey'"),
        ("journey: x\nturns: [hi]\n", 2, "unknown key 'turns'"),
    ],
)
def test_malformed_journey_script_names_file_line_and_problem(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_script(path)
    assert f"{path}:{line}:" in info.value.message
    assert message in info.value.message


def test_packaged_journey_scripts_are_valid() -> None:
    from evals.journey_scripts import load_scripts

    scripts = load_scripts(None)
    assert {s.journey for s in scripts} == {"discovery"}
    assert all("expect" not in s.runner_script for s in scripts)
