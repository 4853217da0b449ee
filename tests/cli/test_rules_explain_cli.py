"""`rules evaluate` and `rules diff`: the MCP-only evaluate_policy and diff_rule_sets on the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from tests.cli.test_route_cli import RULES, _workspace_env, rules_file, source  # noqa: F401


def _json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict[str, Any]:
    assert main([*args, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def test_evaluate_and_diff(
    source: str,  # noqa: F811  (fixtures from test_route_cli)
    rules_file: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rules", "add", str(rules_file)]) == 0
    newer = tmp_path / "insurer.yaml"
    newer.write_text(RULES.replace('target: "coexistence_bridge"', 'target: "legacy_batch"'))
    assert newer.read_text() != RULES  # a second version, not the same YAML again
    assert main(["rules", "add", str(newer), "--name", "insurer"]) == 0
    capsys.readouterr()

    decision = _json(
        capsys, "rules", "evaluate", "insurer@1", "--policy", '{"policy_core.policy_id": "A123"}'
    )
    assert decision == {
        "rule_set": "insurer v1",
        "target": "new_platform",
        "rule": "migrated_policies",
        "explanation": decision["explanation"],
    }
    assert "migrated_policies" in decision["explanation"]
    policy_file = tmp_path / "p.json"
    policy_file.write_text('{"policy_core": {"policy_id": "Z9"}}')
    later = _json(capsys, "rules", "evaluate", "insurer", "--policy", f"@{policy_file}")
    assert (later["rule_set"], later["target"]) == ("insurer v2", "legacy_batch")
    assert main(["rules", "evaluate", "insurer", "--policy", "[1]"]) == 1
    assert "--policy must be a JSON object" in capsys.readouterr().err

    diff = _json(capsys, "rules", "diff", "insurer@1", "insurer@2", "--source", source)
    assert diff["changed"] == {"default_route": {"target": ["coexistence_bridge", "legacy_batch"]}}
    assert diff["total"] == 400 and diff["changed_count"] == 250
    assert diff["transitions"] == [
        {"from_target": "coexistence_bridge", "to_target": "legacy_batch", "count": 250}
    ]
