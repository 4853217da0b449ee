"""Tenants and paths are confined at every MCP door (real in-memory client sessions).

Crafted tenants (``../../escaped``, absolute, too long) are refused by every server before
anything is written; a server started for one tenant serves only that tenant; every path
argument and path option is confined to the allowed roots, which default to the workspace
alone (never the working directory, never ``/``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server.fastmcp import FastMCP

from core.paths import allowed_roots
from core.settings import Settings
from servers import canonical, content, governance, routing, waves
from tests.servers.clients import memory_session

CSV = "PolicyNo;Premium\nP001;100\nP002;200\n"
RULES = """\
routing_rules:
  version: "1.0"
  rules:
    - name: everything
      priority: 1
      condition: true
      target: NewPlatformAPI
"""
BAD_TENANTS = ["../../escaped", "/tmp/absolute", "a/b", "x" * 65, "..", ""]


def _call(server: FastMCP, tool: str, args: dict[str, Any]) -> Any:
    async def run() -> Any:
        async with memory_session(server) as session:
            return await session.call_tool(tool, args)

    return anyio.run(run)


def _csv(folder: Path) -> Path:
    path = folder / "billing.csv"
    path.write_text(CSV)
    return path


def _ingest_args(path: Path | str) -> dict[str, Any]:
    return {"path": str(path), "format": "csv", "options": {"delimiter": ";", "header": True}}


def _nothing_outside(workspace: Path) -> None:
    outside = workspace.parent
    assert sorted(p.name for p in outside.iterdir() if p.name != workspace.name) in (
        [],
        ["billing.csv"],
        ["outside"],
    )
    assert not (workspace.parent.parent / "escaped").exists()


@pytest.mark.parametrize("tenant", BAD_TENANTS)
def test_ingest_refuses_a_crafted_tenant(workspace: Path, tenant: str) -> None:
    settings = Settings(home=workspace, embedding_provider="none")
    result = _call(
        content.build_server(settings),
        "ingest_file",
        {**_ingest_args(_csv(workspace)), "tenant": tenant},
    )
    assert result.isError
    assert "tenant" in result.content[0].text.lower()
    assert not (workspace / "staging").exists()
    _nothing_outside(workspace)


@pytest.mark.parametrize(
    ("module", "tool", "args"),
    [
        (content, "list_sources", {}),
        (content, "sample_records", {"source_id": "src_x"}),
        (content, "profile_source", {"source_id": "src_x"}),
        (canonical, "map_to_canonical", {"mapping_id": "m1"}),
        (canonical, "suggest_mapping", {"source_id": "src_x"}),
        (routing, "store_rule_set", {"rules": RULES, "name": "r"}),
        (routing, "list_stored_rule_sets", {}),
        (waves, "wave_status", {"wave_id": "w1"}),
        (waves, "plan_waves", {"source_ids": ["src_x"], "target": "new_platform"}),
        (governance, "locate_policy", {"policy_id": "P1"}),
        (governance, "audit_trail", {"policy_id": "P1"}),
    ],
)
@pytest.mark.parametrize("tenant", ["../../escaped", "/abs/olute"])
def test_every_server_refuses_a_crafted_tenant(
    workspace: Path, module: Any, tool: str, args: dict[str, Any], tenant: str
) -> None:
    server = module.build_server(Settings(home=workspace, embedding_provider="none"))
    result = _call(server, tool, {**args, "tenant": tenant})
    assert result.isError, result.content
    assert "tenant" in result.content[0].text.lower()
    _nothing_outside(workspace)


@pytest.mark.parametrize(
    ("module", "tool", "args"),
    [
        (content, "list_sources", {}),
        (content, "sample_records", {"source_id": "src_x"}),
        (canonical, "map_to_canonical", {"mapping_id": "m1"}),
        (routing, "list_stored_rule_sets", {}),
        (waves, "wave_status", {"wave_id": "w1"}),
        (governance, "locate_policy", {"policy_id": "P1"}),
    ],
)
def test_a_server_started_for_a_tenant_serves_only_that_tenant(
    workspace: Path, module: Any, tool: str, args: dict[str, Any]
) -> None:
    server = module.build_server(Settings(home=workspace, tenant="alpha"))
    refused = _call(server, tool, {**args, "tenant": "beta"})
    assert refused.isError
    assert "serves tenant 'alpha' only" in refused.content[0].text


def test_a_pinned_server_serves_its_own_tenant(workspace: Path) -> None:
    settings = Settings(home=workspace, tenant="alpha", embedding_provider="none")
    server = content.build_server(settings)

    async def run() -> None:
        async with memory_session(server) as session:
            ingested = await session.call_tool("ingest_file", _ingest_args(_csv(workspace)))
            assert not ingested.isError, ingested.content
            named = await session.call_tool("list_sources", {"tenant": "alpha"})
            assert named.structuredContent["total"] == 1
            source_id = ingested.structuredContent["source_id"]
            with pytest.raises(Exception, match="alpha"):
                await session.read_resource(f"profile://beta/{source_id}")  # type: ignore[arg-type]

    anyio.run(run)
    assert (workspace / "staging" / "alpha").is_dir()


def test_default_roots_are_the_workspace_only(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    assert allowed_roots([], workspace) == [workspace.resolve()]
    server = content.build_server(Settings(home=workspace, embedding_provider="none"))
    for path in ("/etc/passwd", "../../../../../../../etc/passwd"):
        result = _call(server, "ingest_file", {"path": path, "format": "csv"})
        assert result.isError and "outside the allowed roots" in result.content[0].text
    relative = _call(server, "ingest_file", {"path": "etc/passwd", "format": "csv"})
    assert relative.isError and f"{workspace.resolve()}/etc/passwd" in relative.content[0].text


def test_roots_the_user_names_are_allowed(tmp_path: Path, workspace: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    settings = Settings(home=workspace, allowed_roots=[legacy], embedding_provider="none")
    server = content.build_server(settings)
    result = _call(server, "ingest_file", _ingest_args(_csv(legacy)))
    assert not result.isError, result.content
    outside = tmp_path / "outside"
    outside.mkdir()
    refused = _call(server, "ingest_file", _ingest_args(_csv(outside)))
    assert refused.isError and "outside the allowed roots" in refused.content[0].text


@pytest.mark.parametrize(
    "options",
    [
        {"copybook": "/etc/passwd"},
        {"copybook": "../../../etc/passwd"},
        {"copybooks": ["/etc/passwd"]},
        {
            "copybook_contents": "       01 R.\n          05 A PIC X(4).\n",
            "code_page_file": "/etc/passwd",
        },
    ],
)
def test_cobol_path_options_are_confined(workspace: Path, options: dict[str, Any]) -> None:
    data = workspace / "pol.dat"
    data.write_bytes(b"\xc1\xc2\xc3\xc4" * 4)
    server = content.build_server(Settings(home=workspace, embedding_provider="none"))
    result = _call(
        server,
        "ingest_file",
        {"path": str(data), "format": "cobol", "options": {"encoding": "cp037", **options}},
    )
    assert result.isError and "outside the allowed roots" in result.content[0].text


def test_a_copybook_beside_the_data_file_is_still_found(workspace: Path) -> None:
    folder = workspace / "mainframe"
    folder.mkdir()
    (folder / "REC.cpy").write_text("       01 R.\n          05 A PIC X(4).\n")
    data = folder / "pol.dat"
    data.write_bytes(b"\xc1\xc2\xc3\xc4" * 4)
    server = content.build_server(Settings(home=workspace, embedding_provider="none"))
    result = _call(
        server,
        "ingest_file",
        {
            "path": str(data),
            "format": "cobol",
            "options": {"copybook": "REC.cpy", "encoding": "cp037"},
        },
    )
    assert not result.isError, result.content
    assert result.structuredContent["records"] == 4


@pytest.mark.parametrize("tool", ["validate_rules", "store_rule_set"])
def test_rule_files_outside_the_roots_are_refused(
    tmp_path: Path, workspace: Path, tool: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text(RULES)
    server = routing.build_server(Settings(home=workspace))
    for rules in (str(outside / "x.yaml"), "/etc/passwd", "../outside/x.yaml"):
        result = _call(
            server,
            tool,
            {"rules": rules, "name": "x"} if tool == "store_rule_set" else {"rules": rules},
        )
        assert result.isError, (rules, result.content)
        assert "outside the allowed roots" in result.content[0].text


def test_rule_files_inside_the_workspace_and_rule_text_are_accepted(workspace: Path) -> None:
    (workspace / "rules.yaml").write_text(RULES)
    server = routing.build_server(Settings(home=workspace))
    from_file = _call(server, "validate_rules", {"rules": str(workspace / "rules.yaml")})
    assert not from_file.isError and from_file.structuredContent["ok"]
    stored = _call(server, "store_rule_set", {"rules": RULES, "name": "insurer"})
    assert not stored.isError, stored.content


def test_tenant_folders_never_leave_the_workspace(workspace: Path) -> None:
    from core.errors import InputError
    from tools.canonical.output import output_dir
    from tools.waves.context import WaveContext

    settings = Settings(home=workspace)
    assert output_dir(settings, "acme", "m1", 2).is_relative_to(workspace.resolve())
    with pytest.raises(InputError):
        output_dir(settings, "../../escaped", "m1", 2)
    context = WaveContext.default(None, settings, "acme")  # type: ignore[arg-type]
    assert context.workdir("w1").is_relative_to(workspace.resolve())
    with pytest.raises(InputError):
        WaveContext.default(None, settings, "../x").workdir("w1")  # type: ignore[arg-type]
    assert os.sep not in "acme"


def test_a_stdio_server_started_for_a_tenant_refuses_another(workspace: Path) -> None:
    from tests.servers.clients import stdio_session

    async def run() -> None:
        async with stdio_session(
            "content", workspace, DATA_MASH_TENANT="alpha", DATA_MASH_EMBEDDING_PROVIDER="none"
        ) as session:
            refused = await session.call_tool(
                "sample_records", {"source_id": "s", "tenant": "beta"}
            )
            assert refused.isError and "serves tenant 'alpha' only" in refused.content[0].text
            own = await session.call_tool("list_sources", {"tenant": "alpha"})
            assert not own.isError and own.structuredContent["total"] == 0

    anyio.run(run)
