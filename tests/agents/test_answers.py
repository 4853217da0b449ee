"""Answers to journey questions: short text forms, numbers, mappings, and clear refusals."""

from __future__ import annotations

import pytest

from agents.journey import AnswerError, parse_answer, question

REVIEW = question(
    "review_mapping",
    "Review it",
    ["approve", "edit", "confirm", "reject", "ask", "stop"],
    fields=["POLICY_NO", "PREMIUM"],
)
GATES = question("approve_wave", "Override?", ["override", "ask", "stop"], gates=["null_rate"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("approve", {"action": "approve"}),
        (1, {"action": "approve"}),
        ("6", {"action": "stop"}),
        (
            "edit PREMIUM rating_components.premium_amount",
            {"action": "edit", "field": "PREMIUM", "target": "rating_components.premium_amount"},
        ),
        ("confirm POLICY_NO", {"action": "confirm", "field": "POLICY_NO"}),
        ("? which column is the key", {"action": "ask", "text": "which column is the key"}),
        ({"action": "reject", "field": "PREMIUM"}, {"action": "reject", "field": "PREMIUM"}),
    ],
)
def test_answers_that_fit(raw: object, expected: dict) -> None:
    assert parse_answer(REVIEW, raw) == expected


def test_an_override_keeps_the_whole_reason() -> None:
    answer = parse_answer(GATES, "override null_rate known gap, fixed in wave 2")
    assert answer == {
        "action": "override",
        "gate": "null_rate",
        "reason": "known gap, fixed in wave 2",
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("run", "'run' is not possible here"),
        ("9", "there is no choice 9"),
        ("edit NOPE policy_core.status", "field 'NOPE' is not one of this step's fields"),
        ("edit PREMIUM", "'edit' needs target"),
        ("hello there", "'hello there' is not an answer to this question"),
        ({"field": "PREMIUM"}, "'None' is not possible here"),
    ],
)
def test_answers_that_do_not_fit_name_the_step(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        parse_answer(REVIEW, raw)
    assert caught.value.step == "review_mapping"
    assert "step 'review_mapping'" in caught.value.message
    assert message in caught.value.message


def test_free_text_is_a_question_in_chat() -> None:
    assert parse_answer(REVIEW, "why is STATE low?", free_text_as_question=True) == {
        "action": "ask",
        "text": "why is STATE low?",
    }
