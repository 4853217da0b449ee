"""Running, resuming, cancelling and rolling back a wave (the saga of :mod:`tools.waves.saga`).

``run_wave`` on a wave that has not run checks its gates (a failing gate blocks it unless
overridden), then runs the milestones. On a wave whose previous run was interrupted (status
``running`` after a crash, or ``cancelled``) it resumes: completed milestones and committed
batches are skipped. When a milestone fails, the milestones that started are compensated in
reverse order (the failing one first, since it may have done part of its work) and the wave ends
``compensated`` (or ``failed`` when a compensation itself failed; ``rollback_wave`` retries it).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from core.errors import InputError
from core.store.models import utcnow
from tools.audit import AuditLog
from tools.waves.gates.check import check_gates
from tools.waves.records import (
    CANCELLED,
    COMPENSATED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    PlanCriteria,
    StepState,
    WaveStatus,
)
from tools.waves.saga import (
    Milestone,
    Progress,
    StepContext,
    WaveCancelled,
    compensate_step,
    save_step,
)
from tools.waves.services import WaveServices
from tools.waves.state import NAMESPACE, plan_row, status_of, steps_of, update_wave, wave_row

_STARTED = ("running", "completed", "failed", "cancelled")


class GateBlocked(InputError):
    """A failing, not overridden gate blocks the wave."""


def _context(
    services: WaveServices,
    row: Any,
    plan: Any,
    name: str,
    entry_id: int,
    cancel: threading.Event | None,
    progress: Progress | None,
) -> StepContext:
    criteria = PlanCriteria.model_validate(plan.criteria)
    return StepContext(
        services=services,
        wave_id=row.wave_id,
        plan_id=row.plan_id,
        target=row.target,
        criteria=criteria,
        canonical=plan.canonical,
        milestone=name,
        entry_id=entry_id,
        batch_size=row.batch_size or criteria.batch_size or services.settings.batch_size,
        run_no=row.run_no,
        cancel=cancel,
        progress=progress,
        log=AuditLog(services.engine, tenant=services.tenant),
    )


def _load(services: WaveServices, wave_id: str) -> tuple[Any, Any]:
    with services.engine.connect() as conn:
        row = wave_row(conn, services.tenant, wave_id)
        return row, plan_row(conn, services.tenant, row.plan_id)


def _start(services: WaveServices, wave_id: str, plan: Any) -> None:
    """A fresh run: gates first, then a new run number and clean per-milestone state."""
    report = check_gates(services, wave_id)
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
    with services.engine.begin() as conn:
        row = wave_row(conn, services.tenant, wave_id)
        update_wave(
            conn,
            services.tenant,
            wave_id,
            status=RUNNING,
            run_no=row.run_no + 1,
            steps={},
            error=None,
            validation=None,
            migrated=0,
            failed=0,
            batch_size=criteria.batch_size or services.settings.batch_size,
            started_at=utcnow(),
            finished_at=None,
        )


def run_wave(
    services: WaveServices,
    wave_id: str,
    *,
    milestones: Sequence[Milestone] | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> WaveStatus:
    """Run (or resume) a wave's saga; compensate in reverse order if a milestone fails.

    Args:
        services: Collaborators of the tenant.
        wave_id: The wave.
        milestones: The saga's steps (default: :func:`tools.waves.milestones.default_milestones`).
        cancel: Set it to stop at the next batch boundary (status ``cancelled``; run again to
            resume).
        progress: ``progress(milestone, done, total)`` after every batch.

    Returns:
        The wave's status afterwards (``completed``, ``compensated``, ``failed``, ``cancelled``).

    Raises:
        GateBlocked: a gate failed and was not overridden (nothing ran).
        NotFoundError: no such wave.
    """
    if milestones is None:
        from tools.waves.milestones import default_milestones

        milestones = default_milestones()
    row, plan = _load(services, wave_id)
    if row.status == COMPLETED:
        return status_of(row)
    if row.status not in (RUNNING, CANCELLED):
        _start(services, wave_id, plan)
    row, plan = _load(services, wave_id)
    update_wave_values = {"status": RUNNING}
    with services.engine.begin() as conn:
        update_wave(conn, services.tenant, wave_id, **update_wave_values)
    log = AuditLog(services.engine, tenant=services.tenant)
    steps = steps_of(row)
    with log.operation(
        NAMESPACE,
        "run",
        target=wave_id,
        payload={"run_no": row.run_no},
        idempotency_key=f"wave:{wave_id}:run:{row.run_no}",
    ) as run_op:
        with services.engine.begin() as conn:
            update_wave(conn, services.tenant, wave_id, entry_id=run_op.entry_id)
        for index, milestone in enumerate(milestones):
            step = steps.get(milestone.name, StepState())
            if step.status == "completed":
                continue
            try:
                steps[milestone.name] = _run_step(
                    services, row, plan, milestone, step, run_op.entry_id, cancel, progress
                )
            except WaveCancelled as exc:
                with services.engine.begin() as conn:
                    update_wave(conn, services.tenant, wave_id, status=CANCELLED, error=str(exc))
                run_op.outcome = {"status": CANCELLED, "milestone": milestone.name}
                return _status(services, wave_id)
            except Exception as exc:  # noqa: BLE001  (any failure: compensate, then report)
                error = f"{milestone.name} failed: {type(exc).__name__}: {exc}"[:2000]
                with services.engine.begin() as conn:
                    update_wave(conn, services.tenant, wave_id, status=FAILED, error=error)
                final = _compensate(
                    services, wave_id, milestones[: index + 1], cancel=None, progress=progress
                )
                run_op.outcome = {"status": final, "milestone": milestone.name, "error": error}
                return _status(services, wave_id)
        final_row, _ = _load(services, wave_id)
        totals = steps_of(final_row).get("migrate", StepState()).outcome
        migrated = int(totals.get("written", 0))
        # Policies the wave's rules routed to another system were not migrated by decision:
        # they are not failures (they show as "skipped" in the migrate milestone's outcome).
        elsewhere = int(totals.get("skipped", 0))
        with services.engine.begin() as conn:
            update_wave(
                conn,
                services.tenant,
                wave_id,
                status=COMPLETED,
                error=None,
                migrated=migrated,
                failed=max(final_row.policy_count - migrated - elsewhere, 0),
                finished_at=utcnow(),
            )
        run_op.outcome = {"status": COMPLETED, "migrated": migrated}
    return _status(services, wave_id)


def _run_step(
    services: WaveServices,
    row: Any,
    plan: Any,
    milestone: Milestone,
    step: StepState,
    parent: int,
    cancel: threading.Event | None,
    progress: Progress | None,
) -> StepState:
    log = AuditLog(services.engine, tenant=services.tenant)
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
                update={"status": "completed", "entry_id": op.entry_id, "outcome": op.outcome or {}}
            )
            save_step(services, row.wave_id, milestone.name, done)
            return done
        step = step.model_copy(update={"status": "running", "entry_id": op.entry_id, "error": None})
        save_step(services, row.wave_id, milestone.name, step)
        ctx = _context(services, row, plan, milestone.name, op.entry_id, cancel, progress)
        try:
            outcome = milestone.run(ctx) or {}
        except WaveCancelled:
            save_step(
                services,
                row.wave_id,
                milestone.name,
                step.model_copy(
                    update={
                        "status": "cancelled",
                        "batches": ctx.batches_run,
                        "resumed_batches": ctx.resumed_batches,
                    }
                ),
            )
            raise
        except Exception as exc:
            save_step(
                services,
                row.wave_id,
                milestone.name,
                step.model_copy(
                    update={
                        "status": "failed",
                        "error": f"{type(exc).__name__}: {exc}"[:2000],
                        "batches": ctx.batches_run,
                        "resumed_batches": ctx.resumed_batches,
                    }
                ),
            )
            raise
        done = step.model_copy(
            update={
                "status": "completed",
                "outcome": outcome,
                "batches": ctx.batches_run,
                "resumed_batches": ctx.resumed_batches,
            }
        )
        op.outcome = outcome
        with op.atomic() as conn:
            save_step(services, row.wave_id, milestone.name, done, conn)
    return done


def _compensate(
    services: WaveServices,
    wave_id: str,
    milestones: Sequence[Milestone],
    *,
    cancel: threading.Event | None,
    progress: Progress | None,
) -> str:
    """Compensate the started milestones in reverse order; the wave's final status."""
    row, plan = _load(services, wave_id)
    steps = steps_of(row)
    try:
        for milestone in reversed(milestones):
            step = steps.get(milestone.name, StepState())
            if step.status not in _STARTED:
                continue
            ctx = _context(
                services, row, plan, milestone.name, step.entry_id or 0, cancel, progress
            )
            compensate_step(ctx, milestone, step)
    except Exception as exc:  # noqa: BLE001  (leave it failed; rollback_wave retries)
        with services.engine.begin() as conn:
            error = f"compensation failed: {type(exc).__name__}: {exc}"[:2000]
            current = wave_row(conn, services.tenant, wave_id).error
            update_wave(
                conn,
                services.tenant,
                wave_id,
                status=FAILED,
                error=f"{current}; {error}" if current else error,
                finished_at=utcnow(),
            )
        return FAILED
    with services.engine.begin() as conn:
        update_wave(
            conn,
            services.tenant,
            wave_id,
            status=COMPENSATED,
            migrated=0,
            validation=None,
            finished_at=utcnow(),
        )
    return COMPENSATED


def rollback_wave(
    services: WaveServices,
    wave_id: str,
    *,
    milestones: Sequence[Milestone] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> WaveStatus:
    """Compensate every milestone a wave ran, newest first (audited, idempotent).

    Raises:
        InputError: the wave is running (pass ``force`` if its process is known to be dead).
        NotFoundError: no such wave.
    """
    if milestones is None:
        from tools.waves.milestones import default_milestones

        milestones = default_milestones()
    row, _ = _load(services, wave_id)
    if row.status in (PENDING, COMPENSATED):
        return status_of(row)
    if row.status == RUNNING and not force:
        raise InputError(
            f"wave {wave_id} is running",
            where=wave_id,
            fix="cancel it first; if its process died, run it again to resume "
            "or roll back with force",
        )
    log = AuditLog(services.engine, tenant=services.tenant)
    with log.operation(
        NAMESPACE,
        "rollback",
        target=wave_id,
        payload={"run_no": row.run_no},
        parent_id=row.entry_id,
    ) as op:
        final = _compensate(services, wave_id, milestones, cancel=None, progress=progress)
        op.outcome = {"status": final}
    return _status(services, wave_id)


def _status(services: WaveServices, wave_id: str) -> WaveStatus:
    with services.engine.connect() as conn:
        return status_of(wave_row(conn, services.tenant, wave_id))
