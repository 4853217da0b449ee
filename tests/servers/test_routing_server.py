"""The routing MCP server through an in-memory client session."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import anyio
import pyarrow as pa
import pytest
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult, TextResourceContents
from sqlalchemy import Engine

from core.errors import NotFoundError
from core.settings import Settings
from servers.routing import build_server
from tools.routing.samples import sample_batches

RULES = """\
routing_rules:
  version: "1.0.0"
  rules:
    - name: "migrated_policies"
      condition: {field: "policy_id", operator: "in", value: ["A*", "B*", "C*"]}
      target: "new_platform"
      priority: 1
    - name: "data_quality_issues"
      condition: {field: "data_quality_score", operator: "less_than", value: 0.8}
      target: "data_quality_queue"
      priority: 3
    - name: "default_route"
      condition: true
      target: "coexistence_bridge"
      priority: 99
"""
TOOLS = {
    "validate_rules",
    "store_rule_set",
    "list_stored_rule_sets",
    "evaluate_policy",
    "route_source",
    "routing_distribution",
    "reroute_policy",
    "routing_history",
    "diff_rule_sets",
}


def _batches(
    _engine: Engine, _settings: Settings, source_id: str, _tenant: str
) -> Iterable[pa.RecordBatch]:
    if source_id != "s1":
        raise NotFoundError(f"no source '{source_id}'", fix="list them with: data-mash sources")
    return list(sample_batches(400, 100))


def _data(result: CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


def _run(settings: Settings, scenario: Any) -> None:
    server = build_server(settings, batches_for=_batches)

    async def go() -> None:
        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)

        async with create_connected_server_and_client_session(server) as client:
            await scenario(client, progress, on_progress)

    anyio.run(go)


def test_every_tool_end_to_end(settings: Settings) -> None:
    async def scenario(client: Any, progress: list[float], on_progress: Any) -> None:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == TOOLS
        for tool in tools:
            assert tool.annotations is not None and tool.annotations.readOnlyHint is not None
            assert tool.outputSchema is not None and tool.description
        by_name = {t.name: t for t in tools}
        assert by_name["routing_distribution"].annotations.readOnlyHint is True
        assert by_name["route_source"].annotations.readOnlyHint is False

        valid = _data(await client.call_tool("validate_rules", {"rules": RULES}))
        assert valid["ok"] and valid["errors"] == []
        stored = _data(await client.call_tool("store_rule_set", {"rules": RULES, "name": "r"}))
        assert stored["version"] == 1
        changed = RULES.replace('"B*", ', "")
        assert (
            _data(await client.call_tool("store_rule_set", {"rules": changed, "name": "r"}))[
                "version"
            ]
            == 2
        )
        listed = _data(await client.call_tool("list_stored_rule_sets", {"limit": 1}))
        assert listed["total"] == 2 and listed["next_cursor"] == "1"

        decision = _data(
            await client.call_tool(
                "evaluate_policy",
                {
                    "rule_set": "r@1",
                    "policy": {"policy_core.policy_id": "B7", "data_quality_score": 0.5},
                },
            )
        )
        assert (decision["target"], decision["rule"]) == ("new_platform", "migrated_policies")

        dry = _data(
            await client.call_tool("routing_distribution", {"source_id": "s1", "rule_set": "r@1"})
        )
        assert dry["dry_run"] and dry["routed"] == 400
        routed = _data(
            await client.call_tool(
                "route_source",
                {"source_id": "s1", "rule_set": "r@1"},
                progress_callback=on_progress,
            )
        )
        assert routed["by_target"] == dry["by_target"] and routed["moved"] == 400
        assert progress and progress[-1] == 400

        policy = routed["sample_per_rule"]["migrated_policies"][0]
        moved = _data(
            await client.call_tool(
                "reroute_policy",
                {"policy_id": policy, "target": "legacy_batch", "reason": "broker request"},
            )
        )
        assert moved["previous"] == {policy: "new_platform"}
        history = _data(await client.call_tool("routing_history", {"policy_id": policy}))
        assert [m["to_system"] for m in history["moves"]] == ["new_platform", "legacy_batch"]
        assert [e["operation"] for e in history["entries"]] == ["route", "reroute"]

        diff = _data(
            await client.call_tool("diff_rule_sets", {"old": "r@1", "new": "r", "source_id": "s1"})
        )
        assert diff["old"] == "r v1" and diff["new"] == "r v2"
        assert diff["changed_count"] == 50 and list(diff["changed"]) == ["migrated_policies"]

        contents = (await client.read_resource("rules://default/r/1")).contents
        assert isinstance(contents[0], TextResourceContents) and contents[0].text == RULES

    _run(settings, scenario)


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        ("validate_rules", {"rules": ""}, "rules"),
        ("store_rule_set", {"rules": "routing_rules: [", "name": "x"}, "problem"),
        ("evaluate_policy", {"rule_set": "nope", "policy": {}}, "no stored rule set 'nope'"),
        ("route_source", {"source_id": "zz", "rule_set": "r"}, "no source 'zz'"),
        (
            "reroute_policy",
            {"policy_id": "P1", "target": "legacy_batch", "reason": "because"},
            "has not been routed",
        ),
        (
            "reroute_policy",
            {"policy_id": "P1", "target": "Nowhere", "reason": "because"},
            "no migration target 'Nowhere'",
        ),
        ("routing_history", {"policy_id": "P1"}, "nothing is recorded"),
        ("routing_history", {"policy_id": "P1", "cursor": "x"}, "nothing is recorded"),
        ("list_stored_rule_sets", {"limit": 0}, "limit"),
    ],
)
def test_bad_input_is_a_tool_error(
    settings: Settings, tool: str, args: dict[str, Any], message: str
) -> None:
    async def scenario(client: Any, _progress: list[float], _on: Any) -> None:
        result = await client.call_tool(tool, args)
        assert result.isError
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert message in text
        assert "Traceback" not in text

    _run(settings, scenario)


def test_invalid_rules_report_lines(settings: Settings) -> None:
    async def scenario(client: Any, _progress: list[float], _on: Any) -> None:
        result = await client.call_tool(
            "validate_rules", {"rules": RULES.replace('"in"', '"inside"')}
        )
        data = result.structuredContent
        assert data is not None and not data["ok"]
        assert data["errors"][0]["line"] == 5 and "inside" in json.dumps(data["errors"])

    _run(settings, scenario)
