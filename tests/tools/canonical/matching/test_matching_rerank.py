"""LLM re-ranking with a fake OpenAI-compatible client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pyarrow as pa

from tools.canonical.matching import rerank_with_llm, suggest_matches
from tools.canonical.matching.calibration import Calibrator


@dataclass
class FakeClient:
    """Answers every chat call with the next scripted reply and records the prompts."""

    replies: list[str]
    prompts: list[str] = field(default_factory=list)

    @property
    def chat(self) -> SimpleNamespace:
        return SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def _create(
        self, *, model: str, messages: list[dict[str, str]], **_: object
    ) -> SimpleNamespace:
        self.prompts.append(messages[-1]["content"])
        reply = self.replies[min(len(self.prompts) - 1, len(self.replies) - 1)]
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=reply))])


def _low_confidence_result():
    columns = {"Pay Plan": pa.array(["Annual", "Monthly", "Quarterly"] * 5)}
    # an all-low calibrator puts every column below the threshold
    return suggest_matches(columns, calibrator=Calibrator((0.0, 1.0), (0.1, 0.5)))


def test_rerank_moves_the_chosen_candidate_first_and_caps_confidence() -> None:
    result = _low_confidence_result()
    match = result.column("Pay Plan")
    wanted = next(c.target for c in match.candidates if c.target.endswith("premium_frequency"))
    client = FakeClient([json.dumps({"target": wanted, "confidence": 0.97, "reason": "modal"})])
    out = rerank_with_llm(result, client, "fake-model")
    new = out.column("Pay Plan")
    assert new.candidates[0].target == wanted
    assert new.reranked_by == "fake-model"
    assert new.candidates[0].confidence < result.threshold  # LLM choices go to a person
    assert new.candidates[0].signals["llm"] == 0.97
    assert "Pay Plan" in client.prompts[0] and wanted in client.prompts[0]
    assert result.column("Pay Plan").reranked_by is None  # input left unchanged


def test_rerank_ignores_invalid_replies() -> None:
    result = _low_confidence_result()
    before = [c.target for c in result.column("Pay Plan").candidates]
    for reply in (
        "not json",
        json.dumps({"target": "made.up.path", "confidence": 0.9}),
        json.dumps({"target": None, "confidence": 7}),
    ):
        out = rerank_with_llm(result, FakeClient([reply]), "m")
        assert [c.target for c in out.column("Pay Plan").candidates] == before
        assert out.column("Pay Plan").reranked_by is None


def test_rerank_null_choice_unmaps() -> None:
    result = _low_confidence_result()
    out = rerank_with_llm(
        result, FakeClient(['{"target": null, "confidence": 0.8, "reason": "x"}']), "m"
    )
    assert out.column("Pay Plan").best is None
    assert "LLM" in (out.column("Pay Plan").unmapped_reason or "")
