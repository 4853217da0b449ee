"""Dry-run distributions and rule-set version diffs."""

from __future__ import annotations

import pyarrow as pa

from tools.routing import compile_rule_set, diff_rule_sets, dry_run, load_rule_set

POLICIES = pa.table(
    {
        "policy_core.policy_id": ["A1", "A2", "B3", "Z4", "Z5", "Z6", "Z7", "Q8", "C9", "Z10"],
        "payments.payment_plan": [
            "monthly",
            None,
            "legacy-only",
            "legacy-only",
            "annual",
            None,
            "monthly",
            "legacy-only",
            None,
            "annual",
        ],
        "data_quality_score": [0.9, 0.1, 0.9, 0.5, 0.5, 0.95, 0.99, None, 0.2, 0.81],
        "wave": [0, 1, 1, 2, 0, 0, 1, 2, 3, 0],
    }
)


def test_dry_run_counts_and_samples(seed_text: str) -> None:
    compiled = compile_rule_set(load_rule_set(seed_text), POLICIES.schema)
    batches = POLICIES.to_batches(max_chunksize=3)
    assert len(batches) == 4
    distribution = dry_run(compiled, batches)
    assert distribution.total == 10
    assert distribution.by_rule == {
        "migrated_policies": 4,  # A1 A2 B3 C9
        "legacy_only_policies": 2,  # Z4 Q8
        "data_quality_issues": 1,  # Z5
        "default_route": 3,  # Z6 Z7 Z10
    }
    assert distribution.by_target == {
        "new_platform": 4,
        "legacy_batch": 2,
        "data_quality_queue": 1,
        "coexistence_bridge": 3,
    }
    assert distribution.samples["migrated_policies"] == ["A1", "A2", "B3", "C9"]
    assert distribution.samples["default_route"] == ["Z6", "Z7", "Z10"]
    assert distribution.unrouted == 0
    small = dry_run(compiled, [POLICIES], sample_size=2)
    assert small.samples["migrated_policies"] == ["A1", "A2"]


def test_dry_run_counts_unrouted() -> None:
    text = (
        'routing_rules:\n  version: "1"\n  rules:\n    - name: w0\n'
        "      condition: {field: wave, operator: equals, value: 0}\n      target: new_platform\n"
        "      priority: 1\n"
    )
    compiled = compile_rule_set(load_rule_set(text), POLICIES.schema)
    distribution = dry_run(compiled, [POLICIES])
    assert distribution.by_rule == {"w0": 4}
    assert distribution.unrouted == 6
    assert distribution.samples["(no rule)"] == ["A2", "B3", "Z4", "Z7", "Q8"]


def test_diff_rule_sets(seed_text: str) -> None:
    old = load_rule_set(seed_text)
    new_text = (
        seed_text.replace('version: "1.0.0"', 'version: "1.1.0"')
        .replace('["A*", "B*", "C*"]', '["A*", "B*"]')
        .replace("value: 0.8", "value: 0.85")
        .replace(
            '    - name: "default_route"',
            '''    - name: "wave0"
      condition: {field: wave, operator: equals, value: 0}
      target: "new_platform"
      priority: 50
    - name: "default_route"''',
        )
        .replace(
            '    - name: "legacy_only_policies"\n'
            '      condition: {field: "payment_plan", operator: "equals", value: "legacy-only"}\n'
            '      target: "legacy_batch"\n      priority: 2\n',
            "",
        )
    )
    new = load_rule_set(new_text)
    diff = diff_rule_sets(old, new, POLICIES.to_batches(max_chunksize=4), sample_size=3)
    assert (diff.old_version, diff.new_version) == ("1.0.0", "1.1.0")
    assert diff.added == ["wave0"]
    assert diff.removed == ["legacy_only_policies"]
    changed = {c.name: c.changes for c in diff.changed}
    assert changed["migrated_policies"]["condition"] == (
        "policy_core.policy_id in ['A*', 'B*', 'C*']",
        "policy_core.policy_id in ['A*', 'B*']",
    )
    assert changed["data_quality_issues"]["condition"][1] == "data_quality_score less_than 0.85"
    assert set(changed) == {"migrated_policies", "data_quality_issues"}
    # C9: New -> DQ (0.2); Z4: Legacy -> DQ (0.5); Q8: Legacy -> Bridge (no score, wave 2);
    # Z6, Z10: Bridge -> New via wave0 (Z10 0.81 now < 0.85 -> DQ)
    assert diff.total == 10
    assert diff.transitions == {
        ("new_platform", "data_quality_queue"): 1,
        ("legacy_batch", "data_quality_queue"): 1,
        ("legacy_batch", "coexistence_bridge"): 1,
        ("coexistence_bridge", "new_platform"): 1,
        ("coexistence_bridge", "data_quality_queue"): 1,
    }
    assert diff.changed_count == 5
    assert [c.policy_id for c in diff.sample] == ["Z4", "Z6", "Q8"]
    first = diff.sample[0]
    assert (first.old_target, first.new_target, first.old_rule, first.new_rule) == (
        "legacy_batch",
        "data_quality_queue",
        "legacy_only_policies",
        "data_quality_issues",
    )


def test_diff_of_identical_rule_sets_is_empty(seed_text: str) -> None:
    rule_set = load_rule_set(seed_text)
    diff = diff_rule_sets(rule_set, rule_set, [POLICIES])
    assert (diff.added, diff.removed, diff.changed, diff.changed_count) == ([], [], [], 0)
    assert diff.total == 10 and diff.sample == []
