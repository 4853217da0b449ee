"""Acceptance: SIGKILL a real wave run at several points of the migrate milestone, run it again:
the target holds each policy exactly once, reconciliation passes, and only the batch in flight
at each kill was redone."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, text

from core.settings import Settings
from tests.tools.waves.helpers import id_reconciler, make_context
from tests.tools.waves.kill_points import kill_at, start_runner
from tools.audit import AuditLog
from tools.waves import PlanCriteria, generate_plan, get_wave_status, run_wave
from tools.waves.milestones import wave_records
from tools.waves.saga import step_context
from tools.waves.state import load_wave


def _kill_run_at(home: Path, folders: dict[str, Path], wave_id: str, stop: str) -> None:
    """Run the wave in ``crash_runner`` and SIGKILL it when it reaches ``stop``."""
    folders_json = json.dumps({k: str(v) for k, v in folders.items()})
    kill_at(
        start_runner("tests.tools.waves.crash_runner", str(home), folders_json, wave_id, stop),
        home,
        stop,
    )


def test_sigkill_during_migrate_then_resume(
    engine: Engine, wave_settings: Settings, estate: dict[str, Path]
) -> None:
    wave_context = make_context(engine, wave_settings, estate)
    plan = generate_plan(
        wave_context,
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(batch_size=100),
    )
    wave_id = plan.waves[0].wave_id
    for stop in ("before_work:migrate:1", "after_work:migrate:2", "after_commit:migrate:4"):
        _kill_run_at(wave_settings.home, estate, wave_id, stop)
        assert get_wave_status(wave_context, wave_id).status == "running"
    # Run again (in this process): resumes after the last committed batch.
    assert run_wave(wave_context, wave_id).status == "completed"

    target = wave_context.target("new_platform")
    with target.engine.connect() as conn:
        total, distinct = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT policy_core__policy_id) FROM policy "
                "WHERE wave_id = :w"
            ),
            {"w": wave_id},
        ).one()
    assert total == distinct == plan.waves[0].policy_count
    status = get_wave_status(wave_context, wave_id)
    assert status.migrated == total and status.validation["passed"]
    row, plan_row = load_wave(wave_context, wave_id)
    ctx = step_context(wave_context, row, plan_row, "migrate", 0)
    report = id_reconciler(wave_records(ctx), target.read_back(wave_id))
    assert report.passed and report.target_count == total

    # Redone work: only the batches in flight when killed (after work, before its commit).
    batches = [e for e in AuditLog(engine).replay("waves") if e.operation == "migrate.batch"]
    redone = sorted(e.payload["batch_no"] for e in batches if e.attempts > 1)
    assert redone == [1, 2]  # 1: killed after its intent, before work; 2: after work
    assert len({e.idempotency_key for e in batches}) == len(batches)
    assert all(e.status == "ok" for e in batches)
