from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from core.errors import InputError
from core.settings import Settings
from tools.audit import AuditLog, Move, PolicyLocations
from tools.waves import PlanCriteria, generate_plan, get_plan, move_policies, reschedule_wave
from tools.waves.context import WaveContext
from tools.waves.state import WAVE_POLICY


def test_wave0_is_clean_candidates_and_later_waves_are_grouped_and_capped(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext
) -> None:
    criteria = PlanCriteria(max_wave_size=2, start_date=dt.date(2027, 1, 4), days_between_waves=7)
    plan = generate_plan(
        wave_context, source_ids=["src-a", "src-b"], target="new_platform", criteria=criteria
    )
    assert plan.summary["policies"] == 600 and plan.summary["clean"] == 585
    wave0, *later = plan.waves
    assert wave0.label == "clean candidates" and wave0.policy_count == 585
    assert sum(w.policy_count for w in later) == 15  # src-b: every 10th premium is 0
    assert all(w.policy_count <= 2 for w in later)
    assert all(w.label.split(" / ")[0] in {"auto", "homeowners", "life"} for w in later)
    assert later[0].scheduled_for == dt.date(2027, 1, 11)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(WAVE_POLICY)).scalar_one() == 600
    assert get_plan(wave_context, plan.plan_id) == plan


def test_policies_routed_elsewhere_are_excluded(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext
) -> None:
    with engine.begin() as conn:
        PolicyLocations(engine).record_moves(
            conn,
            [Move(f"A{i:06d}", "LegacyBatch") for i in range(10)]
            + [Move("A000010", "NewPlatformAPI")],
            entry_id=None,
        )
    plan = generate_plan(wave_context, source_ids=["src-a"], target="new_platform")
    assert plan.summary["policies"] == 440
    assert plan.summary["excluded_by_system"] == {"LegacyBatch": 10}


def test_bad_input_is_one_clear_error(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext
) -> None:
    with pytest.raises(InputError, match="no migration target 'mars'"):
        generate_plan(wave_context, source_ids=["src-a"], target="mars")
    with pytest.raises(InputError, match="no source given"):
        generate_plan(wave_context, source_ids=[" "], target="new_platform")
    with pytest.raises(InputError, match="column 17"):
        generate_plan(
            wave_context,
            source_ids=["src-a"],
            target="new_platform",
            criteria=PlanCriteria(business_rules=["premium_amount >"]),
        )


def test_edits_are_audited_and_version_the_plan(
    engine: Engine, wave_settings: Settings, wave_context: WaveContext
) -> None:
    plan = generate_plan(wave_context, source_ids=["src-a", "src-b"], target="new_platform")
    wave0, wave1 = plan.waves[0].wave_id, plan.waves[1].wave_id
    moved = move_policies(
        wave_context, ["A000001", "A000002"], to_wave=wave1, reason="broker asked"
    )
    assert moved.version == 2
    assert moved.waves[0].policy_count == plan.waves[0].policy_count - 2
    assert moved.waves[1].policy_count == plan.waves[1].policy_count + 2
    later = reschedule_wave(wave_context, wave0, scheduled_for=dt.date(2027, 3, 1))
    assert later.version == 3 and later.waves[0].scheduled_for == dt.date(2027, 3, 1)
    ops = [e.operation for e in AuditLog(engine).replay("waves")]
    assert ops == ["plan", "move_policies", "reschedule"]
    trail = AuditLog(engine).trail("A000001")
    assert [e.operation for e in trail] == ["move_policies"]
    with pytest.raises(InputError, match="not in plan"):
        move_policies(wave_context, ["ZZZ"], to_wave=wave1, reason="x y z")
