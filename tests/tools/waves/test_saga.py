"""Acceptance: a failure in any milestone compensates, in reverse order, everything the wave did;
the target and policy locations end exactly as before, and the audit log shows every step and
every undo. Runs the real milestones against the real new_platform target on SQLite."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from core.settings import Settings
from core.store.models import PolicyLocation
from tests.tools.waves.helpers import canonical_table, make_context
from tools.audit import AuditLog, Move, PolicyLocations
from tools.routing.rulesets import register_rule_set
from tools.waves import PlanCriteria, generate_plan, rollback_wave, run_wave
from tools.waves.context import WaveContext
from tools.waves.milestones import default_milestones
from tools.waves.saga import Milestone
from tools.waves.statuses import MILESTONES

RULES = """
routing_rules:
  version: "1"
  canonical: policy_v1
  rules:
    - name: homeowners_to_bridge
      condition: {field: "policy_core.policy_type", operator: "equals", value: "homeowners"}
      target: "CoexistenceBridge"
      priority: 1
    - name: everything_else_new
      condition: {field: "policy_core.policy_id", operator: "not_null"}
      target: "NewPlatformAPI"
      priority: 2
"""


class InjectedFailure(RuntimeError):
    pass


@pytest.fixture
def real(engine: Engine, wave_settings: Settings, estate: dict[str, Path]) -> WaveContext:
    return make_context(engine, wave_settings, estate)


def _target_rows(wave_context: WaveContext) -> list[tuple[Any, ...]]:
    target = wave_context.target("new_platform")
    target.health()
    with target.engine.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text("SELECT name FROM sqlite_master WHERE type='table' AND name='policy'")
            )
        ]
        if not tables:
            return []
        return sorted(
            tuple(r)
            for r in conn.execute(text("SELECT policy_core__policy_id, wave_id FROM policy"))
        )


def _locations(engine: Engine) -> list[tuple[str, str]]:
    table = PolicyLocation.__table__
    with engine.connect() as conn:
        return sorted(
            (r.policy_id, r.system) for r in conn.execute(select(table.c.policy_id, table.c.system))
        )


def _prepare(real: WaveContext, engine: Engine, wave_settings: Settings) -> str:
    """Earlier state the saga must leave untouched: another wave's rows, earlier routing."""
    register_rule_set(engine, "default", RULES, name="wave_rules")
    real.target("new_platform").write("earlier-wave", canonical_table(5, prefix="Z"))
    with engine.begin() as conn:
        PolicyLocations(engine).record_moves(
            conn,
            [Move(f"A{i:06d}", "LegacyBatch", rule="seed") for i in range(0, 40, 3)],
            entry_id=None,
        )
    criteria = PlanCriteria(rule_set="wave_rules", batch_size=100)
    # The plan is for new_platform; policies routed to LegacyBatch are excluded from it.
    plan = generate_plan(
        real, source_ids=["src-a", "src-b"], target="new_platform", criteria=criteria
    )
    with engine.begin() as conn:  # routing changes after planning: the wave's route re-decides
        PolicyLocations(engine).record_moves(
            conn,
            [Move(f"A{i:06d}", "NewPlatformAPI", rule="seed") for i in range(1, 40, 3)],
            entry_id=None,
        )
    return plan.waves[0].wave_id


def _failing_at(name: str) -> list[Milestone]:
    steps = []
    for milestone in default_milestones():
        if milestone.name == name:

            def run(ctx: Any, real_run: Any = milestone.run) -> dict[str, Any]:
                real_run(ctx)  # do all the work, then fail: everything must be undone
                raise InjectedFailure(f"boom in {ctx.milestone}")

            milestone = Milestone(name, run, milestone.compensate)
        steps.append(milestone)
    return steps


@pytest.mark.parametrize("failing", MILESTONES)
def test_failure_in_each_milestone_compensates_in_reverse(
    failing: str, real: WaveContext, engine: Engine, wave_settings: Settings
) -> None:
    wave_id = _prepare(real, engine, wave_settings)
    target_before, locations_before = _target_rows(real), _locations(engine)

    status = run_wave(real, wave_id, milestones=_failing_at(failing))

    assert status.status == "compensated"
    assert f"{failing} failed" in (status.error or "")
    assert _target_rows(real) == target_before
    assert _locations(engine) == locations_before
    assert not (real.workdir(wave_id) / "canonical").exists() or not list(
        (real.workdir(wave_id) / "canonical").glob("*.parquet")
    )
    started = list(MILESTONES[: MILESTONES.index(failing) + 1])
    for name, step in status.steps.items():
        assert step.status == ("compensated" if name in started else "pending"), name
    # The audit log: each started milestone, then its undo, newest first, parented to it.
    log = AuditLog(engine)
    entries = list(log.replay("waves"))
    by_id = {e.id: e for e in entries}
    undos = [e for e in entries if e.operation.startswith("compensate.")]
    assert [e.operation.removeprefix("compensate.") for e in undos] == started[::-1]
    for undo in undos:
        parent = by_id[undo.parent_id]
        assert parent.operation == undo.operation.removeprefix("compensate.")
        assert parent.status == "compensated" and undo.status == "ok"
    assert all(
        e.status == "compensated"
        for e in entries
        if e.operation.endswith(".batch") and e.status != "failed"
    )


def test_migrate_failing_midway_undoes_the_written_batches(
    real: WaveContext, engine: Engine, wave_settings: Settings
) -> None:
    wave_id = _prepare(real, engine, wave_settings)
    target_before, locations_before = _target_rows(real), _locations(engine)
    platform = real.target("new_platform")
    original, calls = platform.write, []

    def flaky(wave: str, records: Any) -> int:
        calls.append(wave)
        if len(calls) == 3:
            raise InjectedFailure("platform went away")
        return original(wave, records)

    platform.write = flaky  # type: ignore[method-assign]
    status = run_wave(real, wave_id)
    assert status.status == "compensated" and "platform went away" in (status.error or "")
    assert len(calls) == 3  # two batches landed before the failure; both were removed
    assert _target_rows(real) == target_before
    assert _locations(engine) == locations_before


def test_success_then_rollback_restores_and_is_idempotent(
    real: WaveContext, engine: Engine, wave_settings: Settings
) -> None:
    wave_id = _prepare(real, engine, wave_settings)
    target_before, locations_before = _target_rows(real), _locations(engine)
    status = run_wave(real, wave_id)
    assert status.status == "completed", status.error
    assert status.migrated == real.target("new_platform").count(wave_id) > 0
    assert all(step.status == "completed" for step in status.steps.values())
    # homeowners were routed to the bridge by the wave's rule set: not migrated here
    rows = {r[0] for r in _target_rows(real) if r[1] == wave_id}
    assert rows and all(int(pid[1:]) % 3 != 1 for pid in rows)
    assert status.validation and status.validation["passed"]
    assert run_wave(real, wave_id).status == "completed"  # a completed wave is not redone

    rolled = rollback_wave(real, wave_id)
    assert rolled.status == "compensated"
    assert _target_rows(real) == target_before
    assert _locations(engine) == locations_before
    again = rollback_wave(real, wave_id)
    assert again.status == "compensated"
    assert _target_rows(real) == target_before
    # and the wave can run again after a rollback
    assert run_wave(real, wave_id).status == "completed"
    assert real.target("new_platform").count(wave_id) == len(rows)


def test_cancel_stops_at_a_batch_boundary_and_resumes(
    real: WaveContext, engine: Engine, wave_settings: Settings
) -> None:
    wave_id = _prepare(real, engine, wave_settings)
    cancel = threading.Event()
    seen: list[tuple[str, int]] = []

    def progress(milestone: str, done: int, total: int | None) -> None:
        seen.append((milestone, done))
        if milestone == "migrate" and len([s for s in seen if s[0] == "migrate"]) == 2:
            cancel.set()

    status = run_wave(real, wave_id, cancel=cancel, progress=progress)
    assert status.status == "cancelled"
    assert status.steps["migrate"].status == "cancelled"
    assert status.steps["validate"].status == "pending"
    written = real.target("new_platform").count(wave_id)
    assert 0 < written < 400
    resumed = run_wave(real, wave_id)
    assert resumed.status == "completed"
    assert resumed.steps["migrate"].resumed_batches == 2
    assert real.target("new_platform").count(wave_id) == resumed.migrated
