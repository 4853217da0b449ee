"""The discovery journey against the real content server over stdio and the FAKE canonical and
routing test servers (tests/agents/fake_servers.py), with a scripted chat model."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from langchain_core.messages import AIMessage, ToolMessage

from agents.llm import TokenLedger
from agents.runner import open_journey
from core.settings import Settings
from tests.agents.conftest import ScriptedChatModel, discovery_inputs

USAGE = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}


def _scripted_answers() -> ScriptedChatModel:
    """Two tool calls the journey runs against the content server, then an answer."""
    return ScriptedChatModel(
        replies=[
            AIMessage(
                content="",
                tool_calls=[{"name": "list_sources", "args": {}, "id": "c1"}],
                usage_metadata=USAGE,
            ),
            AIMessage(
                content="",
                tool_calls=[
                    {"name": "profile_source", "args": {"source_id": "PLACEHOLDER"}, "id": "c2"}
                ],
                usage_metadata=USAGE,
            ),
            AIMessage(content="EFF_DATE has one invalid date (row:1).", usage_metadata=USAGE),
        ]
    )


def test_discovery_end_to_end_with_edits_a_question_and_approvals(
    agent_settings: Settings, legacy_csv: Path, fakes: Path
) -> None:
    model = _scripted_answers()
    notes: list[dict] = []
    events: list[tuple[str, str]] = []

    async def run() -> None:
        async with open_journey(
            agent_settings,
            journey="discovery",
            thread_id="d1",
            mode="new",
            server_config=fakes,
            model=model,
            on_note=notes.append,
            only=["content", "canonical", "routing"],
            events=lambda e, tool, d: events.append((e, tool)),
        ) as session:
            outcome = await session.start(discovery_inputs(legacy_csv))
            assert outcome.question["step"] == "review_mapping"
            source_id = outcome.values["focus_source"]
            model.replies[1].tool_calls[0]["args"]["source_id"] = source_id
            outcome = await session.answer("edit STATUS policy_core.status")
            outcome = await session.answer("reject STATE")
            outcome = await session.answer(
                "which column has bad dates?", free_text_as_question=True
            )
            assert outcome.question["step"] == "review_mapping"  # back where it was
            messages = outcome.values["messages"]
            tool_results = [m for m in messages if isinstance(m, ToolMessage)]
            assert json.loads(tool_results[0].content)["sources"][0]["source_id"] == source_id
            assert json.loads(tool_results[1].content)["records"] == 4
            assert messages[-1].content == "EFF_DATE has one invalid date (row:1)."
            assert "profile_source" in model.bound and "suggest_mapping" in model.bound
            outcome = await session.answer("approve")
            assert outcome.question["step"] == "review_rules"
            outcome = await session.answer(1)
            assert outcome.status == "done"
            final = outcome.values

        assert [d["action"] for d in final["decisions"]] == ["edit", "reject"]
        exported = json.loads(Path(final["export"]["files"][0]).read_text())
        assert exported["STATUS"] == "policy_core.status" and "STATE" not in exported
        assert final["rule_set"] == "discovery_rules@1"
        assert final["routing"]["distribution"]["by_target"]["NewPlatformAPI"] == 2

    anyio.run(run)
    text = "\n".join(n.get("text") or "" for n in notes)
    assert "invalid dates in EFF_DATE: 1 record(s), e.g. row:1" in text
    assert "2 fields are below confidence 0.7" in text
    assert ("progress", "ingest_file") in events and ("done", "export_mapping") in events
    assert TokenLedger(agent_settings.home, budget=10).used("default") == 450


def test_a_missing_server_blocks_the_step_clearly_and_the_thread_resumes_later(
    agent_settings: Settings, legacy_csv: Path, fakes: Path, tmp_path: Path
) -> None:
    notes: list[dict] = []
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps({"mcpServers": {"canonical": {"command": str(tmp_path / "not-installed")}}})
    )

    async def run() -> None:
        # The canonical server cannot start: the step says so; it does not fake a mapping.
        async with open_journey(
            agent_settings,
            journey="discovery",
            thread_id="d2",
            mode="new",
            server_config=broken,
            only=["content", "canonical"],
            on_note=notes.append,
        ) as session:
            outcome = await session.start(discovery_inputs(legacy_csv))
            assert outcome.question["step"] == "blocked"
            assert "suggest_mapping is not available" in outcome.question["prompt"]
            assert outcome.values.get("mapping_id") is None
        # Later, with the server installed, the same thread retries the step.
        async with open_journey(
            agent_settings,
            journey=None,
            thread_id="d2",
            mode="resume",
            server_config=fakes,
            only=["content", "canonical"],
            on_note=notes.append,
        ) as session:
            outcome = await session.answer("retry")
            assert outcome.question["step"] == "review_mapping"
            assert outcome.values["mapping_id"].startswith("map_src_")

    anyio.run(run)
    warning = next(n for n in notes if n["kind"] == "warning")
    assert warning["text"].startswith(
        "Capability missing: suggest_mapping (the canonical "
        "server is unavailable: FileNotFoundError"
    )
