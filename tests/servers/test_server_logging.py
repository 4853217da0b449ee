"""MCP tool calls: one correlation id per call, on its JSON log lines and its audit entries."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from core.logs import configure_logging
from core.settings import Settings
from core.store import open_store
from servers.content import build_server
from tests.servers.clients import memory_session
from tools.audit import AuditLog


def test_each_tool_call_has_its_correlation_id(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=workspace, embedding_provider="none")
    for name in ("a.csv", "b.csv"):
        (workspace / name).write_text(f"PolicyNo,Premium\n{name},1\n")
    configure_logging(fmt="json", level="INFO")

    async def run() -> None:
        async with memory_session(build_server(settings)) as session:
            for name in ("a.csv", "b.csv"):
                args = {"path": str(workspace / name), "format": "csv"}
                result = await session.call_tool("ingest_file", args)
                assert not result.isError, result.content

    anyio.run(run)
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    calls = [line for line in lines if line["event"] == "tool_called"]
    assert [c["tool"] for c in calls] == ["ingest_file", "ingest_file"]
    call_ids = [c["correlation_id"] for c in calls]
    assert len(set(call_ids)) == 2
    entries = list(AuditLog(open_store(settings)).replay(namespace="content"))
    by_call = {e.correlation_id for e in entries}
    assert by_call == set(call_ids)
