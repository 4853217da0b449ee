"""The saga engine: milestones run in order, batch by batch, each batch checkpointed; on failure
the milestones that started are compensated in reverse order.

Durability (ARCHITECTURE section 5):

* every milestone is a write-ahead audit entry (key ``wave:{wave_id}:{milestone}``, parent the
  run's entry); every batch inside it is one too (key ``wave:{wave_id}:{milestone}:{batch_no}``),
  and the batch's database effects, its ``wave_checkpoint`` row and its ``ok`` outcome commit in
  one transaction. After a crash, running the wave again skips every committed batch and redoes
  at most the one in flight (targets upsert, files are rewritten whole), so nothing is written
  twice and nothing is missed;
* a compensation is an audit entry whose parent is the milestone's entry; it undoes everything
  the milestone did for the wave (committed batches and the one in flight), is idempotent, and
  marks the milestone's entries ``compensated``;
* cancellation (a ``threading.Event``) is honoured at batch boundaries only.

Milestones are plain callables (:class:`Milestone`), so the engine is tested with fakes and the
real wiring lives in :mod:`tools.waves.milestones`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, delete, select

from core.logs import get_logger
from core.metrics import COMPENSATIONS, count, observe_batch
from core.store.models import AuditEntry, table_of, utcnow
from core.tracing import span
from tools.audit import AuditLog, AuditStatus, Operation
from tools.waves.context import WaveContext
from tools.waves.contracts import PlanCriteria, StepState
from tools.waves.state import CHECKPOINT, NAMESPACE, update_wave, wave_row
from tools.waves.statuses import WaveState

ENTRY = table_of(AuditEntry)
T = TypeVar("T")
#: progress(milestone, done, total_or_None)
Progress = Callable[[str, int, int | None], None]
#: Test hook called at ("before_work" | "after_work" | "after_commit", milestone, batch_no) and
#: at ("compensated_before_commit", milestone, 0) between an undo and its commit.
HOOK: Callable[[str, str, int], None] | None = None
_log = get_logger(__name__)


class WaveCancelled(Exception):
    """The run was cancelled; it stopped at a batch boundary and can be resumed."""


@dataclass(frozen=True)
class Milestone:
    """One step of the saga: ``run`` does it, ``compensate`` undoes it (idempotently)."""

    name: str
    run: Callable[[StepContext], dict[str, Any] | None]
    compensate: Callable[[StepContext], dict[str, Any] | None]


@dataclass
class BatchScope:
    """What one batch reports: rows handled, outcome fields, database writes to commit with it."""

    rows: int = 0
    outcome: dict[str, Any] = field(default_factory=dict)
    commits: list[Callable[[Connection, int], object]] = field(default_factory=list)

    def on_commit(self, write: Callable[[Connection, int], object]) -> None:
        """Run ``write(conn, entry_id)`` in the batch's checkpoint transaction."""
        self.commits.append(write)


@dataclass
class StepContext:
    """What a milestone (or its compensation) gets: the wave, its plan, checkpointed batches."""

    context: WaveContext
    wave_id: str
    plan_id: str
    target: str
    criteria: PlanCriteria
    canonical: str
    milestone: str
    entry_id: int
    batch_size: int
    run_no: int
    cancel: threading.Event | None = None
    progress: Progress | None = None
    log: AuditLog | None = None
    resumed_batches: int = 0
    batches_run: int = 0
    #: During a compensation: the audit entry of the milestone being undone.
    step_entry_id: int | None = None
    _done: int = 0

    @property
    def tenant(self) -> str:
        return self.context.tenant

    @property
    def engine(self) -> Engine:
        return self.context.engine

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise WaveCancelled(f"wave {self.wave_id} cancelled during {self.milestone}")

    def committed(self, milestone: str | None = None) -> dict[int, Any]:
        """The committed checkpoints of a milestone (default: this one), by batch number."""
        with self.context.engine.connect() as conn:
            rows = conn.execute(
                select(CHECKPOINT).where(
                    and_(
                        CHECKPOINT.c.tenant == self.tenant,
                        CHECKPOINT.c.wave_id == self.wave_id,
                        CHECKPOINT.c.milestone == (milestone or self.milestone),
                    )
                )
            ).all()
        return {r.batch_no: r for r in rows}

    def batch_entries(self, milestone: str, step_entry: int | None) -> list[int]:
        """Audit entries of a milestone's batches (done or in flight), oldest first.

        The audit log, not the checkpoints, is the record of what a milestone did: ``gc``
        archives checkpoints, and an undo must still find every batch afterwards.
        """
        if step_entry is None:
            return []
        with self.context.engine.connect() as conn:
            return list(
                conn.execute(
                    select(ENTRY.c.id)
                    .where(
                        and_(
                            ENTRY.c.tenant == self.tenant,
                            ENTRY.c.parent_id == step_entry,
                            ENTRY.c.operation == f"{milestone}.batch",
                            ENTRY.c.status.in_([AuditStatus.OK, AuditStatus.PENDING]),
                        )
                    )
                    .order_by(ENTRY.c.id)
                ).scalars()
            )

    def run_batches(
        self,
        items: Iterable[T],
        work: Callable[[int, Any, BatchScope], None],
        *,
        policy_ids: Callable[[T], Sequence[str]] | None = None,
        total: int | None = None,
        compute: Callable[[Any], Any] | None = None,
        task_input: Callable[[T], Any] | None = None,
    ) -> dict[str, Any]:
        """Run ``work`` per item, one audited, checkpointed batch each; skip committed ones.

        ``items`` must come in the same order on every run (batch numbers are positions).
        With ``compute`` (a picklable task function), ``compute(task_input(item))`` runs on the
        wave's executor (:mod:`core.executors`; ``task_input`` defaults to the item itself) and
        ``work`` gets ``(item, result)``; the batch's audit intent is committed before its task
        is submitted, and results are committed in batch order, so a crash redoes at most the
        executor's window of batches.
        Returns the milestone's totals over every committed batch (this run's and earlier).
        """
        assert self.log is not None
        done_before = self.committed()
        self._done = 0
        if compute is None:
            for batch_no, item in enumerate(items):
                self.check_cancel()
                if self._skip(batch_no, done_before, total):
                    continue
                with self._batch(batch_no, item, policy_ids) as op:
                    if op.completed:  # committed by a run whose checkpoint we did not see
                        continue
                    self._finish(op, batch_no, item, work, total)
            return self.totals()
        opened: deque[tuple[int, Any, AbstractContextManager[Operation], Operation]] = deque()

        def submitted() -> Iterator[Any]:
            for batch_no, item in enumerate(items):
                self.check_cancel()
                if self._skip(batch_no, done_before, total):
                    continue
                manager = self._batch(batch_no, item, policy_ids)
                op = manager.__enter__()
                if op.completed:
                    manager.__exit__(None, None, None)
                    continue
                opened.append((batch_no, item, manager, op))
                if HOOK:
                    HOOK("before_work", self.milestone, batch_no)
                yield item if task_input is None else task_input(item)

        try:
            for result in self.context.executor.map(compute, submitted()):
                batch_no, item, manager, op = opened.popleft()
                try:
                    self._finish(op, batch_no, (item, result), work, total, hooked=True)
                except BaseException as exc:
                    if not manager.__exit__(type(exc), exc, exc.__traceback__):
                        raise
                else:
                    manager.__exit__(None, None, None)
        except BaseException as exc:
            # Batches in flight fail with the run; a resumed run redoes them (same keys).
            while opened:
                _, _, manager, _ = opened.popleft()
                manager.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self.totals()

    def _skip(self, batch_no: int, done_before: dict[int, Any], total: int | None) -> bool:
        if batch_no not in done_before:
            return False
        self.resumed_batches += 1
        self._done += done_before[batch_no].rows
        self._report(self._done, total)
        return True

    def _batch(
        self, batch_no: int, item: Any, policy_ids: Callable[[Any], Sequence[str]] | None
    ) -> AbstractContextManager[Operation]:
        """The batch's write-ahead audit operation (its intent commits on entering)."""
        assert self.log is not None
        ids = list(policy_ids(item)) if policy_ids else []
        return self.log.operation(
            NAMESPACE,
            f"{self.milestone}.batch",
            target=self.wave_id,
            payload={"batch_no": batch_no, "policies": len(ids)},
            idempotency_key=f"wave:{self.wave_id}:{self.milestone}:{batch_no}",
            policy_ids=ids,
            parent_id=self.entry_id,
        )

    def _finish(
        self,
        op: Operation,
        batch_no: int,
        item: Any,
        work: Callable[[int, Any, BatchScope], None],
        total: int | None,
        *,
        hooked: bool = False,
    ) -> None:
        """Do the batch's driver-side work and commit it with its checkpoint."""
        started = time.perf_counter()
        if HOOK and not hooked:
            HOOK("before_work", self.milestone, batch_no)
        scope = BatchScope()
        with span("wave.batch", wave_id=self.wave_id, milestone=self.milestone, batch_no=batch_no):
            work(batch_no, item, scope)
        if HOOK:
            HOOK("after_work", self.milestone, batch_no)
        op.outcome = {"batch_no": batch_no, "rows": scope.rows, **scope.outcome}
        with op.atomic() as conn:
            for write in scope.commits:
                write(conn, op.entry_id)
            conn.execute(
                CHECKPOINT.insert().values(
                    tenant=self.tenant,
                    wave_id=self.wave_id,
                    milestone=self.milestone,
                    batch_no=batch_no,
                    rows=scope.rows,
                    outcome=scope.outcome,
                    entry_id=op.entry_id,
                    created_at=utcnow(),
                )
            )
        seconds = time.perf_counter() - started
        observe_batch(self.milestone, scope.rows, seconds)
        _log.info(
            "wave_batch_committed",
            wave_id=self.wave_id,
            milestone=self.milestone,
            batch_no=batch_no,
            rows=scope.rows,
            seconds=round(seconds, 3),
        )
        if HOOK:
            HOOK("after_commit", self.milestone, batch_no)
        self.batches_run += 1
        self._done += scope.rows
        self._report(self._done, total)

    def totals(self, milestone: str | None = None) -> dict[str, Any]:
        """Sum of every numeric field over a milestone's committed checkpoints."""
        sums: dict[str, Any] = {"batches": 0, "rows": 0}
        for row in self.committed(milestone).values():
            sums["batches"] += 1
            sums["rows"] += row.rows
            for key, value in (row.outcome or {}).items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    sums[key] = sums.get(key, 0) + value
        return sums

    def _report(self, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(self.milestone, done, total)


def save_step(
    context: WaveContext,
    wave_id: str,
    name: str,
    step: StepState,
    conn: Connection | None = None,
    **wave_values: Any,
) -> None:
    """Store one milestone's state on the wave row (in ``conn`` or its own transaction)."""

    def write(c: Connection) -> None:
        steps = dict(wave_row(c, context.tenant, wave_id).steps or {})
        steps[name] = step.model_dump(mode="json")
        update_wave(c, context.tenant, wave_id, steps=steps, **wave_values)

    if conn is not None:
        write(conn)
        return
    with context.engine.begin() as own:
        write(own)


def compensate_step(ctx: StepContext, milestone: Milestone, step: StepState) -> StepState:
    """Undo one milestone (logged, idempotent); marks its entries compensated."""
    assert ctx.log is not None
    key = f"wave:{ctx.wave_id}:{milestone.name}:compensate:{ctx.run_no}"
    with ctx.log.operation(
        NAMESPACE,
        f"compensate.{milestone.name}",
        target=ctx.wave_id,
        payload={"milestone": milestone.name},
        idempotency_key=key,
        parent_id=step.entry_id,
    ) as op:
        if op.completed:
            return step.model_copy(
                update={"status": WaveState.COMPENSATED, "compensation_entry_id": op.entry_id}
            )
        ctx.entry_id = op.entry_id
        ctx.step_entry_id = step.entry_id
        op.outcome = milestone.compensate(ctx) or {}
        count(COMPENSATIONS, stage=milestone.name)
        batch_entries = ctx.batch_entries(milestone.name, step.entry_id)
        if HOOK:
            HOOK("compensated_before_commit", milestone.name, 0)
        step = step.model_copy(
            update={"status": WaveState.COMPENSATED, "compensation_entry_id": op.entry_id}
        )
        with op.atomic() as conn:
            for entry in [step.entry_id, *batch_entries]:
                if entry is not None:
                    ctx.log.mark_compensated(entry, conn=conn)
            conn.execute(
                delete(CHECKPOINT).where(
                    and_(
                        CHECKPOINT.c.tenant == ctx.tenant,
                        CHECKPOINT.c.wave_id == ctx.wave_id,
                        CHECKPOINT.c.milestone == milestone.name,
                    )
                )
            )
            save_step(ctx.context, ctx.wave_id, milestone.name, step, conn)
    return step


def step_context(
    context: WaveContext,
    row: Any,
    plan: Any,
    milestone: str,
    entry_id: int,
    *,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> StepContext:
    """The context one milestone (or its compensation) of the wave ``row`` runs in."""
    criteria = PlanCriteria.model_validate(plan.criteria)
    return StepContext(
        context=context,
        wave_id=row.wave_id,
        plan_id=row.plan_id,
        target=row.target,
        criteria=criteria,
        canonical=plan.canonical,
        milestone=milestone,
        entry_id=entry_id,
        batch_size=row.batch_size or criteria.batch_size or context.settings.batch_size,
        run_no=row.run_no,
        cancel=cancel,
        progress=progress,
        log=AuditLog(context.engine, tenant=context.tenant),
    )
