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
from tools.waves.gates import builtin
from tools.waves.gates import registry as gate_registry
from tools.waves.gates.base import RecordGate
from tools.waves.records import GateResult
from tools.waves.services import WaveServices


def _plan(engine: Engine, settings: Settings, services: WaveServices, **criteria: Any) -> Any:
    return generate_plan(
        engine,
        settings,
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(**criteria),
        services=services,
    )


def test_clean_wave_passes_and_dirty_wave_reports_failing_keys(
    engine: Engine, wave_settings: Settings, services: WaveServices
) -> None:
    plan = _plan(engine, wave_settings, services)
    assert check_gates(services, plan.waves[0].wave_id).passed
    report = check_gates(services, plan.waves[1].wave_id)
    rules = next(r for r in report.results if r.gate == "business_rules")
    assert not report.passed and not rules.passed
    assert rules.failing == plan.waves[1].policy_count and rules.sample[0].startswith("B")
    assert latest_gate_report(engine, "default", plan.waves[1].wave_id) == report


def test_failing_gate_blocks_until_overridden_with_a_reason(
    engine: Engine, wave_settings: Settings, services: WaveServices, fake_target: FakeTarget
) -> None:
    plan = _plan(engine, wave_settings, services)
    wave = plan.waves[1].wave_id
    with pytest.raises(GateBlocked, match="business_rules"):
        run_wave(services, wave)
    assert fake_target.rows == {}
    with pytest.raises(Exception, match="needs a reason"):
        override_gate(engine, wave, "business_rules", " ", tenant="default")
    override_gate(engine, wave, "business_rules", "zero premiums are waivers", tenant="default")
    status = run_wave(services, wave)
    assert status.status == "completed" and status.migrated == plan.waves[1].policy_count
    report = latest_gate_report(engine, "default", wave)
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
    services: WaveServices,
    monkeypatch: pytest.MonkeyPatch,
    fake_target: FakeTarget,
) -> None:
    plan = _plan(engine, wave_settings, services)
    monkeypatch.setitem(builtin.BUILTIN_GATES, "business_rules", ExplodingGate)
    monkeypatch.setattr(fake_target, "health", lambda: 1 / 0)
    report = check_gates(services, plan.waves[0].wave_id)
    failed = {r.gate: r for r in report.results if not r.passed}
    assert set(failed) == {"business_rules", "target_readiness"}
    assert "checker crashed" in failed["business_rules"].detail
    assert "ZeroDivisionError" in failed["target_readiness"].detail
    with pytest.raises(GateBlocked):
        run_wave(services, plan.waves[0].wave_id)
    assert fake_target.rows == {}


def test_unknown_gate_and_missing_mapping_fail_closed(
    engine: Engine, wave_settings: Settings, services: WaveServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match="no quality gate 'no_such_gate'"):
        _plan(engine, wave_settings, services, gates=["no_such_gate"])
    services.confidence_source = lambda source_id: None if source_id == "src-b" else {"x": 0.5}
    plan = _plan(engine, wave_settings, services, gates=["mapping_confidence", "completeness"])
    # The plugin providing a gate is uninstalled after planning: the gate fails, not passes.
    # (Gone from the built-in map and from the installed entry points alike.)
    monkeypatch.delitem(builtin.BUILTIN_GATES, "completeness")
    monkeypatch.setattr(gate_registry, "entry_points", lambda group: [])
    results = {r.gate: r for r in check_gates(services, plan.waves[0].wave_id).results}
    assert not results["completeness"].passed
    confidence = results["mapping_confidence"]
    assert not confidence.passed and confidence.failing == plan.waves[0].policy_count
    assert (
        "src-b: no approved mapping" in confidence.detail and "src-a: 1 field" in confidence.detail
    )


def test_target_down_blocks(
    engine: Engine, wave_settings: Settings, services: WaveServices, fake_target: FakeTarget
) -> None:
    plan = _plan(engine, wave_settings, services)
    fake_target.healthy = False
    result = next(
        r
        for r in check_gates(services, plan.waves[0].wave_id).results
        if r.gate == "target_readiness"
    )
    assert result == GateResult(
        gate="target_readiness",
        passed=False,
        checked=1,
        failing=plan.waves[0].policy_count,
        detail="target: fake down",
    )
