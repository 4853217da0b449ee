"""Issue 14 item 17: tool arguments an MCP client can discover and errors it can act on.

- A bad argument comes back as one line naming the argument and the fix (no pydantic dump, no
  documentation URL), for every tool of every server.
- update_field_mapping's ``transform`` is a discriminated union by ``kind``: the kinds and their
  options are in the input schema, and a bad step is refused before anything is written.
- get_model_schema is paged (limit/cursor, a component filter) instead of 96 KB at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from core.settings import Settings
from servers.canonical import build_server as build_canonical
from servers.content import build_server as build_content
from tests.servers.clients import memory_session


def _text(result: Any) -> str:
    return " ".join(c.text for c in result.content)


@pytest.mark.parametrize(
    ("arguments", "argument", "words"),
    [
        ({"source_id": "src_x", "limit": 1000}, "limit", "less than or equal to 100"),
        ({"limit": 5}, "source_id", "is required"),
        ({"source_id": "src_x", "limit": "many"}, "limit", "valid integer"),
    ],
)
def test_a_bad_argument_is_one_line_naming_it_and_the_fix(
    workspace: Path, arguments: dict[str, Any], argument: str, words: str
) -> None:
    async def run() -> str:
        async with memory_session(build_content(Settings(home=workspace))) as session:
            result = await session.call_tool("sample_records", arguments)
            assert result.isError
            return _text(result)

    message = anyio.run(run)
    assert "\n" not in message
    assert "validation error" not in message and "errors.pydantic.dev" not in message
    assert "Arguments" not in message  # no generated model name (sample_recordsArguments)
    assert message.startswith("sample_records: ")
    assert f"'{argument}'" in message and words in message
    assert message.endswith("fix it and call again")


def test_every_server_reports_argument_errors_the_same_way(workspace: Path) -> None:
    from servers.common import CapabilityServer
    from tests.servers.test_output_schemas import build, server_modules

    settings = Settings(home=workspace)
    servers = {name: build(name, settings) for name in server_modules()}
    assert all(isinstance(s, CapabilityServer) for s in servers.values())

    async def run() -> str:
        async with memory_session(servers["canonical"]) as session:
            result = await session.call_tool("approve_mapping", {"min_confidence": 3})
            return _text(result)

    message = anyio.run(run)
    assert message.startswith("approve_mapping: argument 'mapping_id' is required")
    assert "'min_confidence' is 3: input should be less than or equal to 1" in message


def test_transform_kinds_are_in_the_input_schema(workspace: Path) -> None:
    async def run() -> dict[str, Any]:
        async with memory_session(build_canonical(Settings(home=workspace))) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            return tools["update_field_mapping"].inputSchema

    schema = anyio.run(run)
    transform = schema["properties"]["transform"]
    steps = next(option for option in transform["anyOf"] if option.get("type") == "array")
    union = steps["items"]
    assert union["discriminator"]["propertyName"] == "kind"
    kinds = {
        name: schema["$defs"][ref.rsplit("/", 1)[-1]]
        for name, ref in union["discriminator"]["mapping"].items()
    }
    assert set(kinds) == {
        "date",
        "money",
        "code",
        "name_split",
        "join",
        "text",
        "default",
        "constant",
    }
    assert "format" in kinds["date"]["properties"] and "format" in kinds["date"]["required"]
    assert "table" in kinds["code"]["properties"]


def test_a_bad_transform_step_is_refused_naming_the_kind(workspace: Path) -> None:
    async def run() -> str:
        async with memory_session(build_canonical(Settings(home=workspace))) as session:
            result = await session.call_tool(
                "update_field_mapping",
                {
                    "mapping_id": "map_x",
                    "target": "policy_core.effective_date",
                    "transform": [{"kind": "datum", "format": "YYYYMMDD"}],
                },
            )
            assert result.isError
            return _text(result)

    message = anyio.run(run)
    assert "\n" not in message
    assert "'transform.0'" in message and "'date'" in message and "'datum'" in message


def test_get_model_schema_is_paged(workspace: Path) -> None:
    async def run() -> list[dict[str, Any]]:
        pages = []
        async with memory_session(build_canonical(Settings(home=workspace))) as session:
            cursor = None
            while True:
                arguments: dict[str, Any] = {"limit": 40}
                if cursor:
                    arguments["cursor"] = cursor
                found = (await session.call_tool("get_model_schema", arguments)).structuredContent
                pages.append(found)
                cursor = found["next_cursor"]
                if cursor is None:
                    break
            only = await session.call_tool(
                "get_model_schema", {"component": "payments", "limit": 200}
            )
            pages.append(only.structuredContent)
            wrong = await session.call_tool("get_model_schema", {"component": "nope"})
            assert wrong.isError and "policy_core" in _text(wrong)
        return pages

    pages = anyio.run(run)
    *paged, payments = pages
    from knowledge.canonical import fields

    catalogue = [f.path for f in fields("policy_v1")]
    assert [f["path"] for p in paged for f in p["fields"]] == catalogue
    assert all(p["total"] == len(catalogue) for p in paged)
    assert paged[0]["note"] and "cursor=" in paged[0]["note"]
    assert max(len(json.dumps(p)) for p in paged) < 40_000  # a page, not the 96 KB schema
    assert paged[0]["resource"] == "canonical://policy/v1"
    assert {f["path"].split(".")[0] for f in payments["fields"]} == {"payments"}
    assert "policy_core" in paged[0]["components"]
