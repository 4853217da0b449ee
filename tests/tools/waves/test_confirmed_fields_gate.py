"""Approval means approval (issue 14, item 19): the mapping_confidence gate counts a field a
person confirmed or approved as confirmed, says who and when, and blocks only on the rest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from core.settings import Settings
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tools.audit import AuditLog
from tools.canonical import approve_mapping, create_mapping, update_field_mapping
from tools.waves import PlanCriteria, check_gates, generate_plan
from tools.waves.context import WaveContext, stored_confidences, stored_confirmations
from tools.waves.gates.base import GateContext
from tools.waves.gates.builtin import MappingConfidenceGate

LOW = {"policy_core.policy_id": 0.99, "policy_core.effective_date": 0.41}


def _gate_on_stored(engine: Engine, source_id: str) -> Any:
    ctx = GateContext(
        wave_id="w",
        tenant="default",
        criteria=PlanCriteria(),
        canonical="policy_v1",
        policy_count=100,
        batches=lambda: iter(()),
        target=lambda: None,  # type: ignore[arg-type,return-value]
        policies_by_source=lambda: {source_id: (100, ["P0000001"])},
        confidences=lambda sid: stored_confidences(engine, "default", sid),
        confirmations=lambda sid: stored_confirmations(engine, "default", sid),
    )
    return MappingConfidenceGate(PlanCriteria()).check(ctx)


def test_an_approved_mapping_passes_with_who_and_when(
    engine: Engine, wave_settings: Settings
) -> None:
    source_id = stage_source(engine, wave_settings, policy_table(20))
    mapping = create_mapping(engine, source_id, BASE_RULES).mapping_id
    # Proposed at 0.6 (effective date) and 0.4 (premium): below the gate's minimum.
    assert min(stored_confidences_of(engine, source_id, mapping).values()) < 0.7
    approve_mapping(engine, mapping)
    actor = AuditLog(engine).actor

    confirmed = stored_confirmations(engine, "default", source_id)
    assert confirmed["policy_core.effective_date"]["by"] == actor
    assert confirmed["policy_core.effective_date"]["at"]
    result = _gate_on_stored(engine, source_id)
    assert result.passed, result.detail
    assert result.confirmations[f"{source_id}:rating_components.premium_amount"].startswith(actor)
    assert "confirmed by a person" in result.detail and actor in result.detail
    # The real wiring hands the gate the same confirmations.
    context = WaveContext.default(engine, wave_settings)
    assert context.confirmation_source is not None
    assert context.confirmation_source(source_id) == confirmed


def stored_confidences_of(engine: Engine, source_id: str, mapping_id: str) -> dict[str, float]:
    from tools.canonical import get_mapping

    return {r.target: r.confidence for r in get_mapping(engine, mapping_id).fields}


def test_an_edited_field_is_confirmed_by_its_editor(
    engine: Engine, wave_settings: Settings
) -> None:
    source_id = stage_source(engine, wave_settings, policy_table(20))
    mapping = create_mapping(engine, source_id, BASE_RULES).mapping_id
    edited = update_field_mapping(engine, mapping, "policy_core.effective_date", source="EFF_DT")
    rule = edited.rule_for("policy_core.effective_date")
    assert rule is not None and rule.confirmed and rule.confirmed_by == AuditLog(engine).actor
    assert rule.confirmed_at is not None
    assert [r.target for r in edited.unconfirmed_below(0.8)] == ["rating_components.premium_amount"]


def test_only_fields_nobody_confirmed_block(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext
) -> None:
    wave_context.confidence_source = lambda sid: dict(LOW)
    wave_context.confirmation_source = lambda sid: (
        {"policy_core.effective_date": {"by": "ann", "at": "2026-12-07T04:00:00"}}
        if sid == "src-a"
        else {}
    )
    plan = generate_plan(
        wave_context,
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(gates=["mapping_confidence"]),
    )
    results = [check_gates(wave_context, w.wave_id).results[0] for w in plan.waves]
    blocked = [r for r in results if not r.passed]
    assert blocked
    for result in blocked:
        assert (
            "src-b: 1 field(s) below 0.7 that nobody confirmed (policy_core.effective_date)"
            in result.detail
        )
    assert all("src-a: " not in r.detail for r in results)  # its low field was confirmed
    assert any(
        r.confirmations.get("src-a:policy_core.effective_date") == "ann at 2026-12-07T04:00:00"
        for r in results
    )

    wave_context.confirmation_source = lambda sid: {
        "policy_core.effective_date": {"by": "ann", "at": "2026-12-07T04:00:00"}
    }
    assert all(check_gates(wave_context, w.wave_id).passed for w in plan.waves)
