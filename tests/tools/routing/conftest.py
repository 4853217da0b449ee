"""Shared rule texts for the routing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SEED_RULES = """\
routing_rules:
  version: "1.0.0"
  rules:
    - name: "migrated_policies"
      condition: {field: "policy_id", operator: "in", value: ["A*", "B*", "C*"]}
      target: "new_platform"
      priority: 1
    - name: "legacy_only_policies"
      condition: {field: "payment_plan", operator: "equals", value: "legacy-only"}
      target: "legacy_batch"
      priority: 2
    - name: "data_quality_issues"
      condition: {field: "data_quality_score", operator: "less_than", value: 0.8}
      target: "data_quality_queue"
      priority: 3
    - name: "default_route"
      condition: true
      target: "coexistence_bridge"
      priority: 99
"""

EXAMPLE_RULES = Path(__file__).resolve().parents[3] / "knowledge" / "rules" / "example_rules.yaml"


@pytest.fixture
def seed_text() -> str:
    """The seed rule set exactly as specified."""
    return SEED_RULES


@pytest.fixture
def example_rules() -> Path:
    """knowledge/rules/example_rules.yaml."""
    return EXAMPLE_RULES


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed_rules.yaml"
    path.write_text(SEED_RULES, encoding="utf-8")
    return path
