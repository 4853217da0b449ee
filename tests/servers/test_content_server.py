"""The content MCP server through real client sessions."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from core.settings import Settings
from servers.content import build_server
from tests.servers.clients import http_server, http_session, memory_session, stdio_session

CSV = "PolicyNo;Premium;EffDate\nP001;100,50;01.02.2024\nP002;200,00;01.03.2024\n"


def _write_csv(folder: Path) -> Path:
    path = folder / "billing.csv"
    path.write_text(CSV)
    return path


def _args(path: Path) -> dict:
    return {
        "path": str(path),
        "format": "csv",
        "options": {"delimiter": ";", "decimal": ",", "header": True},
    }


def test_tools_are_listed_with_annotations(workspace: Path) -> None:
    async def run() -> None:
        async with memory_session(build_server(Settings(home=workspace))) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == {
                "ingest_file",
                "list_sources",
                "profile_source",
                "sample_records",
                "describe_layout",
                "search_columns",
            }
            assert tools["list_sources"].annotations.readOnlyHint is True
            assert tools["ingest_file"].annotations.destructiveHint is False
            assert "format" in tools["ingest_file"].inputSchema["required"]

    anyio.run(run)


def test_ingest_profile_and_page_in_memory(workspace: Path) -> None:
    path = _write_csv(workspace)
    settings = Settings(home=workspace, embedding_provider="none")

    async def run() -> None:
        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)

        async with memory_session(build_server(settings)) as session:
            result = await session.call_tool(
                "ingest_file", _args(path), progress_callback=on_progress
            )
            assert not result.isError, result.content
            source_id = result.structuredContent["source_id"]
            assert result.structuredContent["records"] == 2
            assert progress, "ingest reported no progress"
            page = await session.call_tool("sample_records", {"source_id": source_id, "limit": 1})
            assert page.structuredContent["records"][0]["PolicyNo"] == "P001"
            assert page.structuredContent["next_cursor"] == "1"
            rest = await session.call_tool(
                "sample_records", {"source_id": source_id, "limit": 1, "cursor": "1"}
            )
            assert rest.structuredContent["records"][0]["PolicyNo"] == "P002"
            assert rest.structuredContent["next_cursor"] is None
            profile = await session.call_tool("profile_source", {"source_id": source_id})
            assert profile.structuredContent["records"] == 2
            resource = await session.read_resource(f"profile://default/{source_id}")
            assert json.loads(resource.contents[0].text)["source_id"] == source_id
            listed = await session.call_tool("list_sources", {})
            assert listed.structuredContent["total"] == 1

    anyio.run(run)


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        ("ingest_file", {"path": "/etc/passwd", "format": "csv"}, "outside the allowed roots"),
        ("ingest_file", {"path": "../../etc/passwd", "format": "csv"}, "outside the allowed roots"),
        ("profile_source", {"source_id": "src_nope"}, "no source 'src_nope'"),
        ("sample_records", {"source_id": "x", "limit": 1000}, "less than or equal to 100"),
        ("describe_layout", {"copybook": "       01 REC.\n          05 A PIC X(.\n"}, "line 2"),
    ],
)
def test_bad_input_is_a_tool_error(workspace: Path, tool: str, args: dict, message: str) -> None:
    async def run() -> None:
        async with memory_session(build_server(Settings(home=workspace))) as session:
            result = await session.call_tool(tool, args)
            assert result.isError
            assert message in result.content[0].text

    anyio.run(run)


def test_stdio_server_ingests(workspace: Path) -> None:
    path = _write_csv(workspace)

    async def run() -> None:
        async with stdio_session(
            "content", workspace, DATA_MASH_EMBEDDING_PROVIDER="none"
        ) as session:
            result = await session.call_tool("ingest_file", _args(path))
            assert not result.isError, result.content
            assert result.structuredContent["records"] == 2

    anyio.run(run)


def test_http_server_lists_and_describes(workspace: Path) -> None:
    copybook = workspace / "rec.cpy"
    copybook.write_text(
        "       01 REC.\n          05 POL-NBR PIC X(10).\n"
        "          05 PREM-AMT PIC S9(7)V99 COMP-3.\n"
    )

    async def run(url: str) -> None:
        async with http_session(url) as session:
            names = {t.name for t in (await session.list_tools()).tools}
            assert "describe_layout" in names
            result = await session.call_tool("describe_layout", {"copybook": str(copybook)})
            assert not result.isError, result.content
            assert result.structuredContent["record_length"] == 15

    with http_server("content", workspace) as url:
        anyio.run(run, url)


def test_search_columns_finds_premiums_of_every_source(workspace: Path) -> None:
    """Real MiniLM embeddings: the premium columns of three sources rank above the others."""
    files = {
        "a.csv": "POL_NBR;PREM_AMT;INSD_NM\nA1;100,00;Jane Roe\n",
        "b.csv": "PolicyNo;WrittenPremium;EffDate\nB1;250,50;2024-01-01\n",
        "c.csv": "contract;annual_premium_amount;city\nC1;99,90;Boston\n",
    }
    settings = Settings(home=workspace)

    async def run() -> None:
        async with memory_session(build_server(settings)) as session:
            for name, text in files.items():
                (workspace / name).write_text(text)
                result = await session.call_tool(
                    "ingest_file",
                    {
                        "path": str(workspace / name),
                        "format": "csv",
                        "options": {"delimiter": ";", "decimal": ",", "header": True},
                    },
                )
                assert not result.isError, result.content
            found = await session.call_tool(
                "search_columns", {"query": "premium amount", "limit": 3}
            )
            hits = found.structuredContent["hits"]
            assert {h["column"] for h in hits} == {
                "PREM_AMT",
                "WrittenPremium",
                "annual_premium_amount",
            }

    anyio.run(run)
