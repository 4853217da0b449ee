"""MCP client wiring: IDE-format configs, one session per server, broken servers named."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from agents.mcp_client import (
    CapabilityMissing,
    McpHub,
    ToolFailed,
    builtin_specs,
    fit_arguments,
    load_server_config,
    merge_specs,
)
from core.errors import ConfigError
from core.settings import Settings


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("{not json", "cfg.json:1:2", "not valid JSON"),
        ('{"servers": {}}', "cfg.json", "missing key 'mcpServers'"),
        ('{"mcpServers": {"x": {"args": ["a"]}}}', "mcpServers.x.command", "needs 'command'"),
        (
            '{"mcpServers": {"x": {"command": "c", "args": "a b"}}}',
            "mcpServers.x.args",
            "must be a list of strings",
        ),
        (
            '{"mcpServers": {"x": {"command": "c", "env": {"K": 1}}}}',
            "mcpServers.x.env",
            "string values",
        ),
        ('{"mcpServers": {"x": {"command": "c", "cmd": "d"}}}', "mcpServers.x", "unknown key"),
    ],
)
def test_a_malformed_config_names_file_key_and_problem(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_server_config(path)
    assert where in caught.value.message and problem in caught.value.message


def test_an_extra_named_like_a_builtin_replaces_it_and_keeps_its_workspace(
    tmp_path: Path, agent_settings: Settings
) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "content": {"command": "my-content"},
                    "weather": {"command": "w", "args": ["-v"]},
                }
            }
        )
    )
    specs = merge_specs(builtin_specs(agent_settings)[0], load_server_config(path))
    by_name = {s.name: s for s in specs}
    assert by_name["content"].command == "my-content"
    assert by_name["content"].env["DATA_MASH_HOME"] == str(agent_settings.home.resolve())
    assert by_name["weather"].args == ("-v",)


def test_fit_arguments_drops_unknown_and_names_missing_required() -> None:
    schema = {"properties": {"source_id": {}, "limit": {}}, "required": ["source_id"]}
    assert fit_arguments("t", schema, {"source_id": "s", "mapping_id": "m"}) == {"source_id": "s"}
    with pytest.raises(CapabilityMissing, match=r"needs argument\(s\) \['source_id'\]"):
        fit_arguments("t", schema, {"mapping_id": "m"})


def test_one_session_per_server_and_broken_servers_are_named(
    tmp_path: Path, agent_settings: Settings, legacy_csv: Path
) -> None:
    """content starts over stdio; an extra whose command does not exist and one that exits at
    once are reported by name (also as events), and content keeps working."""
    crash = tmp_path / "crash.py"
    crash.write_text("import sys\nsys.stderr.write('boom: no licence key\\n')\nsys.exit(3)\n")
    path = tmp_path / "cfg.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "ghost": {"command": str(tmp_path / "no-such-binary")},
                    "crashy": {"command": sys.executable, "args": [str(crash)]},
                }
            }
        )
    )
    builtins, absent = builtin_specs(agent_settings)
    specs = [s for s in builtins if s.name == "content"] + load_server_config(path)
    events: list[tuple[str, str]] = []

    async def run() -> None:
        async with McpHub(
            specs,
            log_dir=tmp_path / "logs",
            absent={"waves": "not installed"},
            start_timeout=30,
            events=lambda e, name, d: events.append((e, name)),
        ) as hub:
            assert hub.status()["not_started"] == ["content", "ghost", "crashy"]
            await hub.start()
            status = hub.status()
            assert set(status["connected"]) == {"content"}
            assert set(status["failed"]) == {"ghost", "crashy", "waves"}
            assert "boom: no licence key" in status["failed"]["crashy"]
            assert ("server_failed", "ghost") in events and ("server_failed", "crashy") in events
            session = hub.sessions["content"]
            ingested = await hub.call(
                "ingest_file",
                {"path": str(legacy_csv), "format": "csv", "options": {"delimiter": ";"}},
            )
            listed = await hub.call("list_sources", {"unknown_arg": 1})
            assert hub.sessions["content"] is session  # the same session for every call
            assert listed["sources"][0]["source_id"] == ingested["source_id"]
            with pytest.raises(CapabilityMissing, match="the waves server is unavailable"):
                await hub.call("plan_waves", {}, server="waves")
            with pytest.raises(ToolFailed, match="no source 'src_nope'"):
                await hub.call("profile_source", {"source_id": "src_nope"})

    anyio.run(run)


def test_call_as_validates_a_result_into_its_contract(tmp_path: Path) -> None:
    """A journey reads a tool result through its contract model; a result of another shape
    (a renamed field) is one clear error naming the model and the field, not a KeyError later."""
    from tools.routing.contracts import RulesValidation

    results = iter(
        [
            {"ok": True, "errors": [], "warnings": []},
            {"valid": True, "errors": [], "warnings": []},  # 'ok' renamed
        ]
    )

    class Replies(McpHub):
        async def call(
            self, tool: str, arguments: dict[str, Any], *, server: str | None = None
        ) -> dict[str, Any]:
            return next(results)

    async def run() -> None:
        hub = Replies([], log_dir=tmp_path)
        found = await hub.call_as("validate_rules", {"rules": "x"}, RulesValidation)
        assert isinstance(found, RulesValidation) and found.ok
        with pytest.raises(ToolFailed) as caught:
            await hub.call_as("validate_rules", {"rules": "x"}, RulesValidation)
        assert caught.value.tool == "validate_rules"
        assert "RulesValidation contract at ok: Field required" in caught.value.message

    anyio.run(run)
