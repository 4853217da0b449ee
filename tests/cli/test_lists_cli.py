"""`mapping list`, `plan list`, `wave list`, `fields` and the CLI doors of MCP-only tools
(`wave reconcile`, `lineage`): the ids a person needs next, under the documented --json keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from core.settings import Settings
from core.store import open_store
from tests.cli.test_waves_cli import estate  # noqa: F401  (autouse: a small planned estate)
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tools.canonical import create_mapping


def _json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict[str, Any]:
    assert main([*args, "--json"]) == code
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_mapping_list(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, "mapping", "list") == {"mappings": []}
    settings = Settings(home=workspace)
    engine = open_store(settings)
    source_id = stage_source(engine, settings, policy_table(10))
    created = create_mapping(engine, source_id, BASE_RULES)
    engine.dispose()
    listed = _json(capsys, "mapping", "list")["mappings"]
    assert [(m["mapping_id"], m["source_id"], m["status"]) for m in listed] == [
        (created.mapping_id, source_id, "draft")
    ]
    assert _json(capsys, "mapping", "list", "--source", "other")["mappings"] == []
    assert main(["mapping", "list"]) == 0
    assert "Mappings" in capsys.readouterr().out


def test_fields_lists_the_canonical_model(capsys: pytest.CaptureFixture[str]) -> None:
    found = {f["path"]: f for f in _json(capsys, "fields")["fields"]}
    assert found["policy_core.effective_date"]["mandatory"] is True
    assert "coverage_sections[].limits.per_occurrence" in found
    assert main(["fields", "--canonical", "policy_v9"]) == 1


def test_plan_and_wave_lists_reconcile_and_lineage(capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, "plan", "list") == {"plans": []}
    plan = _json(capsys, "generate-plan", "--source", "src-a", "--target", "new_platform")
    plans = _json(capsys, "plan", "list")["plans"]
    assert [(p["plan_id"], len(p["waves"]), p["summary"]["policies"]) for p in plans] == [
        (plan["plan_id"], len(plan["waves"]), 150)
    ]
    waves = _json(capsys, "wave", "list")["waves"]
    assert [w["wave_id"] for w in waves] == [w["wave_id"] for w in plan["waves"]]
    assert {w["status"] for w in waves} == {"pending"}
    wave0 = waves[0]["wave_id"]
    assert _json(capsys, "wave", "list", "--plan", "nosuch")["waves"] == []

    assert _json(capsys, "wave", "run", wave0)["status"] == "completed"
    assert _json(capsys, "wave", "list")["waves"][0]["migrated"] == 147
    reconciled = _json(capsys, "wave", "reconcile", wave0)
    assert reconciled["wave_id"] == wave0 and reconciled["passed"] is True
    assert reconciled["report"]["passed"] is True

    member = _first_migrated()
    steps = {s["stage"]: s for s in _json(capsys, "lineage", member)["steps"]}
    assert steps["wave"]["value"] in {w["wave_id"] for w in waves}
    assert steps["source"]["value"] == "src-a"
    assert main(["lineage", "NO-SUCH"]) == 1
    assert "nothing is recorded about policy 'NO-SUCH'" in capsys.readouterr().err


def _first_migrated() -> str:
    """The first policy of the estate fixture's source (every policy is in one of its waves)."""
    from tests.tools.waves.helpers import canonical_table

    return str(canonical_table(1, prefix="A").column("policy_core.policy_id")[0])


def test_search_columns_is_on_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same tools function as the MCP tool: with semantic search off it says how to turn it on.
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    assert main(["search-columns", "premium amount"]) == 1
    err = capsys.readouterr().err
    assert "semantic search is off" in err and "DATA_MASH_EMBEDDING_PROVIDER=local" in err
