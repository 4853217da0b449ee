"""The sync MCP server through an in-memory client session."""

from __future__ import annotations

import anyio
import pytest

from core.settings import Settings
from core.store import open_store
from servers.sync import build_server
from tests.servers.clients import memory_session, tool_data
from tools.sync.conflicts import ConflictQueue
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.sync.merge import merge
from tools.sync.policy import load_policy

READ_ONLY_TOOLS = {"sync_status", "ownership_ledger", "list_conflicts"}
WRITING_TOOLS = {"run_sync", "capture_extract", "write_policy", "adopt_wave"}


def test_status_ledger_conflicts_and_resolve(store_settings: Settings) -> None:
    engine = open_store(store_settings)
    result = merge(
        {"policy_core": {"carrier": "A"}},
        {"policy_core": {"carrier": "B"}},
        {"policy_core": {"carrier": "C"}},
        load_policy(),
    )
    [conflict_id] = ConflictQueue(engine, tenant="default").enqueue("P1", result.queued)
    OwnershipLedger(engine, tenant="default").set_owner("P1", Owner.NEW, reason="wave 0")
    engine.dispose()
    server = build_server(store_settings)

    async def go() -> None:
        async with memory_session(server) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == READ_ONLY_TOOLS | WRITING_TOOLS | {"resolve_conflict"}
            for name in READ_ONLY_TOOLS:
                assert tools[name].annotations and tools[name].annotations.readOnlyHint
            resolve = tools["resolve_conflict"].annotations
            assert resolve and resolve.destructiveHint and not resolve.readOnlyHint
            status = tool_data(await session.call_tool("sync_status", {}))
            assert (status["conflicts"], status["ledger"]["new"]) == (1, 1)
            ledger = tool_data(await session.call_tool("ownership_ledger", {"owner": "new"}))
            assert [e["policy_id"] for e in ledger["entries"]] == ["P1"]
            listed = tool_data(await session.call_tool("list_conflicts", {}))
            assert [c["id"] for c in listed["conflicts"]] == [conflict_id]
            done = tool_data(
                await session.call_tool(
                    "resolve_conflict", {"conflict": conflict_id, "take": "new"}
                )
            )
            assert (done["state"], done["resolved_value"]) == ("resolved", "C")
            again = await session.call_tool(
                "resolve_conflict", {"conflict": conflict_id, "take": "legacy"}
            )
            assert again.isError and "already resolved" in again.content[0].text  # type: ignore[union-attr]
            missing = await session.call_tool(
                "resolve_conflict", {"conflict": 999, "take": "legacy"}
            )
            assert missing.isError and "no conflict 999" in missing.content[0].text  # type: ignore[union-attr]
            assert (
                tool_data(await session.call_tool("list_conflicts", {"state": "all"}))["total"] == 1
            )

    anyio.run(go)


@pytest.mark.parametrize("name", ["sync"])
def test_serve_knows_the_sync_server(name: str) -> None:
    from cli.commands.serve import SERVERS, available_servers

    assert name in SERVERS and name in available_servers()


def test_write_policy_run_sync_and_status(store_settings: Settings) -> None:
    engine = open_store(store_settings)
    OwnershipLedger(engine, tenant="default").set_owner("P7", Owner.NEW, reason="wave 0")
    engine.dispose()
    server = build_server(store_settings)

    async def go() -> None:
        async with memory_session(server) as session:
            doc = {"policy_core": {"policy_id": "P7", "status": "active", "carrier": "ACME"}}
            written = tool_data(
                await session.call_tool("write_policy", {"policy_id": "P7", "document": doc})
            )
            assert written["owner"] == "new" and written["platform"]["op"] == "insert"
            assert written["platform"]["outbox_id"] and written["to_new"]
            status = tool_data(await session.call_tool("sync_status", {}))
            assert status["pending_outbox"] == 1 and status["lag"] is not None
            ran = tool_data(await session.call_tool("run_sync", {}))
            assert ran["forwarded"] == 1 and ran["delivered_legacy"] == 1
            assert ran["status"]["backlog"] == 0
            legacy_owned = tool_data(
                await session.call_tool(
                    "write_policy",
                    {"policy_id": "P6", "document": {"policy_core": {"status": "active"}}},
                )
            )
            assert (legacy_owned["owner"], legacy_owned["to_legacy"]) == ("legacy", True)
            assert legacy_owned["platform"] is None
            assert tool_data(await session.call_tool("run_sync", {}))["delivered_legacy"] == 1
            bad = await session.call_tool(
                "write_policy",
                {"policy_id": "P8", "document": {"policy_core": {"policy_id": "P9"}}},
            )
            assert bad.isError and "not 'P8'" in bad.content[0].text  # type: ignore[union-attr]
            missing = await session.call_tool(
                "capture_extract",
                {"source_id": "src_nope", "feed": "LEG", "columns": {"A": "policy_core.policy_id"}},
            )
            assert missing.isError and "src_nope" in missing.content[0].text  # type: ignore[union-attr]
            no_wave = await session.call_tool("adopt_wave", {"wave_id": "plan-x-w0"})
            assert no_wave.isError and "no wave 'plan-x-w0'" in no_wave.content[0].text  # type: ignore[union-attr]

    anyio.run(go)
