"""`data-mash token create|list|revoke` from the command line (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from core.settings import Settings
from core.store import open_store
from tools.access import TokenStore


@pytest.fixture(autouse=True)
def _workspace_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_create_list_revoke(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = _json(capsys, "token", "create", "--tenant", "acme", "--role", "approver")
    assert created["tenant"] == "acme" and created["role"] == "approver"
    tokens = TokenStore(open_store(Settings(home=workspace)))
    assert tokens.verify(created["token"]).tenant == "acme"
    listed = _json(capsys, "token", "list", "--tenant", "acme")
    assert [t["token_id"] for t in listed["tokens"]] == [created["token_id"]]
    assert "token" not in listed["tokens"][0]
    assert _json(capsys, "token", "list")["tokens"] == []  # the default tenant has none
    assert len(_json(capsys, "token", "list", "--all-tenants")["tokens"]) == 1
    _json(capsys, "token", "revoke", created["token_id"])
    assert tokens.verify(created["token"]) is None


def test_bad_role_and_unknown_token_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--role", "boss"]) == 1
    assert "'boss' is not a role" in capsys.readouterr().err
    assert main(["token", "revoke", "nope"]) == 1
    assert "no token 'nope'" in capsys.readouterr().err
