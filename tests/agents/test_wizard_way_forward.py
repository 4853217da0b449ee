"""The chat wizard can finish a mapping (issue 14, item 16): a refused edit comes back with a
way forward offered as a choice (the same edit with the date format the profile found), an edit
can carry a transform, a field can be filled with a constant, and the mapping summary counts
mapped columns right. Runs the discovery journey against the REAL servers over stdio."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
import yaml

from agents.discovery.prompts import explain_mapping, target_and_transform
from agents.journey import parse_answer, question
from agents.script import run_script
from core.settings import Settings

CSV = """\
CONTRNO,STATUS,ISSUEDT,PREMIUM,STATE
L1001,active,2024015,1200.50,TX
L1002,active,2023200,900.00,NY
L1003,cancelled,2022100,750.25,CA
L1004,active,2024300,300.00,FL
"""


def _script(path: Path, answers: list[str], thread: str | None = None) -> Path:
    body: dict = {"journey": "discovery", "answers": answers, "on_end": "pause"}
    if thread:
        body["thread"] = thread
    else:
        body["inputs"] = {"files": [{"path": "policies.csv", "format": "csv", "options": {}}]}
        body["inputs"]["files"][0]["options"] = {"header": True}
    path.write_text(yaml.safe_dump(body))
    return path


def test_a_refused_date_edit_offers_the_profiled_format_and_the_mapping_finishes(
    workspace: Path,
) -> None:
    (workspace / "policies.csv").write_text(CSV)
    settings = Settings(home=workspace, embedding_provider="none")
    first = _script(
        workspace / "d1.yaml",
        ["edit CONTRNO policy_core.policy_id", "edit ISSUEDT policy_core.effective_date"],
    )
    paused = anyio.run(lambda: run_script(settings, first))
    q = paused.question
    assert q["step"] == "review_mapping"
    warning = [n for n in paused.values["notes"] if n["kind"] == "warning"][-1]["text"]
    assert warning.startswith("ISSUEDT: not changed:") and "numbers are not dates" in warning
    # Not the same dead end: the fix is the first choice, and constants are possible.
    assert q["choices"][0] == {
        "action": "edit",
        "field": "ISSUEDT",
        "target": "policy_core.effective_date date YYYYDDD",
        "label": "edit ISSUEDT policy_core.effective_date date YYYYDDD "
        "(the profile reads ISSUEDT as YYYYDDD dates)",
        "n": 1,
    }
    assert "constant" in q["actions"] and "ways forward" in q["prompt"]

    rest = _script(
        workspace / "d2.yaml",
        ["1", "constant policy_core.carrier Acme Mutual", "approve", "approve"],
        thread=paused.thread_id,
    )
    done = anyio.run(lambda: run_script(settings, rest)).values
    assert done["status"] == "done" and done["approved"]["status"] == "approved"
    decisions = {d["action"]: d for d in done["decisions"] if d["field"] != "CONTRNO"}
    assert decisions["edit"]["transform"] == [{"kind": "date", "format": "YYYYDDD"}]
    assert decisions["constant"] == {
        "field": None,
        "action": "constant",
        "target": "policy_core.carrier",
        "value": "Acme Mutual",
    }
    spec = json.dumps(
        [json.loads(Path(f).read_text()) for f in done["export"]["files"] if f.endswith(".json")]
    )
    assert "YYYYDDD" in spec and "Acme Mutual" in spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("policy_core.status", ("policy_core.status", None)),
        (
            "policy_core.effective_date date DD.MM.YYYY",
            ("policy_core.effective_date", [{"kind": "date", "format": "DD.MM.YYYY"}]),
        ),
        ("a.b money 2", ("a.b", [{"kind": "money", "implied_decimals": 2}])),
        ("a.b money comma", ("a.b", [{"kind": "money", "decimal_comma": True}])),
        ("a.b code policy_status", ("a.b", [{"kind": "code", "table": "policy_status"}])),
        ('a.b {"kind": "date", "format": "excel"}', ("a.b", [{"kind": "date", "format": "excel"}])),
    ],
)
def test_an_edit_can_carry_a_transform(text: str, expected: tuple) -> None:
    assert target_and_transform(text) == expected


def test_a_bad_transform_says_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="date FORMAT, money DECIMALS, code TABLE"):
        target_and_transform("a.b julian")


def test_a_constant_keeps_the_whole_value() -> None:
    q = question("review_mapping", "Review", ["constant", "edit"], fields=["X"])
    assert parse_answer(q, "constant policy_core.carrier Acme Mutual") == {
        "action": "constant",
        "target": "policy_core.carrier",
        "value": "Acme Mutual",
    }


def test_mapped_columns_are_counted_right() -> None:
    from tools.canonical.contracts import SuggestedMapping

    def field(source: str, target: str | None, confidence: float) -> dict:
        evidence = {"candidate": target, "signals": {}, "agreed": [], "alternatives": []}
        evidence["sample_values"] = []
        return {
            "source": source,
            "target": target,
            "confidence": confidence,
            "evidence": evidence,
            "transform": [],
        }

    proposal = SuggestedMapping.model_validate(
        {
            "mapping_id": "m1",
            "source_id": "s1",
            "version": 1,
            "canonical": "policy_v1",
            "threshold": 0.8,
            "calibration": "none",
            "mappings": [
                field("A", "policy_core.policy_id", 0.9),
                field("B", "policy_core.status", 0.5),
                field("C", None, 0.3),
            ],
            "unmapped": {"C": "no candidate", "D": "empty column"},
        }
    )
    text = " ".join(explain_mapping("m1", "src", proposal, 0.7).split())
    assert "2 source columns mapped, 2 left unmapped" in text
    assert "1 fields are below confidence 0.7" in text and "C ->" not in text


def test_a_refused_step_offers_going_back_not_only_the_same_retry(
    agent_settings: Settings, legacy_csv: Path, fakes: Path
) -> None:
    from agents.runner import open_journey
    from tests.agents.conftest import discovery_inputs

    refuse = agent_settings.home / "fail-map_to_canonical"
    refuse.write_text("")

    async def run() -> None:
        async with open_journey(
            agent_settings,
            journey="discovery",
            thread_id="w1",
            mode="new",
            server_config=fakes,
            only=["content", "canonical", "routing"],
        ) as session:
            outcome = await session.start(discovery_inputs(legacy_csv))
            assert outcome.question["step"] == "review_mapping"
            outcome = await session.answer("approve")
            q = outcome.question
            assert q["step"] == "blocked" and "back" in q["actions"]
            assert "retrying the same input fails the same way" in q["prompt"]
            assert [c["action"] for c in q["choices"]] == ["retry", "back", "stop", "ask"]
            outcome = await session.answer("back")
            assert outcome.question["step"] == "review_mapping"  # where the mapping is changed
            refuse.unlink()  # the person fixed the mapping
            outcome = await session.answer("approve")
            assert outcome.question["step"] == "review_rules"

    anyio.run(run)
