"""`validate-mapping` says why records are invalid (reasons, counts, example keys) and
`--check` fails a CI step when any is (issue 14, item 14); `mapping run` reports the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from core.settings import Settings
from core.store import open_store
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tools.canonical import approve_mapping, create_mapping


@pytest.fixture
def mapping_id(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    settings = Settings(home=workspace)
    engine = open_store(settings)
    source_id = stage_source(engine, settings, policy_table(100, bad_every=7))
    mapping = create_mapping(engine, source_id, BASE_RULES).mapping_id
    engine.dispose()
    return mapping


def test_reasons_in_json_and_on_the_terminal(
    mapping_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate-mapping", mapping_id, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["invalid"]) == (86, 14)
    by_field = {r["path"]: r for r in report["reasons"]}
    status = by_field["policy_core.status"]
    assert status["records"] == 14 and "'ZZ' is not one of" in status["message"]
    assert status["examples"] == ["P0000006", "P0000013", "P0000020"]
    assert by_field["rating_components.premium_amount"]["kind"] == "greater_than_equal"

    assert main(["validate-mapping", mapping_id]) == 0
    out = capsys.readouterr().out
    assert "Top reasons records are invalid" in out and "P0000006" in out
    assert "{'row'" not in out  # no raw Python dicts


def test_check_exits_1_when_any_record_is_invalid(
    mapping_id: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate-mapping", mapping_id, "--check", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["invalid"] == 14
    assert "14 of 100 records" in captured.err and captured.err.count("\n") == 1


def test_mapping_run_reports_why_records_were_quarantined(
    mapping_id: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = open_store(Settings(home=workspace))
    approve_mapping(engine, mapping_id)
    engine.dispose()
    assert main(["mapping", "run", mapping_id, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["invalid"] == 14
    assert {r["path"] for r in first["reasons"]} == {
        "policy_core.status",
        "rating_components.premium_amount",
    }
    # A repeat run finds every batch done and still says why.
    assert main(["mapping", "run", mapping_id, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["reasons"] == first["reasons"]


def test_approve_on_a_terminal_lists_low_fields_and_asks(
    mapping_id: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    from cli import confirm

    monkeypatch.setenv("COLUMNS", "200")  # one table row per field
    monkeypatch.setattr(confirm, "interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(["approve-mapping", mapping_id]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "2 field(s) proposed below the auto-accept threshold" in err
    assert "policy_core.effective_date" in err and "rating_components.premium_amount" in err
    assert "not confirmed" in err
    assert main(["mapping", "show", mapping_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "draft"

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert main(["approve-mapping", mapping_id, "--json"]) == 0
    approved = json.loads(capsys.readouterr().out)
    assert approved["status"] == "approved"
    assert all(f["confirmed_by"] for f in approved["fields"] if f["status"] != "unmapped")


def test_approve_with_yes_does_not_ask(
    mapping_id: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    from cli import confirm

    monkeypatch.setattr(confirm, "interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["approve-mapping", mapping_id, "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "approved"
