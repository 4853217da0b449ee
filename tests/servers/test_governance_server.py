"""The governance MCP server through an in-memory client session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from core.settings import Settings
from core.store import open_store
from servers.governance import build_server
from tests.servers.clients import memory_session, tool_data
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts
from tools.audit import Move, PolicyLocations
from tools.waves import generate_plan, run_wave

TOOLS = {"locate_policy", "policy_history", "audit_trail", "replay_log", "lineage"}


@pytest.fixture
def server(tmp_path: Path) -> Any:
    settings = Settings(home=tmp_path / "ws", batch_size=100)
    engine = open_store(settings)
    folders = {"src-a": write_parts(tmp_path / "a", canonical_table(120, prefix="A"), 100)}
    register_source(engine, settings, "src-a", 120)
    wave_context = make_context(engine, settings, folders)
    with engine.begin() as conn:  # first move: routed by a rule
        PolicyLocations(engine).record_moves(
            conn, [Move("A000007", "NewPlatformAPI", rule="seed_rule")], entry_id=None
        )
    plan = generate_plan(wave_context, source_ids=["src-a"], target="new_platform")
    assert run_wave(wave_context, plan.waves[0].wave_id).status == "completed"  # second move
    yield build_server(settings, context_for=lambda e, s, t: make_context(e, s, folders))
    engine.dispose()


def test_locate_history_trail_replay_lineage(server: Any) -> None:
    async def go() -> None:
        async with memory_session(server) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == TOOLS
            assert all(t.annotations and t.annotations.readOnlyHint for t in tools.values())
            found = tool_data(await session.call_tool("locate_policy", {"policy_id": "A000007"}))
            assert found["location"]["system"] == "new_platform"
            assert [m["to_system"] for m in found["history"]] == ["NewPlatformAPI", "new_platform"]
            assert found["reconciliation"]["matches"] is True
            history = tool_data(await session.call_tool("policy_history", {"policy_id": "A000007"}))
            assert [m["rule"] for m in history["moves"]] == ["seed_rule", None]
            trail = tool_data(await session.call_tool("audit_trail", {"policy_id": "A000007"}))
            assert [e["operation"] for e in trail["entries"]] == ["migrate.batch"]
            page = tool_data(
                await session.call_tool("replay_log", {"namespace": "waves", "limit": 3})
            )
            assert len(page["entries"]) == 3 and page["next_cursor"] == "3"
            rest = tool_data(
                await session.call_tool(
                    "replay_log",
                    {"namespace": "waves", "limit": 200, "cursor": page["next_cursor"]},
                )
            )
            assert rest["total"] == page["total"] and rest["next_cursor"] is None
            steps = tool_data(await session.call_tool("lineage", {"policy_id": "A000007"}))
            assert [s["stage"] for s in steps["steps"]] == [
                "source_file",
                "source",
                "mapping",
                "canonical",
                "rule",
                "wave",
                "target",
            ]
            bad = await session.call_tool("replay_log", {"since": "yesterday-ish"})
            assert bad.isError and "is not a time" in bad.content[0].text  # type: ignore[union-attr]
            gone = await session.call_tool("locate_policy", {"policy_id": "NOPE"})
            assert gone.isError

    anyio.run(go)
