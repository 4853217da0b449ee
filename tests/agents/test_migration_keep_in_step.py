"""The migration journey's "after wave N, keep in step" step, offline against the FAKE waves and
sync test servers over stdio: after a reconciled wave the journey records the wave's owners and
lets sync follow what it migrated; without a sync server it says so and goes on."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from agents.runner import open_journey
from core.settings import Settings
from tests.agents.fake_servers import config_for


def _journey(settings: Settings, config: Path, only: list[str], notes: list[dict]) -> dict:
    async def run() -> dict:
        async with open_journey(
            settings,
            journey="migration",
            thread_id="k1",
            mode="new",
            server_config=config,
            only=only,
            on_note=notes.append,
        ) as session:
            outcome = await session.start({"source_ids": ["src_1"]})
            assert outcome.question["step"] == "approve_wave"
            outcome = await session.answer("run")
            assert outcome.question["step"] == "after_wave"  # the journey goes on either way
            return dict(outcome.values)

    return anyio.run(run)


def test_after_a_wave_the_journey_keeps_legacy_and_new_in_step(
    agent_settings: Settings, tmp_path: Path
) -> None:
    notes: list[dict] = []
    config = config_for(["waves", "sync"], tmp_path)
    values = _journey(agent_settings, config, ["waves", "sync"], notes)
    assert "in_step" in values, notes
    assert values["in_step"]["w0"]["ledger"]["owner"] == "new"
    assert values["in_step"]["w0"]["adopted"]["policies"] == 3
    calls = json.loads((agent_settings.home / "fake_servers.json").read_text())["calls"]
    assert [(c["tool"], c["args"]["wave_id"]) for c in calls] == [
        ("run_wave", "w0"),
        ("adopt_wave", "w0"),
    ]
    table = next(n for n in notes if "kept in step" in (n.get("title") or ""))
    assert table["title"].startswith("Wave w0 kept in step: 3 policies now owned by new")
    assert ["new", "3"] in table["rows"]
    assert any("data-mash sync run" in (n.get("text") or "") for n in notes)


def test_without_a_sync_server_the_journey_says_so_and_goes_on(
    agent_settings: Settings, tmp_path: Path
) -> None:
    notes: list[dict] = []
    values = _journey(agent_settings, config_for(["waves"], tmp_path), ["waves"], notes)
    assert "in_step" not in values
    warning = next(n for n in notes if n.get("kind") == "warning")
    assert "not kept in step" in warning["text"]
    assert "data-mash sync adopt w0" in warning["text"]
