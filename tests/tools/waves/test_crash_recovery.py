"""Acceptance: SIGKILL a real wave run at several points of the migrate milestone, run it again:
the target holds each policy exactly once, reconciliation passes, and only the batch in flight
at each kill was redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.settings import Settings
from tests.tools.waves.helpers import id_reconciler, make_context
from tools.audit import AuditLog
from tools.waves import PlanCriteria, generate_plan, get_wave_status, run_wave
from tools.waves.milestones import wave_records
from tools.waves.saga import step_context
from tools.waves.state import load_wave

REPO = Path(__file__).resolve().parents[3]


def _run(home: Path, folders: dict[str, Path], wave_id: str, stop: str | None) -> str | None:
    """Start the runner; kill it with SIGKILL when it reaches ``stop``; its JSON if it ends."""
    marker = home / "at-point"
    marker.unlink(missing_ok=True)
    args = [
        sys.executable,
        "-m",
        "tests.tools.waves.crash_runner",
        str(home),
        json.dumps({k: str(v) for k, v in folders.items()}),
        wave_id,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        args + ([stop] if stop else []),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if stop is None:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return out
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"runner ended before {stop}: {proc.stderr.read() if proc.stderr else ''}")
        assert time.monotonic() < deadline, f"runner never reached {stop}"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return None


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
        _run(wave_settings.home, estate, wave_id, stop)
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
