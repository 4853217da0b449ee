"""A proposed mapping never holds list items that would lack a required field."""

from __future__ import annotations

from typing import Any

from core.statuses import RuleStatus
from tools.canonical.rule_checks import missing_required, parse_rules
from tools.canonical.suggest import _without_keyless_items


def _rule(source: str, target: str) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "transform": [],
        "confidence": 0.9,
        "evidence": "",
        "status": RuleStatus.PROPOSED,
    }


def test_a_list_member_without_its_required_fields_is_withdrawn_with_the_reason() -> None:
    rules = [
        _rule("POL_NO", "policy_core.policy_number"),
        _rule("INC_DT", "claims_links[].reported_date"),
    ]
    shown = [{"source": r["source"], "target": r["target"]} for r in rules]
    unmapped: dict[str, str] = {}
    # Without the withdrawal the draft could not be approved: the claim link lacks its id.
    assert "claims_links[].claim_id" in missing_required(parse_rules(rules), "policy_v1")

    kept = _without_keyless_items(rules, shown, unmapped, "policy_v1")

    assert [r["source"] for r in kept] == ["POL_NO"]
    assert not any(
        p.startswith("claims_links[]") for p in missing_required(parse_rules(kept), "policy_v1")
    )
    assert "claims_links[].reported_date" in unmapped["INC_DT"]
    assert "claims_links[].claim_id" in unmapped["INC_DT"]
    assert shown[1]["target"] is None and shown[0]["target"] == "policy_core.policy_number"


def test_a_list_with_its_required_fields_keeps_every_member() -> None:
    rules = [
        _rule("CLM_ID", "claims_links[].claim_id"),
        _rule("RPT_DT", "claims_links[].reported_date"),
    ]
    required = [
        p for p in missing_required(parse_rules(rules), "policy_v1") if p.startswith("claims_links")
    ]
    for path in required:  # whatever else the model requires of a claim link
        rules.append(_rule(path.upper(), path))
    unmapped: dict[str, str] = {}
    kept = _without_keyless_items(rules, [], unmapped, "policy_v1")
    assert kept == rules and unmapped == {}
