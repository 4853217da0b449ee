"""The demo tells the truth (issue 14, item 18): quarantined counts come with their reasons and
a re-run in the same workspace works (a failed wave exits 1: tests/cli/test_demo_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from tests.cli.conftest import DemoRun


@pytest.fixture(autouse=True)
def _env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)


def test_reasons_and_rerun(
    demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first run is the session's shared one (tests/cli/conftest.py); the re-run goes into
    # its workspace.
    first, err = demo_run.report, demo_run.err
    assert demo_run.code == 0
    assert first["problems"] == [] and err == ""
    master = next(r for r in first["mapping"]["sources"] if r["source"] == "policy_master")
    assert master["canonical_invalid"] > 0
    # The mainframe master's coverage codes have no value mapping: that is the top reason.
    top = master["reasons"][0]
    assert top["path"] == "coverage_sections[].coverage_type"
    assert top["message"].split(" ")[0] in {"'PRP'", "'CMP'", "'MED'"}
    assert len(top["examples"]) == 3
    assert sum(r["records"] for r in master["reasons"]) >= master["canonical_invalid"] * 0.9
    wave0 = first["waves"]["wave0"]
    assert wave0["status"] == "completed" and first["waves"]["rolled_back"] == []

    # Again in the same workspace: the earlier wave 0 is rolled back first, the new one runs.
    monkeypatch.setenv("DATA_MASH_HOME", str(demo_run.home))
    assert main(["demo", "--policies", "300", "--seed", "7", "--json"]) == 0
    captured = capsys.readouterr()
    second, err = json.loads(captured.out), captured.err
    assert second["waves"]["rolled_back"] == [wave0["wave_id"]] and err == ""
    assert second["waves"]["wave0"]["status"] == "completed"
    assert second["reconciliation"]["passed"]


def test_codes_without_a_value_mapping_are_one_line_with_the_fix() -> None:
    from rich.console import Console

    from cli.commands.demo import _reason_lines

    def reason(code: str, n: int) -> dict:
        return {
            "path": "coverage_sections[].coverage_type",
            "kind": "literal_error",
            "message": f"'{code}' is not one of: life, health, property",
            "records": n,
            "examples": ["P1"],
        }

    console = Console(record=True, width=400)
    dates = {
        "path": "policy_core.effective_date",
        "kind": "date",
        "message": "20171327 in column EFF_DT is not a date in format YYYYMMDD",
        "records": 1,
        "examples": ["P385"],
    }
    _reason_lines(console, "why:", [reason("PRP", 78), dates, reason("MED", 36)], "map_1")
    lines = console.export_text().splitlines()
    assert (
        lines[1]
        .strip()
        .startswith(
            "coverage_sections[].coverage_type: codes PRP (78 records), MED (36 records) have no "
            "value mapping to the canonical values; map them with: "
            "data-mash mapping set-field map_1"
        )
    )
    assert lines[2].strip() == (
        "1 x policy_core.effective_date: 20171327 in column EFF_DT is not a date in format "
        "YYYYMMDD, e.g. P385"
    )
    assert len(lines) == 3
