"""Long operations (wave run, wave rollback) as jobs: started in a thread, watched by id.

The work itself is the ``tools.waves`` function the CLI calls; a job only records its progress
(milestone, done, total) and its outcome so the API can answer ``GET /jobs/{id}`` and stream
Server-Sent Events. Jobs live in the store (``api_job``), so every server process of
``data-mash serve api --workers N`` reads any job's progress. A second job on the same wave while
one is active is refused (409) by the lease ``api-job:<wave_id>``, which the job's thread holds
(with a heartbeat) from the request that started it to its end, whichever process that is; a
job whose process died is reported failed, and its wave is free again.
"""

from __future__ import annotations

import contextvars
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from time import monotonic
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, delete, desc, select, update

from api.problems import ConflictError
from core.errors import DataMashError, NotFoundError
from core.store.leases import Lease, LeaseHeld, acquire_lease, keep_lease, lease_lost
from core.store.models import ApiJobRow, as_utc, table_of
from tools.waves import MILESTONES

#: ``progress(milestone, done, total)`` as ``tools.waves.run_wave`` reports it.
Progress = Callable[[str, int, int | None], None]
JOB = table_of(ApiJobRow)
#: Progress is written at most this often (and on every new milestone): readers poll the store.
PROGRESS_EVERY = 0.2


class JobState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(BaseModel):
    """A long operation and how far it got."""

    job_id: str
    kind: str = Field(description="run or rollback.")
    wave_id: str
    state: JobState
    milestone: str | None = Field(None, description="The saga step being worked on.")
    done: int = 0
    total: int | None = None
    percent: float = Field(0.0, description="Whole-job progress, 0 to 100.")
    result: dict[str, Any] | None = Field(None, description="The wave status at the end.")
    error: str | None = Field(None, description="The one-line message when it failed.")
    started_at: datetime
    finished_at: datetime | None = None


def _percent(milestone: str, done: int, total: int | None) -> float:
    """Progress over the whole saga: completed milestones plus the share of the current one."""
    names = [str(name) for name in MILESTONES]
    index = names.index(milestone) if milestone in names else 0
    share = (done / total) if total else 0.0
    return round(100.0 * (index + min(share, 1.0)) / max(len(names), 1), 1)


def _lease_name(wave_id: str) -> str:
    return f"api-job:{wave_id}"


def _job_of(row: Any) -> Job:
    return Job(
        job_id=row.job_id,
        kind=row.kind,
        wave_id=row.wave_id,
        state=row.state,
        milestone=row.milestone,
        done=row.done,
        total=row.total,
        percent=row.percent,
        result=row.result,
        error=row.error,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
    )


class JobRegistry:
    """Jobs of every server process on the store, per tenant (another tenant's job is not
    found)."""

    def __init__(self, store: Callable[[], Engine], *, forget_after: float = 86400.0) -> None:
        """``store``: the store's engine (opened on first use); ``forget_after``: seconds a
        finished job stays readable (Settings' ``retention_job_seconds``); a long-lived server
        does not keep every job forever."""
        self._store = store
        self._forget_after = timedelta(seconds=forget_after)

    def _expired(self, row: Any) -> bool:
        finished = as_utc(row.finished_at)
        return finished is not None and finished < datetime.now(UTC) - self._forget_after

    def start(
        self, tenant: str, kind: str, wave_id: str, work: Callable[[Progress], BaseModel]
    ) -> Job:
        """Start ``work(progress)`` in a thread; 409 while the wave has an active job."""
        engine = self._store()
        job_id = f"job-{secrets.token_hex(6)}"
        try:
            lease = acquire_lease(
                engine, tenant, _lease_name(wave_id), what=f"{kind} of wave {wave_id} ({job_id})"
            )
        except LeaseHeld:
            active = self.of_wave(tenant, wave_id)
            doing = f"a {active.kind} in progress ({active.job_id})" if active else "a job running"
            watch = f"/api/v1/jobs/{active.job_id}" if active else "/api/v1/waves/" + wave_id
            raise ConflictError(
                f"wave {wave_id} already has {doing}",
                fix=f"watch it at {watch} and retry when it is done",
            ) from None
        now = datetime.now(UTC)
        with engine.begin() as conn:
            cutoff = now - self._forget_after
            conn.execute(delete(JOB).where(JOB.c.finished_at < cutoff))
            conn.execute(
                JOB.insert().values(
                    job_id=job_id,
                    tenant=tenant,
                    kind=kind,
                    wave_id=wave_id,
                    state=JobState.RUNNING,
                    done=0,
                    percent=0.0,
                    lease_owner=lease.owner,
                    started_at=now,
                )
            )
        # The job runs in the starting request's context: its audit entries keep that request's
        # id and actor (the token that started it).
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run,
            args=(self._run, engine, lease, job_id, work),
            name=job_id,
            daemon=True,
        ).start()
        return Job(
            job_id=job_id, kind=kind, wave_id=wave_id, state=JobState.RUNNING, started_at=now
        )

    @staticmethod
    def _update(engine: Engine, job_id: str, **values: Any) -> None:
        with engine.begin() as conn:
            conn.execute(update(JOB).where(JOB.c.job_id == job_id).values(**values))

    def _run(
        self, engine: Engine, lease: Lease, job_id: str, work: Callable[[Progress], BaseModel]
    ) -> None:
        last: list[Any] = [None, 0.0]  # milestone and time of the last progress written

        def progress(milestone: str, done: int, total: int | None) -> None:
            now = monotonic()
            if milestone == last[0] and now - last[1] < PROGRESS_EVERY and done != total:
                return
            last[:] = [milestone, now]
            self._update(
                engine,
                job_id,
                milestone=milestone,
                done=done,
                total=total,
                percent=_percent(milestone, done, total),
            )

        # The outcome is written before the lease is let go: a reader that finds the lease gone
        # and the job still running knows its process died.
        with keep_lease(engine, lease):
            try:
                outcome = work(progress)
            except DataMashError as exc:
                final: dict[str, Any] = {"state": JobState.FAILED, "error": exc.message}
            except Exception as exc:  # noqa: BLE001  (a job records any crash instead of dying silently)
                final = {"state": JobState.FAILED, "error": f"{type(exc).__name__}: {exc}"}
            else:
                final = {
                    "state": JobState.SUCCEEDED,
                    "percent": 100.0,
                    "result": outcome.model_dump(mode="json"),
                }
            self._update(engine, job_id, finished_at=datetime.now(UTC), **final)

    def _check_alive(self, engine: Engine, row: Any) -> Any:
        """A running job whose process is gone (its lease released without an outcome, taken
        over, or its holder dead) is marked failed; the row as it now is."""
        held = Lease(row.tenant, _lease_name(row.wave_id), row.lease_owner)
        reason = lease_lost(engine, held)
        if reason is None:
            return row
        with engine.begin() as conn:
            # Only while still running: a job writes its outcome before it lets the lease go,
            # so one that finished meanwhile is not touched.
            conn.execute(
                update(JOB)
                .where(and_(JOB.c.job_id == row.job_id, JOB.c.state == JobState.RUNNING))
                .values(
                    state=JobState.FAILED,
                    error=f"the server process running it stopped ({reason})",
                    finished_at=datetime.now(UTC),
                )
            )
            return conn.execute(select(JOB).where(JOB.c.job_id == row.job_id)).one()

    def get(self, tenant: str, job_id: str) -> Job:
        """A job of ``tenant``; another tenant's job is not found."""
        engine = self._store()
        with engine.connect() as conn:
            row = conn.execute(
                select(JOB).where(and_(JOB.c.job_id == job_id, JOB.c.tenant == tenant))
            ).first()
        if row is not None and self._expired(row):
            with engine.begin() as conn:
                conn.execute(delete(JOB).where(JOB.c.job_id == job_id))
            row = None
        if row is None:
            raise NotFoundError(
                f"no job '{job_id}'",
                fix="finished jobs stay for DATA_MASH_RETENTION_JOB_SECONDS",
            )
        if row.state == JobState.RUNNING:
            row = self._check_alive(engine, row)
        return _job_of(row)

    def of_wave(self, tenant: str, wave_id: str) -> Job | None:
        """The newest job of a wave, if any."""
        engine = self._store()
        with engine.connect() as conn:
            row = conn.execute(
                select(JOB)
                .where(and_(JOB.c.tenant == tenant, JOB.c.wave_id == wave_id))
                .order_by(desc(JOB.c.started_at))
                .limit(1)
            ).first()
        if row is not None and row.state == JobState.RUNNING:
            row = self._check_alive(engine, row)
        return _job_of(row) if row is not None else None
