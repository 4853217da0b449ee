"""Issue 13 integrity items 2, 4, 5, 6 and 8, reproduced with real SIGKILLs (SQLite, PostgreSQL).

Each test drives the real saga (real new_platform target, real store) through a subprocess
(``integrity_runner``) that pauses at a saga hook; the test SIGKILLs it there, then checks the
invariants the issue names: locations equal what the target holds, the wave's status equals
what its target holds, every audit intent resolves (or ``replay`` flags it), reconciliation of a
completed wave passes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import and_, select

from core.errors import DataMashError, InputError
from core.settings import Settings
from core.store import open_store
from core.store.models import AuditEntry, PolicyLocation, table_of
from tests.tools.waves.helpers import make_context, stage_two_sources
from tests.tools.waves.kill_points import kill, kill_at, reached, start_runner, wait_at
from tools.audit import AuditLog
from tools.waves import (
    PlanCriteria,
    WaveContext,
    gc,
    generate_plan,
    get_wave_status,
    reconcile_wave,
    rollback_wave,
    run_wave,
)

LOCATION = table_of(PolicyLocation)
ENTRY = table_of(AuditEntry)


@pytest.fixture
def wave_store(store_settings: Settings, tmp_path: Path) -> Iterator[tuple[WaveContext, dict]]:
    """A wave context over two staged sources (450 + 150 policies), on SQLite or PostgreSQL."""
    settings = store_settings.model_copy(update={"batch_size": 100})
    engine = open_store(settings)
    folders = stage_two_sources(engine, settings, tmp_path)
    yield make_context(engine, settings, folders), folders
    engine.dispose()


@pytest.fixture
def wave_id(wave_store: tuple[WaveContext, dict]) -> str:
    """One wave planned for all 600 policies of both sources, not yet run."""
    plan = generate_plan(
        wave_store[0],
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(batch_size=100, max_wave_size=10_000),
    )
    return plan.waves[0].wave_id


@pytest.fixture
def completed_wave(wave_store: tuple[WaveContext, dict], wave_id: str) -> str:
    """That wave, run to completion in this process."""
    assert run_wave(wave_store[0], wave_id).status == "completed"
    return wave_id


def _start(
    context: WaveContext,
    folders: dict,
    action: str,
    wave_id: str,
    stop: str = "",
    fail: str | None = None,
) -> subprocess.Popen[str]:
    settings = {
        "home": str(context.settings.home),
        "db_url": context.settings.db_url,
        "batch_size": context.settings.batch_size,
    }
    return start_runner(
        "tests.tools.waves.integrity_runner",
        json.dumps(settings),
        json.dumps({k: str(v) for k, v in folders.items()}),
        action,
        wave_id,
        stop,
        *([fail] if fail else []),
    )


def _kill_at(
    context: WaveContext,
    folders: dict,
    action: str,
    wave_id: str,
    stop: str,
    fail: str | None = None,
) -> None:
    """Run ``action`` in a subprocess and SIGKILL it when it reaches ``stop``."""
    kill_at(_start(context, folders, action, wave_id, stop, fail), context.settings.home, stop)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=240)
    return proc.returncode, out + err


def _target_ids(context: WaveContext, wave_id: str) -> set[str]:
    target = context.target("new_platform")
    return {str(v) for b in target.read_back(wave_id) for v in b.column(0).to_pylist()}


def _placed_ids(context: WaveContext, wave_id: str) -> set[str]:
    """Policies whose location says a batch of the wave's migrate step put them in the target."""
    placed_by = select(ENTRY.c.id).where(
        and_(
            ENTRY.c.tenant == context.tenant,
            ENTRY.c.operation == "migrate.batch",
            ENTRY.c.target == wave_id,
        )
    )
    with context.engine.connect() as conn:
        return set(
            conn.execute(
                select(LOCATION.c.policy_id).where(
                    and_(
                        LOCATION.c.tenant == context.tenant,
                        LOCATION.c.system == "new_platform",
                        LOCATION.c.entry_id.in_(placed_by),
                    )
                )
            ).scalars()
        )


def assert_invariants(context: WaveContext, wave_id: str) -> None:
    """Locations equal target contents; the wave's status equals what its target holds."""
    held = _target_ids(context, wave_id)
    assert _placed_ids(context, wave_id) == held
    status = get_wave_status(context, wave_id)
    if status.status == "completed":
        assert held and status.migrated == len(held)
        assert reconcile_wave(context, wave_id)["passed"]
    elif status.status in ("compensated", "pending"):
        assert not held and status.migrated == 0
    else:  # interrupted: never claims to be done
        assert status.status in ("running", "compensating", "failed", "cancelled")


def _pending(context: WaveContext, operation: str) -> list[int]:
    return [
        e.id
        for e in AuditLog(context.engine, tenant=context.tenant).replay("waves")
        if e.operation == operation and e.incomplete
    ]


# -- item 2: two runs of one wave ---------------------------------------------------------------


def test_second_run_is_refused_while_the_first_runs_and_takes_over_once_it_is_killed(
    wave_store: tuple[WaveContext, dict],
    wave_id: str,
) -> None:
    context, folders = wave_store
    first = _start(context, folders, "run", wave_id, "before_work:migrate:2")
    wait_at(first, context.settings.home, "before_work:migrate:2")
    code, output = _finish(_start(context, folders, "run", wave_id))
    assert code == 1
    assert f"wave run {wave_id} is already running (pid {first.pid} on " in output
    # The refused run changed nothing: the first one is still in flight, nothing compensated.
    assert get_wave_status(context, wave_id).status == "running"
    with pytest.raises(InputError, match="already running"):
        rollback_wave(context, wave_id)
    kill(first)
    # The holder is dead (same host, pid gone): the next run takes over and resumes.
    code, output = _finish(_start(context, folders, "run", wave_id))
    assert code == 0, output
    assert json.loads(output)["status"] == "completed"
    assert_invariants(context, wave_id)


# -- item 4: rollback killed mid-way ------------------------------------------------------------


def test_rollback_killed_mid_way_says_so_and_completes_when_run_again(
    wave_store: tuple[WaveContext, dict],
    completed_wave: str,
) -> None:
    context, folders = wave_store
    wave_id = completed_wave
    assert_invariants(context, wave_id)
    # Killed after the target rows were deleted, before the compensation committed.
    _kill_at(context, folders, "rollback", wave_id, "compensated_before_commit:migrate:0")
    status = get_wave_status(context, wave_id)
    assert status.status == "compensating" and not _target_ids(context, wave_id)
    with pytest.raises(InputError, match="compensating"):
        reconcile_wave(context, wave_id)  # never "passes" 0 = 0
    assert len(_pending(context, "rollback")) == 1  # flagged by replay until resolved
    assert rollback_wave(context, wave_id).status == "compensated"
    assert _pending(context, "rollback") == []  # the same intent (idempotency key) resolved
    assert_invariants(context, wave_id)
    # And the wave runs again from scratch.
    assert run_wave(context, wave_id).status == "completed"
    assert_invariants(context, wave_id)


def test_wave_run_after_a_killed_rollback_finishes_the_undo_then_runs(
    wave_store: tuple[WaveContext, dict],
    completed_wave: str,
) -> None:
    context, folders = wave_store
    wave_id = completed_wave
    _kill_at(context, folders, "rollback", wave_id, "compensated_before_commit:migrate:0")
    assert run_wave(context, wave_id).status == "completed"  # not "completed, did nothing"
    assert_invariants(context, wave_id)


# -- item 5: automatic compensation killed mid-way ----------------------------------------------


def test_compensation_killed_mid_way_leaves_no_checkpoint_of_deleted_batches(
    wave_store: tuple[WaveContext, dict],
    wave_id: str,
) -> None:
    context, folders = wave_store
    # validate fails -> the run compensates migrate (deletes the rows) -> killed before commit.
    _kill_at(
        context, folders, "run", wave_id, "compensated_before_commit:migrate:0", fail="validate"
    )
    assert get_wave_status(context, wave_id).status == "compensating"
    assert not _target_ids(context, wave_id)
    status = run_wave(context, wave_id)
    assert status.status == "completed", status.error
    assert status.migrated == 600 and len(_target_ids(context, wave_id)) == 600
    assert_invariants(context, wave_id)


# -- item 6: gc, then rollback ------------------------------------------------------------------


def test_gc_then_rollback_keeps_locations_equal_to_the_target(
    wave_store: tuple[WaveContext, dict],
    completed_wave: str,
) -> None:
    context, _ = wave_store
    wave_id = completed_wave
    assert gc(context, older_than=timedelta(0)).waves == [wave_id]
    assert rollback_wave(context, wave_id).status == "compensated"
    assert not _target_ids(context, wave_id)
    assert_invariants(context, wave_id)
    with context.engine.connect() as conn:
        left = conn.execute(
            select(LOCATION.c.policy_id).where(LOCATION.c.wave == wave_id)
        ).scalars()
        assert list(left) == []  # every placement of the wave was undone


# -- item 8: plans skip migrated policies; failed work never exits 0 ----------------------------


def test_a_new_plan_skips_policies_an_earlier_wave_migrated(
    wave_store: tuple[WaveContext, dict],
    completed_wave: str,
) -> None:
    context, _ = wave_store
    wave_id = completed_wave
    with pytest.raises(InputError, match="600 already migrated"):
        generate_plan(context, source_ids=["src-a", "src-b"], target="new_platform")
    assert rollback_wave(context, wave_id).status == "compensated"
    again = generate_plan(context, source_ids=["src-a", "src-b"], target="NewPlatformAPI")
    assert again.summary["policies"] == 600 and again.summary["already_migrated"] == 0


# -- the state machine: a seeded random schedule with kills, invariants after every step --------


def _maybe_kill(context: WaveContext, folders: dict, action: str, wave_id: str, stop: str) -> str:
    """Run ``action``; SIGKILL it if it reaches ``stop`` (it may end first: a finished wave)."""
    proc = _start(context, folders, action, wave_id, stop)
    if not reached(proc, context.settings.home, stop):
        out, err = proc.communicate()
        return f"ended ({proc.returncode}): {(out + err).strip()[-200:]}"
    kill(proc)
    return "killed"


KILL_POINTS = [
    "before_work:map_to_canonical:0",
    "after_work:route:1",
    "before_work:migrate:1",
    "after_work:migrate:0",
    "after_commit:migrate:1",
    "before_work:validate:0",
]
UNDO_POINTS = [
    "compensated_before_commit:migrate:0",
    "compensated_before_commit:route:0",
    "compensated_before_commit:map_to_canonical:0",
]


@pytest.mark.parametrize("seed", [13])
def test_random_schedule_with_kills_keeps_every_invariant(
    wave_store: tuple[WaveContext, dict], seed: int
) -> None:
    import random

    from tools.routing.overrides import reroute_policy

    context, folders = wave_store
    rng = random.Random(seed)
    plan = generate_plan(
        context,
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(batch_size=100, wave0_max_size=200, max_wave_size=200),
    )
    waves = [w.wave_id for w in plan.waves]
    members = {
        w: [f"A{i:06d}" for i in range(0, 450, 7)] + [f"B{i:06d}" for i in range(0, 150, 7)]
        for w in waves
    }
    log: list[str] = []
    for step in range(12):
        wave_id = rng.choice(waves)
        action = rng.choice(
            ["run", "run", "kill-run", "rollback", "kill-rollback", "reroute", "gc"]
        )
        if action == "run":
            outcome = str(run_wave(context, wave_id).status)
        elif action == "kill-run":
            outcome = _maybe_kill(context, folders, "run", wave_id, rng.choice(KILL_POINTS))
        elif action == "rollback":
            outcome = str(rollback_wave(context, wave_id).status)
        elif action == "kill-rollback":
            outcome = _maybe_kill(context, folders, "rollback", wave_id, rng.choice(UNDO_POINTS))
        elif action == "reroute":
            policy = rng.choice(members[wave_id])
            try:
                reroute_policy(context.engine, policy, "legacy_batch", "schedule", tenant="default")
                outcome = f"rerouted {policy}"
            except DataMashError as exc:
                outcome = f"refused {policy}: {exc.what[:60]}"
        else:
            outcome = f"gc {gc(context, older_than=timedelta(0)).waves}"
        log.append(f"{step}: {action} {wave_id} -> {outcome}")
        for each in waves:
            try:
                assert_invariants(context, each)
            except AssertionError as exc:
                raise AssertionError(f"after {log}: wave {each}: {exc}") from exc
    # Every interrupted undo resolves when run again; no audit intent of an undo stays pending.
    for each in waves:
        if get_wave_status(context, each).status in ("compensating", "failed", "running"):
            assert rollback_wave(context, each).status == "compensated", log
        assert_invariants(context, each)
    assert _pending(context, "rollback") == [], log
    print("\n".join(log))  # the schedule, for -s
