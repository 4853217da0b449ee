"""``data-mash relate`` on an ingested estate: the JSON contract, confirming, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main

CONTRACT_KEYS = {
    "parent",
    "parent_key",
    "child",
    "child_key",
    "key_transform",
    "match_rate",
    "orphans",
    "orphan_sample",
    "confidence",
}


@pytest.fixture(autouse=True)
def _env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evals.estate import generate_estate

    out = tmp_path_factory.mktemp("estate") / "estate"
    generate_estate(out, policies=1000, seed=7)
    return out


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def _ingest(estate: Path, capsys: pytest.CaptureFixture[str], *names: str) -> dict[str, str]:
    ids = {}
    for name in names:
        config = str(estate / "sources.yaml")
        assert main(["ingest", name, "--source-config", config, "--json"]) == 0
        ids[name] = _json(capsys)["sources"][0]["source_id"]
    return ids


def test_relate_json_contract_and_confirm(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _ingest(estate, capsys, "acquired_policy", "acquired_coverage", "acquired_party")
    assert main(["relate", *ids.values(), "--json"]) == 0
    out = _json(capsys)
    assert out["status"] == "proposed" and out["version"] is None
    rels = out["relationships"]
    assert {(r["parent"], r["child"]) for r in rels} == {
        (ids["acquired_policy"], ids["acquired_coverage"]),
        (ids["acquired_party"], ids["acquired_policy"]),
    }
    for rel in rels:
        assert CONTRACT_KEYS | {"cardinality"} <= set(rel)
        assert rel["key_transform"] is None  # the acquired system writes its keys one way
    coverage = next(r for r in rels if r["child"] == ids["acquired_coverage"])
    assert coverage["orphans"] > 0 and coverage["orphan_sample"][0].startswith("AQ-")
    assert coverage["cardinality"] == "1:n"
    assert main(["relate", *ids.values(), "--confirm", "--json"]) == 0
    confirmed = _json(capsys)
    assert (confirmed["status"], confirmed["version"]) == ("confirmed", 1)
    assert confirmed["relationships"] == rels


def test_relate_bad_input_is_one_line(
    estate: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _ingest(estate, capsys, "billing", "agency_summary")
    assert main(["relate", ids["billing"], "--json"]) == 1
    err = capsys.readouterr().err
    assert "at least two different sources" in err and "Traceback" not in err
    edits = tmp_path / "rel.yaml"
    edits.write_text(
        "- {parent: agency_summary, parent_key: State, child: billing, child_key: PolicyNo}\n"
    )
    args = ["relate", *ids.values(), "--confirm", "--file", str(edits), "--json"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "billing.PolicyNo matches no key of agency_summary.State" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert main(["relate", *ids.values(), "--file", str(edits)]) == 2  # --file needs --confirm


def test_assembly_propose_and_approve(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _ingest(
        estate, capsys, "acquired_policy", "acquired_coverage", "acquired_party", "agency_summary"
    )
    root = ids["acquired_policy"]
    assert main(["assembly", "propose", "--root", root, "--json"]) == 0
    spec = _json(capsys)
    assert {"assembly_id", "components", "survivorship", "crosswalks"} <= set(spec)
    assert {c["source_name"] for c in spec["components"]} == {"acquired_coverage", "acquired_party"}
    assert spec["status"] == "draft"
    args = ["assembly", "propose", "--root", root, "--source", ids["agency_summary"], "--json"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "two roots: agency_summary" in captured.err
    assert main(["assembly", "approve", spec["assembly_id"], "--json"]) == 1
    assert "is not approved" in capsys.readouterr().err
    assert main(["approve-mapping", spec["root_mapping_id"], "--json"]) == 0
    capsys.readouterr()
    xw = next(x for x in spec["crosswalks"] if x["source_name"] == "acquired_coverage")
    edits = estate.parent / "crosswalks.yaml"
    edits.write_text(
        "crosswalks:\n  - source: acquired_coverage\n"
        f"    column: {xw['column']}\n    value: {xw['values'][0]['value']}\n"
        "    canonical: spaceship\n"
    )
    args = ["assembly", "approve", spec["assembly_id"], "--crosswalks", str(edits), "--json"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and f"{edits}:2" in captured.err
    assert "'spaceship' is not a value of" in captured.err
    assert main(["assembly", "approve", spec["assembly_id"], "--json"]) == 0
    approved = _json(capsys)
    assert approved["status"] == "approved" and approved["assembly_id"] == spec["assembly_id"]
    assert main(["assembly", "approve", "asm-nope", "--json"]) == 1


def test_assembly_edit(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _ingest(estate, capsys, "acquired_policy", "acquired_coverage", "acquired_party")
    assert main(["assembly", "propose", "--root", ids["acquired_policy"], "--json"]) == 0
    spec = _json(capsys)
    rule = spec["survivorship"][0]
    rules = estate.parent / "rules.yaml"
    rules.write_text(
        f"rules:\n  - field: {rule['field']}\n    rule: first_non_null\n"
        f"    sources: [{', '.join(reversed(rule['sources']))}]\n"
        "  - field: policy_core.nope\n    sources: [acquired_policy]\n"
    )
    args = ["assembly", "edit", spec["assembly_id"], "--survivorship", str(rules), "--json"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and f"{rules}:5" in captured.err
    assert "unknown canonical field 'policy_core.nope'" in captured.err
    rules.write_text("\n".join(rules.read_text().splitlines()[:4]) + "\n")
    assert main(args) == 0
    edited = _json(capsys)
    assert edited["version"] == spec["version"] + 1
    assert edited["survivorship"][0]["rule"] == "first_non_null"
    assert edited["survivorship"][0]["sources"] == list(reversed(rule["sources"]))
    assert main(["assembly", "edit", spec["assembly_id"], "--json"]) == 1
    assert "no edit given" in capsys.readouterr().err
