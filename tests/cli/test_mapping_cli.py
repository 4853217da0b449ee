"""From a staged estate source to approved mapping, canonical records and an export, by CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main


@pytest.fixture(autouse=True)
def _env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evals.estate import generate_estate

    out = tmp_path_factory.mktemp("estate") / "estate"
    generate_estate(out, policies=400, seed=9)
    return out


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_propose_approve_validate_run_export(
    estate: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "life", "--source-config", str(estate / "sources.yaml"), "--json"]) == 0
    source_id = _json(capsys)["sources"][0]["source_id"]
    assert main(["map-to-canonical", source_id, "--json"]) == 0
    proposal = _json(capsys)
    assert {"mapping_id", "mappings", "unmapped"} <= set(proposal)
    truth = json.loads((estate / "ground_truth" / "mapping.json").read_text())["life"]
    by_source = {m["source"]: m for m in proposal["mappings"]}
    # The policy number and the Julian issue date are found, with the right transform.
    assert by_source["CONTRNO"]["target"] == truth["CONTRNO"] == "policy_core.policy_id"
    assert by_source["ISSUEDT"]["transform"] == [{"kind": "date", "format": "YYYYDDD"}]
    for m in proposal["mappings"]:
        assert 0.0 <= m["confidence"] <= 1.0 and "signals" in m["evidence"]
    mapping_id = proposal["mapping_id"]

    # Approval is refused until the mandatory fields are mapped, and the refusal lists them.
    assert main(["approve-mapping", mapping_id]) == 1
    assert "policy_core.effective_date" in capsys.readouterr().err
    # The engineer's review: a life contract takes effect on its issue date, and every
    # coverage of the life system is life cover.
    assert (
        main(
            [
                "mapping",
                "set-field",
                mapping_id,
                "policy_core.effective_date",
                "--source",
                "ISSUEDT",
                "--transform",
                '{"kind": "date", "format": "YYYYDDD"}',
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "mapping",
                "set-field",
                mapping_id,
                "coverage_sections[].coverage_type",
                "--transform",
                '{"kind": "constant", "value": "life"}',
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["approve-mapping", mapping_id, "--json"]) == 0
    approved = _json(capsys)
    assert approved["status"] == "approved" and approved["fields"]
    assert main(["validate-mapping", mapping_id, "--json"]) == 0
    report = _json(capsys)
    assert report["valid"] + report["invalid"] == report["records"] > 0
    assert report["invalid"] > 0  # the estate injects invalid dates and missing values

    assert main(["mapping", "run", mapping_id, "--json"]) == 0
    run = _json(capsys)
    assert (run["valid"], run["invalid"]) == (report["valid"], report["invalid"])
    out = tmp_path / "export"
    assert main(["export", mapping_id, "--format", "json,jsonl", "--out", str(out), "--json"]) == 0
    exported = _json(capsys)
    assert {Path(f["path"]).suffix for f in exported["files"]} >= {".json", ".jsonl"}
    assert main(["export", mapping_id, "--format", "json", "--out", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_edit_reject_and_bad_inputs(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "life", "--source-config", str(estate / "sources.yaml"), "--json"]) == 0
    source_id = _json(capsys)["sources"][0]["source_id"]
    assert main(["map-to-canonical", source_id, "--json"]) == 0
    mapping_id = _json(capsys)["mapping_id"]
    # Rejecting the policy id makes approval impossible, and the refusal names it.
    assert main(["mapping", "set-field", mapping_id, "policy_core.policy_id", "--unmap"]) == 0
    capsys.readouterr()
    assert main(["approve-mapping", mapping_id]) == 1
    assert "policy_core.policy_id" in capsys.readouterr().err
    assert (
        main(["mapping", "set-field", mapping_id, "policy_core.nonsense", "--source", "CONTRNO"])
        == 1
    )
    assert "policy_core.nonsense" in capsys.readouterr().err
    assert (
        main(
            [
                "mapping",
                "set-field",
                mapping_id,
                "policy_core.policy_id",
                "--source",
                "CONTRNO",
                "--transform",
                "{not json",
            ]
        )
        == 1
    )
    assert "--transform is not JSON" in capsys.readouterr().err
    assert main(["export", mapping_id, "--format", "csv"]) == 1
    assert "unknown export format csv" in capsys.readouterr().err


def test_keyless_source_is_flagged_and_nothing_auto_accepted(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The agency workbook's Summary sheet (premium by state) has no policy key.
    sources = {}
    for name in ("agency_summary", "agency_policies"):
        assert (
            main(["ingest", name, "--source-config", str(estate / "sources.yaml"), "--json"]) == 0
        )
        sources[name] = _json(capsys)["sources"][0]["source_id"]
    assert main(["map-to-canonical", sources["agency_summary"], "--json"]) == 0
    proposal = _json(capsys)
    assert proposal["keyless"] and "key" in proposal["note"]
    assert all(m["confidence"] < proposal["threshold"] for m in proposal["mappings"])
    assert main(["map-to-canonical", sources["agency_policies"], "--json"]) == 0
    keyed = _json(capsys)
    assert not keyed["keyless"] and keyed["note"] is None
    assert main(["map-to-canonical", sources["agency_summary"]]) == 0
    assert "note:" in capsys.readouterr().out
