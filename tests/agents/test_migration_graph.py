"""The migration journey against the FAKE waves test server over stdio (the real waves server
is being built): approvals, a gate override with its reason, live progress, a failed wave
explained, a rollback."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from agents.journey import AnswerError
from agents.runner import open_journey
from core.settings import Settings


def test_migration_with_override_failure_explanation_and_rollback(
    agent_settings: Settings, fakes: Path
) -> None:
    notes: list[dict] = []
    progress: list[float] = []

    def on_event(event: str, tool: str, detail: dict) -> None:
        if event == "progress":
            progress.append(detail["done"])

    async def run() -> None:
        async with open_journey(
            agent_settings,
            journey="migration",
            thread_id="m1",
            mode="new",
            server_config=fakes,
            only=["waves"],
            on_note=notes.append,
            events=on_event,
        ) as session:
            outcome = await session.start({"source_ids": ["src_1"]})
            assert outcome.question["step"] == "approve_wave"
            outcome = await session.answer("run")
            assert outcome.question["step"] == "after_wave"
            assert outcome.values["done_waves"] == []  # w0 is done once the person moves on
            outcome = await session.answer("continue")
            assert outcome.question["step"] == "approve_wave"
            assert outcome.question["gates"] == ["null_rate"]
            with pytest.raises(AnswerError, match="step 'approve_wave'.*'run' is not possible"):
                await session.answer("run")
            outcome = await session.answer("override null_rate HOLDER gaps accepted by UW")
            assert outcome.question["step"] == "approve_wave"
            assert outcome.question["actions"] == ["run", "ask", "stop"]  # gates re-checked
            outcome = await session.answer("run")
            assert outcome.question["step"] == "after_failure"
            outcome = await session.answer("rollback")
            assert outcome.question["step"] == "after_failure"
            outcome = await session.answer("stop")
            assert outcome.status == "stopped"

    anyio.run(run)
    assert progress[:3] == [1.0, 2.0, 3.0]
    calls = json.loads((agent_settings.home / "fake_servers.json").read_text())["calls"]
    assert [(c["tool"], c["args"]["wave_id"]) for c in calls] == [
        ("run_wave", "w0"),
        ("override_wave_gate", "w1"),
        ("run_wave", "w1"),
        ("rollback_wave", "w1"),
    ]
    assert calls[1]["args"]["reason"] == "HOLDER gaps accepted by UW"
    failure = next(n["text"] for n in notes if "ended compensated" in (n.get("text") or ""))
    assert "Failed step: migrate (target rejected policy B004: premium 0.00)" in failure
    assert "Compensated, in reverse order: map_to_canonical, ingest." in failure
    assert "retry: the wave resumes from its last committed batch" in failure
