"""The command-line contract: --help, --version, --json, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from core.settings import Settings
from core.store import open_store
from tools.audit import AuditLog


@pytest.fixture(autouse=True)
def _workspace_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # help text is wrapped to the terminal
    for word in ("demo", "replay", "--json", "--tenant", "Exit codes", "DATA_MASH_HOME"):
        assert word in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("data-mash ")


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_replay_json_is_one_document(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    AuditLog(open_store(Settings(home=workspace))).record("content", "ingest", outcome={"n": 1})
    assert main(["replay", "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["replayed"] == 1 and data["entries"][0]["operation"] == "ingest"
    assert out.count("\n") == 1


def test_global_and_command_level_json_and_tenant(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    AuditLog(open_store(Settings(home=workspace)), tenant="acme").record("x", "y")
    assert main(["--json", "--tenant", "acme", "replay"]) == 0
    assert json.loads(capsys.readouterr().out)["replayed"] == 1
    assert main(["replay", "--json", "--tenant", "other"]) == 0
    assert json.loads(capsys.readouterr().out)["replayed"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "--since", "2026-11-23", "--until", "2026-11-01"], "is after --until"),
        (["replay", "--since", "yesterday-ish"], "--since: 'yesterday-ish' is not a time"),
        (["demo", "--policies", "-1"], "--policies must be at least 1"),
    ],
)
def test_user_errors_are_one_line_exit_1(
    args: list[str], message: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_db_url_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_MASH_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert main(["replay"]) == 1
    assert "cannot connect to the store" in capsys.readouterr().err
    assert not (workspace / "store.sqlite").exists()


def test_unwritable_workspace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("DATA_MASH_HOME", str(blocker / "ws"))
    assert main(["replay"]) == 1
    assert "cannot create the workspace" in capsys.readouterr().err


def test_bad_tenant_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The error names where the bad tenant came from: the option typed, or the environment.
    assert main(["replay", "--tenant", "a b"]) == 1
    err = capsys.readouterr().err
    assert "--tenant: 'a b' is not a tenant id" in err and "DATA_MASH_TENANT" not in err
    assert main(["--tenant", "../escaped", "sources"]) == 1
    assert "--tenant: '../escaped' is not a tenant id" in capsys.readouterr().err
    monkeypatch.setenv("DATA_MASH_TENANT", "a b")
    assert main(["replay"]) == 1
    assert "DATA_MASH_TENANT" in capsys.readouterr().err


def test_audit_and_locate_of_unknown_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "P404", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"policy_id": "P404", "entries": []}
    # locate answers "where is it": an id nothing knows about is a user error (issue 14, item 12)
    assert main(["locate", "P404", "--json"]) == 1
    assert "nothing is recorded about policy 'P404'" in capsys.readouterr().err
