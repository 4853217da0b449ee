"""Readiness checks and the doctor's report, on a real store and a store that is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from core.settings import Settings
from tests.servers.clients import free_port
from tools.health import doctor, liveness, readiness


def _down(workspace: Path, password: str = "") -> Settings:
    secret = f":{password}" if password else ""
    return Settings(
        home=workspace,
        db_url=f"postgresql+psycopg://postgres{secret}@127.0.0.1:{free_port()}/nowhere",
    )


def test_ready_workspace_passes(settings: Settings) -> None:
    from core.store import open_store

    report = readiness(settings, open_store(settings))
    assert report.status == "pass", report.to_json()
    assert {
        "store:connectivity",
        "workspace:writable",
        "vector_index:availability",
        "target:new_platform",
        "llm:reachability",
    } <= set(report.checks)
    body = report.to_json()
    assert body["checks"]["store:connectivity"][0]["observedUnit"] == "ms"
    assert report.http_status == 200
    assert liveness().to_json() == {"status": "pass", "description": "data-mash", "checks": {}}


def test_store_down_fails_with_a_reason(workspace: Path) -> None:
    report = readiness(_down(workspace))
    assert report.status == "fail" and report.http_status == 503
    (store,) = report.checks["store:connectivity"]
    assert store.status == "fail" and store.output


def test_doctor_reports_versions_settings_and_missing_without_secrets(workspace: Path) -> None:
    settings = Settings(
        home=workspace,
        openai_api_key="sk-doctor-secret-123456",
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
    )
    report = doctor(settings)
    text = json.dumps(report.to_json())
    assert "sk-doctor-secret-123456" not in text
    assert report.settings["openai_api_key"] == "set"
    assert report.versions["python"] and report.versions["mcp"]
    # An LLM that does not answer is a warning, not a failure: journeys still run as wizards.
    assert report.checks["llm:reachability"][0].status == "warn"
    assert any("DATA_MASH_DB_URL" in note for note in report.missing)
    down = doctor(_down(workspace, "pw-doctor-777"))
    assert "pw-doctor-777" not in json.dumps(down.to_json())


def test_doctor_command(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    assert main(["doctor", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"checks", "versions", "settings", "missing", "status"} <= set(out)
    assert out["checks"]["store:connectivity"][0]["status"] == "pass"
    monkeypatch.setenv("DATA_MASH_DB_URL", _down(workspace).db_url or "")
    assert main(["doctor", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["checks"]["store:connectivity"][0]["status"] == "fail"
    assert main(["doctor"]) == 1
    assert "store:connectivity" in capsys.readouterr().out
