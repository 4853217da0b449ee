"""`data-mash demo`: the estate table and JSON counts that match the files on disk.

The JSON report read here is the session's shared demo run (tests/cli/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from evals.estate import load_manifest
from tests.cli.conftest import DemoRun


@pytest.fixture(autouse=True)
def _workspace_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)


def test_demo_json_counts_match_the_generated_estate(demo_run: DemoRun) -> None:
    assert demo_run.code == 0
    report = demo_run.report
    assert {"estate", "sources", "mapping", "waves", "reconciliation"} <= set(report)
    estate = report["estate"]
    assert estate["policies"] == 300 and len(estate["systems"]) == 8
    manifest = load_manifest(Path(estate["path"]))
    for system in estate["systems"]:
        expected = sum(manifest.source(n).records for n in system["sources"])
        assert system["records"] == expected
    # Every source was ingested and profiled, with the manifest's record counts.
    ingested = {s["name"]: s for s in report["sources"]["sources"]}
    assert set(ingested) == {s.name for s in manifest.sources}
    for name, row in ingested.items():
        assert row["records"] == manifest.source(name).records, name
    # The profiler finds exactly the duplicated policy ids injected into the policy master.
    problems = [
        json.loads(line)
        for line in (Path(estate["path"]) / "ground_truth" / "problems.jsonl")
        .read_text()
        .splitlines()
    ]
    injected = sum(
        1 for p in problems if p["source"] == "policy_master" and p["kind"] == "duplicate_id"
    )
    assert ingested["policy_master"]["issues"].get("duplicate_keys", 0) == injected
    # Problems per system add up to the per-record ground truth file.
    lines = (Path(estate["path"]) / "ground_truth" / "problems.jsonl").read_text().splitlines()
    assert estate["injected_problems"] == len(lines)


def test_demo_table_lists_eight_systems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--policies", "300"]) == 0
    out = capsys.readouterr().out
    for system in (
        "policy_master",
        "billing",
        "claims",
        "agency",
        "correspondence",
        "life",
        "acquired",
        "endorsements",
    ):
        assert system in out


def test_demo_rejects_negative_size_and_writes_nothing(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--policies", "-1"]) == 1
    assert "--policies must be at least 1" in capsys.readouterr().err
    assert not (workspace / "estates").exists()


def test_demo_runs_wave_zero_end_to_end_and_reconciles(demo_run: DemoRun) -> None:
    assert demo_run.code == 0
    report = demo_run.report
    mapping = report["mapping"]
    assert set(mapping["approved"]) >= {"policy_master", "acquired_policy"}
    # Top-1 is scored as the estate evaluator scores it (the ranking's first candidate; columns
    # that should stay unmapped are right when not auto-accepted), so it matches the README.
    assert mapping["top1"] >= 0.9
    by_source = {row["source"]: row for row in mapping["sources"]}
    assert by_source["agency_summary"]["auto_accepted"] == 0  # no key column: nothing accepted
    assert by_source["agency_summary"]["top1"] == 1.0
    assert report["routing"]["routed"] > 0
    wave0 = report["waves"]["wave0"]
    assert wave0["status"] == "completed" and wave0["migrated"] > 0
    assert all(status == "completed" for status in wave0["steps"].values())
    # Policies the wave's rules send elsewhere are decisions, not failures.
    planned = report["waves"]["waves"][0]["policy_count"]
    assert wave0["failed"] == 0 and wave0["migrated"] + wave0["routed_elsewhere"] == planned
    recon = report["reconciliation"]
    assert recon["passed"] and recon["matched"] == recon["source_count"] == wave0["migrated"]


def test_a_demo_whose_wave_did_not_complete_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import evals.demo

    def compensated(*_: object, **__: object) -> dict[str, object]:
        wave0 = {"wave_id": "w0", "status": "compensated", "error": "validate failed: boom"}
        return {
            "estate": {},
            "sources": {},
            "mapping": {},
            "routing": {},
            "waves": {"wave0": wave0},
            "reconciliation": {},
        }

    monkeypatch.setattr(evals.demo, "estate_step", lambda *_, **__: None)
    monkeypatch.setattr(evals.demo, "run_demo", compensated)
    assert main(["demo", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["waves"]["wave0"]["status"] == "compensated"
    assert "wave 0 ended compensated: validate failed: boom" in captured.err
