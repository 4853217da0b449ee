from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine

from core.errors import InputError
from core.settings import Settings
from tests.tools.waves.helpers import FakeTarget
from tools.audit import AuditLog
from tools.waves import (
    GateBlocked,
    PlanCriteria,
    check_gates,
    generate_plan,
    latest_gate_report,
    override_gate,
    run_wave,
)
from tools.waves.context import WaveContext
from tools.waves.contracts import GateResult
from tools.waves.gates import builtin
from tools.waves.gates import registry as gate_registry
from tools.waves.gates.base import RecordGate


def _plan(engine: Engine, settings: Settings, wave_context: WaveContext, **criteria: Any) -> Any:
    return generate_plan(
        wave_context,
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(**criteria),
    )


def test_clean_wave_passes_and_dirty_wave_reports_failing_keys(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext
) -> None:
    plan = _plan(engine, wave_settings, wave_context)
    assert check_gates(wave_context, plan.waves[0].wave_id).passed
    report = check_gates(wave_context, plan.waves[1].wave_id)
    rules = next(r for r in report.results if r.gate == "business_rules")
    assert not report.passed and not rules.passed
    assert rules.failing == plan.waves[1].policy_count and rules.sample[0].startswith("B")
    assert latest_gate_report(wave_context, plan.waves[1].wave_id) == report


def test_failing_gate_blocks_until_overridden_with_a_reason(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext, fake_target: FakeTarget
) -> None:
    plan = _plan(engine, wave_settings, wave_context)
    wave = plan.waves[1].wave_id
    with pytest.raises(GateBlocked, match="business_rules"):
        run_wave(wave_context, wave)
    assert fake_target.rows == {}
    with pytest.raises(Exception, match="needs a reason"):
        override_gate(wave_context, wave, gate="business_rules", reason=" ")
    override_gate(wave_context, wave, gate="business_rules", reason="zero premiums are waivers")
    status = run_wave(wave_context, wave)
    assert status.status == "completed" and status.migrated == plan.waves[1].policy_count
    report = latest_gate_report(wave_context, wave)
    assert report is not None and report.passed
    assert next(r for r in report.results if r.gate == "business_rules").overridden
    ops = [e.operation for e in AuditLog(engine).replay("waves") if e.target == wave]
    assert "override_gate" in ops


class ExplodingGate(RecordGate):
    name: ClassVar[str] = "business_rules"

    def failing(self, batch: Any) -> Any:
        raise RuntimeError("checker crashed")


def test_a_gate_that_raises_fails_closed_and_blocks_the_wave(
    engine: Engine,
    wave_settings: Settings,
    wave_context: WaveContext,
    monkeypatch: pytest.MonkeyPatch,
    fake_target: FakeTarget,
) -> None:
    plan = _plan(engine, wave_settings, wave_context)
    monkeypatch.setitem(builtin.BUILTIN_GATES, "business_rules", ExplodingGate)
    monkeypatch.setattr(fake_target, "health", lambda: 1 / 0)
    report = check_gates(wave_context, plan.waves[0].wave_id)
    failed = {r.gate: r for r in report.results if not r.passed}
    assert set(failed) == {"business_rules", "target_readiness"}
    assert "checker crashed" in failed["business_rules"].detail
    assert "ZeroDivisionError" in failed["target_readiness"].detail
    with pytest.raises(GateBlocked):
        run_wave(wave_context, plan.waves[0].wave_id)
    assert fake_target.rows == {}


def test_unknown_gate_and_missing_mapping_fail_closed(
    engine: Engine,
    wave_settings: Settings,
    wave_context: WaveContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InputError, match="no quality gate 'no_such_gate'"):
        _plan(engine, wave_settings, wave_context, gates=["no_such_gate"])
    wave_context.confidence_source = lambda source_id: None if source_id == "src-b" else {"x": 0.5}
    plan = _plan(engine, wave_settings, wave_context, gates=["mapping_confidence", "completeness"])
    # The plugin providing a gate is uninstalled after planning: the gate fails, not passes.
    # (Gone from the built-in map and from the installed entry points alike.)
    monkeypatch.delitem(builtin.BUILTIN_GATES, "completeness")
    monkeypatch.setattr(gate_registry, "entry_points", lambda group: [])
    results = {r.gate: r for r in check_gates(wave_context, plan.waves[0].wave_id).results}
    assert not results["completeness"].passed
    confidence = results["mapping_confidence"]
    assert not confidence.passed and confidence.failing == plan.waves[0].policy_count
    assert (
        "src-b: no approved mapping" in confidence.detail and "src-a: 1 field" in confidence.detail
    )


def test_target_down_blocks(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext, fake_target: FakeTarget
) -> None:
    plan = _plan(engine, wave_settings, wave_context)
    fake_target.healthy = False
    result = next(
        r
        for r in check_gates(wave_context, plan.waves[0].wave_id).results
        if r.gate == "target_readiness"
    )
    assert result == GateResult(
        gate="target_readiness",
        passed=False,
        checked=1,
        failing=plan.waves[0].policy_count,
        detail="target: fake down",
    )
