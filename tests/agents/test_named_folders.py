"""The servers a journey starts may read the files the user names, and nothing else by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.mcp_client import server_env, with_named_folders
from cli.main import main
from core.settings import Settings


def test_named_files_and_source_config_folders_become_allowed_roots(
    tmp_path: Path, workspace: Path
) -> None:
    legacy = tmp_path / "legacy"
    (legacy / "billing").mkdir(parents=True)
    (legacy / "billing" / "b.csv").write_text("a,b\n1,2\n")
    config = legacy / "sources.yaml"
    config.write_text(
        "version: 1\nsources:\n  - {name: b, system: billing, path: billing/b.csv, format: csv}\n"
    )
    other = tmp_path / "other" / "x.csv"
    settings = Settings(home=workspace)
    named = with_named_folders(
        settings, {"source_config": str(config), "files": [{"path": str(other)}]}
    )
    assert set(named.allowed_roots) == {legacy, legacy / "billing", other.parent}
    env = json.loads(server_env(named)["DATA_MASH_ALLOWED_ROOTS"])
    assert str(legacy / "billing") in env
    assert with_named_folders(settings, {}).allowed_roots == []  # nothing named: workspace only


def test_mcp_config_passes_the_named_roots(
    tmp_path: Path,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_ALLOWED_ROOTS", json.dumps([str(tmp_path)]))
    assert main(["mcp-config", "--client", "claude", "--json"]) == 0
    servers = json.loads(capsys.readouterr().out)["claude"]["config"]["mcpServers"]
    env = next(iter(servers.values()))["env"]
    # The named folders first (relative paths resolve against the first), then the workspace,
    # which a server always allows: written out so the client's config says what is served.
    assert json.loads(env["DATA_MASH_ALLOWED_ROOTS"]) == [
        str(tmp_path.resolve()),
        str(workspace.resolve()),
    ]
