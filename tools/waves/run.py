"""Running, resuming, cancelling and rolling back a wave (the saga of :mod:`tools.waves.saga`).

``run_wave`` on a wave that has not run checks its gates (a failing gate blocks it unless
overridden), then runs the milestones. On a wave whose previous run was interrupted (status
``running`` after a crash, or ``cancelled``) it resumes: completed milestones and committed
batches are skipped. When a milestone fails, the milestones that started are compensated in
reverse order (the failing one first, since it may have done part of its work) and the wave ends
``compensated`` (or ``failed`` when a compensation itself failed; ``rollback_wave`` retries it).

A run and a rollback hold the wave's store lease (``wave:<id>``, :mod:`core.store.leases`): a
second process is refused with the holder's pid, host and start; a dead holder is taken over.
While an undo runs the wave is ``compensating``; an undo killed part-way is finished by the next
``rollback_wave`` (same audit intent) or ``run_wave`` (before it runs the wave afresh).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from core.errors import InputError
from core.logs import get_logger
from core.retry import describe
from core.store.leases import Lease, hold_lease
from core.store.models import utcnow
from core.tracing import span
from tools.audit import AuditLog
from tools.waves.context import WaveContext
from tools.waves.contracts import PlanCriteria, StepState, WaveStatus
from tools.waves.gates.check import check_gates
from tools.waves.milestones import default_milestones
from tools.waves.saga import (
    Milestone,
    Progress,
    WaveCancelled,
    compensate_step,
    save_step,
    step_context,
)
from tools.waves.state import (
    NAMESPACE,
    get_wave_status,
    load_wave,
    set_wave,
    status_of,
    steps_of,
    update_wave,
    wave_row,
)
from tools.waves.statuses import WaveState

_log = get_logger(__name__)

PENDING, RUNNING, FAILED = WaveState.PENDING, WaveState.RUNNING, WaveState.FAILED
CANCELLED, COMPENSATING, COMPENSATED, COMPLETED = (
    WaveState.CANCELLED,
    WaveState.COMPENSATING,
    WaveState.COMPENSATED,
    WaveState.COMPLETED,
)
_STARTED = (RUNNING, COMPLETED, FAILED, CANCELLED)


class GateBlocked(InputError):
    """A failing, not overridden gate blocks the wave."""


def _start(context: WaveContext, wave_id: str, plan: Any) -> None:
    """A fresh run: gates first, then a new run number and clean per-milestone state."""
    report = check_gates(context, wave_id)
    if not report.passed:
        blocked = [r for r in report.results if not (r.passed or r.overridden)]
        what = "; ".join(
            f"{r.gate} ({r.failing} failing"
            f"{', e.g. ' + ', '.join(r.sample[:3]) if r.sample else ''}: {r.detail})"
            for r in blocked
        )
        raise GateBlocked(
            f"wave {wave_id} is blocked by gate(s): {what}",
            where=wave_id,
            fix=f"fix the data, or override: data-mash gates {wave_id} "
            f'--override {blocked[0].gate} --reason "..."',
        )
    criteria = PlanCriteria.model_validate(plan.criteria)
    with context.engine.begin() as conn:
        row = wave_row(conn, context.tenant, wave_id)
        update_wave(
            conn,
            context.tenant,
            wave_id,
            status=RUNNING,
            run_no=row.run_no + 1,
            steps={},
            error=None,
            validation=None,
            migrated=0,
            failed=0,
            batch_size=criteria.batch_size or context.settings.batch_size,
            started_at=utcnow(),
            finished_at=None,
        )


def run_wave(
    context: WaveContext,
    wave_id: str,
    *,
    milestones: Sequence[Milestone] | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> WaveStatus:
    """Run (or resume) a wave's saga; compensate in reverse order if a milestone fails.

    Args:
        context: Store, settings, tenant and collaborators.
        wave_id: The wave.
        milestones: The saga's steps (default: :func:`tools.waves.milestones.default_milestones`).
        cancel: Set it to stop at the next batch boundary (status ``cancelled``; run again to
            resume).
        progress: ``progress(milestone, done, total)`` after every batch.

    Returns:
        The wave's status afterwards (``completed``, ``compensated``, ``failed``, ``cancelled``).

    Raises:
        GateBlocked: a gate failed and was not overridden (nothing ran).
        LeaseHeld: another live process runs or rolls back this wave (it is named).
        NotFoundError: no such wave.
    """
    milestones = default_milestones() if milestones is None else milestones
    with hold_wave(context, wave_id, f"wave run {wave_id}"):
        return _run(context, wave_id, milestones, cancel, progress)


def hold_wave(context: WaveContext, wave_id: str, what: str) -> AbstractContextManager[Lease]:
    """The wave's lease: one process at a time runs or rolls back a wave."""
    return hold_lease(context.engine, context.tenant, f"wave:{wave_id}", what=what)


def _run(
    context: WaveContext,
    wave_id: str,
    milestones: Sequence[Milestone],
    cancel: threading.Event | None,
    progress: Progress | None,
) -> WaveStatus:
    row, plan = load_wave(context, wave_id)
    if row.status == COMPLETED:
        return status_of(row)
    if row.status in (COMPENSATING, FAILED):
        # An undo was interrupted (killed) or failed: finish it before anything runs again, so
        # no checkpoint or audit entry of a batch whose rows it deleted survives into the run.
        if _finish_undo(context, row, milestones, progress) != COMPENSATED:
            return get_wave_status(context, wave_id)
        row, plan = load_wave(context, wave_id)
    if row.status not in (RUNNING, CANCELLED):
        _start(context, wave_id, plan)
    row, plan = load_wave(context, wave_id)
    set_wave(context, wave_id, status=RUNNING)
    log = AuditLog(context.engine, tenant=context.tenant)
    steps = steps_of(row)
    with log.operation(
        NAMESPACE,
        "run",
        target=wave_id,
        payload={"run_no": row.run_no},
        idempotency_key=f"wave:{wave_id}:run:{row.run_no}",
    ) as run_op:
        set_wave(context, wave_id, entry_id=run_op.entry_id)
        for index, milestone in enumerate(milestones):
            step = steps.get(milestone.name, StepState())
            if step.status == COMPLETED:
                continue
            try:
                steps[milestone.name] = _run_step(
                    context, row, plan, milestone, step, run_op.entry_id, cancel, progress
                )
            except WaveCancelled as exc:
                set_wave(context, wave_id, status=CANCELLED, error=str(exc))
                run_op.outcome = {"status": CANCELLED, "milestone": milestone.name}
                return get_wave_status(context, wave_id)
            except Exception as exc:  # noqa: BLE001  (any failure: compensate, then report)
                error = f"{milestone.name} failed {describe(exc)}"[:2000]
                set_wave(context, wave_id, status=FAILED, error=error)
                final = _compensate(context, wave_id, milestones[: index + 1], progress=progress)
                run_op.outcome = {"status": final, "milestone": milestone.name, "error": error}
                return get_wave_status(context, wave_id)
        final_row, _ = load_wave(context, wave_id)
        totals = steps_of(final_row).get("migrate", StepState()).outcome
        migrated = int(totals.get("written", 0))
        # Policies the wave's rules routed to another system were not migrated by decision:
        # they are not failures (they show as "skipped" in the migrate milestone's outcome).
        elsewhere = int(totals.get("skipped", 0))
        set_wave(
            context,
            wave_id,
            status=COMPLETED,
            error=None,
            migrated=migrated,
            failed=max(final_row.policy_count - migrated - elsewhere, 0),
            finished_at=utcnow(),
        )
        run_op.outcome = {"status": COMPLETED, "migrated": migrated}
    return get_wave_status(context, wave_id)


def _run_step(
    context: WaveContext,
    row: Any,
    plan: Any,
    milestone: Milestone,
    step: StepState,
    parent: int,
    cancel: threading.Event | None,
    progress: Progress | None,
) -> StepState:
    log = AuditLog(context.engine, tenant=context.tenant)
    with log.operation(
        NAMESPACE,
        milestone.name,
        target=row.wave_id,
        parent_id=parent,
        payload={"run_no": row.run_no},
        idempotency_key=f"wave:{row.wave_id}:{milestone.name}",
    ) as op:
        if op.completed:  # finished before a crash hid it from the wave row
            done = step.model_copy(
                update={"status": COMPLETED, "entry_id": op.entry_id, "outcome": op.outcome or {}}
            )
            save_step(context, row.wave_id, milestone.name, done)
            return done
        step = step.model_copy(update={"status": RUNNING, "entry_id": op.entry_id, "error": None})
        save_step(context, row.wave_id, milestone.name, step)
        ctx = step_context(
            context, row, plan, milestone.name, op.entry_id, cancel=cancel, progress=progress
        )
        try:
            with span("wave.milestone", wave_id=row.wave_id, milestone=milestone.name):
                outcome = milestone.run(ctx) or {}
        except WaveCancelled:
            save_step(
                context,
                row.wave_id,
                milestone.name,
                step.model_copy(
                    update={
                        "status": CANCELLED,
                        "batches": ctx.batches_run,
                        "resumed_batches": ctx.resumed_batches,
                    }
                ),
            )
            raise
        except Exception as exc:
            save_step(
                context,
                row.wave_id,
                milestone.name,
                step.model_copy(
                    update={
                        "status": FAILED,
                        "error": f"{type(exc).__name__}: {exc}"[:2000],
                        "batches": ctx.batches_run,
                        "resumed_batches": ctx.resumed_batches,
                    }
                ),
            )
            raise
        done = step.model_copy(
            update={
                "status": COMPLETED,
                "outcome": outcome,
                "batches": ctx.batches_run,
                "resumed_batches": ctx.resumed_batches,
            }
        )
        op.outcome = outcome
        with op.atomic() as conn:
            save_step(context, row.wave_id, milestone.name, done, conn)
    _log.info(
        "wave_milestone_completed",
        wave_id=row.wave_id,
        milestone=milestone.name,
        batches=ctx.batches_run,
        resumed_batches=ctx.resumed_batches,
    )
    return done


def _compensate(
    context: WaveContext,
    wave_id: str,
    milestones: Sequence[Milestone],
    *,
    progress: Progress | None,
) -> WaveState:
    """Compensate the started milestones in reverse order; the wave's final status."""
    # Until the undo commits, the wave says so: the target may hold any part of it.
    set_wave(context, wave_id, status=COMPENSATING, finished_at=None)
    row, plan = load_wave(context, wave_id)
    steps = steps_of(row)
    try:
        for milestone in reversed(milestones):
            step = steps.get(milestone.name, StepState())
            if step.status not in _STARTED:
                continue
            ctx = step_context(
                context, row, plan, milestone.name, step.entry_id or 0, progress=progress
            )
            compensate_step(ctx, milestone, step)
    except Exception as exc:  # noqa: BLE001  (leave it failed; rollback_wave retries)
        with context.engine.begin() as conn:
            error = f"compensation failed: {type(exc).__name__}: {exc}"[:2000]
            current = wave_row(conn, context.tenant, wave_id).error
            update_wave(
                conn,
                context.tenant,
                wave_id,
                status=FAILED,
                error=f"{current}; {error}" if current else error,
                finished_at=utcnow(),
            )
        return FAILED
    set_wave(
        context,
        wave_id,
        status=COMPENSATED,
        migrated=0,
        validation=None,
        finished_at=utcnow(),
    )
    return COMPENSATED


def rollback_wave(
    context: WaveContext,
    wave_id: str,
    *,
    milestones: Sequence[Milestone] | None = None,
    progress: Progress | None = None,
) -> WaveStatus:
    """Compensate every milestone a wave ran, newest first (audited, idempotent, resumable).

    A rollback that was killed part-way is finished by running it again (or by ``run_wave``,
    which finishes the undo before it runs the wave afresh); until then the wave is
    ``compensating``.

    Raises:
        LeaseHeld: another live process runs or rolls back this wave (it is named).
        NotFoundError: no such wave.
    """
    milestones = default_milestones() if milestones is None else milestones
    with hold_wave(context, wave_id, f"wave rollback {wave_id}"):
        row, _ = load_wave(context, wave_id)
        if row.status in (PENDING, COMPENSATED):
            return status_of(row)
        # Holding the lease, a wave marked running has no live process: its run died.
        _rollback(context, row, milestones, progress)
    return get_wave_status(context, wave_id)


def _rollback(
    context: WaveContext, row: Any, milestones: Sequence[Milestone], progress: Progress | None
) -> WaveState:
    """Undo the wave's run ``row.run_no`` under one audit intent, resumed by the same key."""
    log = AuditLog(context.engine, tenant=context.tenant)
    with log.operation(
        NAMESPACE,
        "rollback",
        target=row.wave_id,
        payload={"run_no": row.run_no},
        parent_id=row.entry_id,
        idempotency_key=f"wave:{row.wave_id}:rollback:{row.run_no}",
    ) as op:
        final = _compensate(context, row.wave_id, milestones, progress=progress)
        op.outcome = {"status": final}
    return final


def _finish_undo(
    context: WaveContext, row: Any, milestones: Sequence[Milestone], progress: Progress | None
) -> WaveState:
    """Finish an interrupted undo, resolving the audit intent that started it."""
    log = AuditLog(context.engine, tenant=context.tenant)
    with log.operation(
        NAMESPACE,
        "run",
        target=row.wave_id,
        payload={"run_no": row.run_no},
        idempotency_key=f"wave:{row.wave_id}:run:{row.run_no}",
    ) as run_op:
        if not run_op.completed:  # the run died while compensating its own failure
            final = _compensate(context, row.wave_id, milestones, progress=progress)
            run_op.outcome = {"status": final, "resumed": "compensation"}
            return final
    return _rollback(context, row, milestones, progress)
