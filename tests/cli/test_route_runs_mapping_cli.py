"""`route` right after `approve-mapping` runs the approved mapping itself (issue 14, item 10);
a dry run writes nothing and names the command that writes the canonical records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from core.settings import Settings
from core.store import open_store
from tests.cli.test_route_cli import RULES
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tools.canonical import approve_mapping, create_mapping


@pytest.fixture
def approved(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    settings = Settings(home=workspace)
    engine = open_store(settings)
    source_id = stage_source(engine, settings, policy_table(100, bad_every=7))
    mapping_id = create_mapping(engine, source_id, BASE_RULES).mapping_id
    approve_mapping(engine, mapping_id)
    engine.dispose()
    return source_id, mapping_id


def test_route_after_approval(
    approved: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source_id, mapping_id = approved
    rules = tmp_path / "insurer.yaml"
    rules.write_text(RULES)

    assert main(["route", "--rules", str(rules), source_id, "--dry-run", "--json"]) == 1
    err = capsys.readouterr().err
    assert f"data-mash mapping run {mapping_id}" in err and "validate-mapping" not in err

    assert main(["route", "--rules", str(rules), source_id, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mapping_run"]["mapping_id"] == mapping_id
    assert (result["mapping_run"]["valid"], result["mapping_run"]["invalid"]) == (86, 14)
    assert result["routed"] == 86 and result["by_target"] == {"coexistence_bridge": 86}

    # The records now exist: a second route does not map again.
    assert main(["route", "--rules", str(rules), source_id, "--json"]) == 0
    assert "mapping_run" not in json.loads(capsys.readouterr().out)
