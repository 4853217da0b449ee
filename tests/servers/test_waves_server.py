"""The waves MCP server through an in-memory client session (real new_platform on SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from core.settings import Settings
from core.store import open_store
from servers.waves import build_server
from tests.servers.clients import memory_session, tool_data
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts

TOOLS = {
    "plan_waves",
    "check_gates",
    "override_wave_gate",
    "run_wave",
    "wave_status",
    "rollback_wave",
    "reconcile_wave",
}


@pytest.fixture
def server(tmp_path: Path) -> Any:
    settings = Settings(home=tmp_path / "ws", batch_size=100)
    engine = open_store(settings)
    folders = {
        "src-a": write_parts(tmp_path / "a", canonical_table(250, prefix="A"), 100),
        "src-b": write_parts(tmp_path / "b", canonical_table(50, prefix="B", bad_every=10), 100),
    }
    register_source(engine, settings, "src-a", 250)
    register_source(engine, settings, "src-b", 50)
    yield build_server(settings, context_for=lambda e, s, t: make_context(e, s, folders))
    engine.dispose()


def test_tools_and_annotations(server: Any) -> None:
    async def go() -> None:
        async with memory_session(server) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == TOOLS
            for name, tool in tools.items():
                assert tool.annotations is not None, name
                assert tool.description and tool.inputSchema
            assert tools["run_wave"].annotations.destructiveHint is True
            assert tools["rollback_wave"].annotations.destructiveHint is True
            assert tools["wave_status"].annotations.readOnlyHint is True

    anyio.run(go)


def test_plan_gate_run_status_reconcile_rollback(server: Any) -> None:
    async def go() -> None:
        async with memory_session(server) as session:
            plan = tool_data(
                await session.call_tool(
                    "plan_waves",
                    {
                        "source_ids": ["src-a", "src-b"],
                        "target": "new_platform",
                        "criteria": {"max_wave_size": 10},
                    },
                )
            )
            wave0, wave1 = plan["waves"][0]["wave_id"], plan["waves"][1]["wave_id"]
            assert plan["waves"][0]["policy_count"] == 295
            gates = tool_data(await session.call_tool("check_gates", {"wave_id": wave1}))
            assert gates["passed"] is False
            blocked = await session.call_tool("run_wave", {"wave_id": wave1})
            assert blocked.isError and "blocked by gate" in blocked.content[0].text  # type: ignore[union-attr]

            seen: list[float] = []

            async def progress(done: float, total: float | None, message: str | None) -> None:
                seen.append(done)

            status = tool_data(
                await session.call_tool("run_wave", {"wave_id": wave0}, progress_callback=progress)
            )
            assert status["status"] == "completed" and status["migrated"] == 295
            assert 295 in seen  # per-batch progress of every milestone (migrate ends at 295)
            again = tool_data(await session.call_tool("wave_status", {"wave_id": wave0}))
            assert again["steps"]["migrate"]["status"] == "completed"
            report = tool_data(await session.call_tool("reconcile_wave", {"wave_id": wave0}))
            assert report["passed"] is True
            undone = tool_data(await session.call_tool("rollback_wave", {"wave_id": wave0}))
            assert undone["status"] == "compensated"
            missing = await session.call_tool("wave_status", {"wave_id": "nope"})
            assert missing.isError and "no wave 'nope'" in missing.content[0].text  # type: ignore[union-attr]

    anyio.run(go)
