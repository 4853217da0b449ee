"""The conflict policy YAML: every mistake is one error naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputError
from tools.sync.contracts import Strategy
from tools.sync.policy import DEFAULT_GROUP, load_policy, parse_policy


def test_most_specific_group_wins_and_unnamed_fields_take_the_default() -> None:
    policy = parse_policy(
        """\
default: newest_wins
groups:
  cover:
    fields: [coverage_sections]
    resolve: manual
  limits:
    fields: ["coverage_sections[].limits"]
    resolve: owner_wins
"""
    )
    assert policy.group_for("coverage_sections[C1].limits.aggregate").name == "limits"
    assert policy.group_for("coverage_sections[C1].coverage_type").name == "cover"
    assert policy.group_for("coverage_sections[C1]").name == "cover"
    other = policy.group_for("policy_core.carrier")
    assert (other.name, other.resolve) == (DEFAULT_GROUP, Strategy.NEWEST_WINS)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "groups:\n  status:\n    fields: [policy_core.status]\n    resolve: coin_toss\n",
            3,
            "unknown strategy 'coin_toss'",
        ),
        (
            "default: manual\ngroups:\n  a:\n    fields: [policy_core.status]\n"
            "    resolve: manual\n  b:\n    fields: [policy_core.stats]\n    resolve: manual\n",
            7,
            "unknown field 'policy_core.stats'",
        ),
        (
            "groups:\n  a:\n    fields: [policy_core.status]\n    resolve: manual\n"
            "    colour: red\n",
            3,
            "unknown key 'colour'",
        ),
        ("default: manual\nping_pong: true\n", 1, "unknown key 'ping_pong'"),
        (
            "groups:\n  a:\n    fields: [policy_core.status]\n    resolve: state_machine\n",
            3,
            "without 'precedence'",
        ),
        (
            "groups:\n  a:\n    fields: [policy_core.status]\n    resolve: manual\n"
            "  b:\n    fields: [policy_core.status]\n    resolve: manual\n",
            6,
            "already in group 'a'",
        ),
        ("groups:\n  a:\n    fields: [policy_core.status\n", 4, "malformed YAML"),
        ("default: manual\ndefault: newest_wins\n", 2, "duplicate key"),
    ],
)
def test_mistakes_name_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_policy(text, where="sync.yaml")
    message = caught.value.message
    assert words in message
    assert f"sync.yaml, line {line}" in message


def test_unknown_strategy_error_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    path.write_text("default: first_wins\n", encoding="utf-8")
    with pytest.raises(InputError, match="owner_wins, newest_wins, state_machine, manual"):
        load_policy(path)


def test_the_built_in_policy_is_valid() -> None:
    policy = load_policy()
    assert policy.group_for("policy_core.status").resolve is Strategy.STATE_MACHINE
    assert policy.group_for("policy_core.insured_party.address.city").name == "contact"
