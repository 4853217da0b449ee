"""`data-mash route`, `rules validate|add|list` and `reroute`: JSON keys, exit codes, errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert

from cli.main import main
from core.settings import Settings
from core.store import open_store
from core.store.models import SourceRow
from tools.routing import canonical_input
from tools.routing.canonical_input import ApprovedMapping
from tools.routing.samples import sample_batch

RULES = """\
routing_rules:
  version: "1.0.0"
  rules:
    - name: "migrated_policies"
      condition: {field: "policy_id", operator: "in", value: ["A*", "B*", "C*"]}
      target: "new_platform"
      priority: 1
    - name: "default_route"
      condition: true
      target: "coexistence_bridge"
      priority: 99
"""


@pytest.fixture(autouse=True)
def _workspace_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)


@pytest.fixture
def source(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Source s1 with canonical records of an approved mapping m1 v1 (400 policies)."""
    engine = open_store(Settings(home=workspace))
    with engine.begin() as conn:
        conn.execute(
            insert(SourceRow.__table__).values(
                tenant="default",
                source_id="s1",
                name="pm",
                system="policy_master",
                path="x.dat",
                format="cobol",
                options={},
                content_sha256="0" * 64,
                size_bytes=1,
                records=400,
                bad_records=0,
                columns=[],
                staging_dir="x",
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    engine.dispose()
    folder = workspace / "canonical" / "default" / "m1" / "v1"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_batches([sample_batch(0, 400)]), folder / "part-0.parquet")
    monkeypatch.setattr(
        canonical_input,
        "latest_approved_mapping",
        lambda _e, _t, sid: ApprovedMapping("m1", 1) if sid == "s1" else None,
    )
    return "s1"


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "insurer.yaml"
    path.write_text(RULES, encoding="utf-8")
    return path


def _json(capsys: pytest.CaptureFixture[str], args: list[str], code: int = 0) -> dict:
    assert main(args) == code
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_route_json_then_reroute(
    source: str, rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dry = _json(capsys, ["route", "--rules", str(rules_file), source, "--dry-run", "--json"])
    assert {"routed", "by_target", "by_rule"} <= set(dry) and dry["dry_run"]
    assert dry["routed"] == 400 and dry["by_rule"]["migrated_policies"] == 150
    assert _json(capsys, ["rules", "list", "--json"])["rule_sets"] == []  # dry run stores nothing

    done = _json(capsys, ["route", "--rules", str(rules_file), source, "--json"])
    assert done["by_target"] == dry["by_target"] and done["moved"] == 400
    assert done["rule_set"] == "insurer v1"
    stored = _json(capsys, ["rules", "list", "--json"])["rule_sets"]
    assert [(s["name"], s["version"]) for s in stored] == [("insurer", 1)]

    policy = done["sample_per_rule"]["migrated_policies"][0]
    moved = _json(
        capsys, ["reroute", policy, "--to", "legacy_batch", "--reason", "broker", "--json"]
    )
    assert moved["policy_id"] == policy and moved["previous"] == {policy: "new_platform"}
    located = _json(capsys, ["locate", policy, "--json"])
    assert [m["to_system"] for m in located["history"]] == ["new_platform", "legacy_batch"]


def test_route_renders_tables(
    source: str, rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", "--rules", str(rules_file), source]) == 0
    out = capsys.readouterr().out
    assert "Routed 400 policies of s1 with insurer v1" in out and "By target" in out


def test_rules_validate(rules_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, ["rules", "validate", str(rules_file), "--json"])["ok"] is True
    rules_file.write_text(RULES.replace('"in"', '"inside"').replace("99", "1"), encoding="utf-8")
    assert main(["rules", "validate", str(rules_file)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("data-mash: error: ") for line in lines)
    assert "line 5" in lines[0] and "inside" in lines[0]
    data = _json(capsys, ["rules", "validate", str(rules_file), "--json"], code=1)
    assert not data["ok"] and data["errors"][0]["line"] == 5


@pytest.mark.parametrize(
    ("args", "rules_text", "message"),
    [
        (["route", "--rules", "{rules}", "nope"], RULES, "no source 'nope'"),
        (["route", "--rules", "{rules}", "s1"], "routing_rules:\n  rules: [\n", "line 3, column 1"),
        (
            ["route", "--rules", "{rules}", "s1"],
            RULES.replace("coexistence_bridge", ""),
            "rule 'default_route'",
        ),
        (["route", "--rules", "missing.yaml", "s1"], RULES, "rule file not found"),
        (
            ["reroute", "P9", "--to", "legacy_batch", "--reason", "r"],
            RULES,
            "P9 has not been routed",
        ),
        (["reroute", "P9", "--to", "Nowhere", "--reason", "r"], RULES, "no migration target"),
        (["rules", "validate", "missing.yaml"], RULES, "rule file not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    source: str,
    rules_file: Path,
    args: list[str],
    rules_text: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules_file.write_text(rules_text, encoding="utf-8")
    argv = [a.replace("{rules}", str(rules_file)) for a in args] + ["--json"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err
