"""Long operations (wave run, wave rollback) as jobs: started in a thread, watched by id.

The work itself is the ``tools.waves`` function the CLI calls; a job only records its progress
(milestone, done, total) and its outcome so the API can answer ``GET /jobs/{id}`` and stream
Server-Sent Events. A second job on the same wave while one is active is refused (409), so one
wave is never run twice at once from this server.
"""

from __future__ import annotations

import contextvars
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from api.problems import ConflictError
from core.errors import DataMashError, NotFoundError
from tools.waves import MILESTONES

#: ``progress(milestone, done, total)`` as ``tools.waves.run_wave`` reports it.
Progress = Callable[[str, int, int | None], None]


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


class JobRegistry:
    """Jobs of this server process, per tenant (another tenant's job is not found)."""

    def __init__(self, *, forget_after: float = 86400.0) -> None:
        """``forget_after``: seconds a finished job stays readable (Settings'
        ``retention_job_seconds``); a long-lived server does not keep every job forever."""
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[str, Job]] = {}
        self._forget_after = timedelta(seconds=forget_after)

    def _forget_expired(self) -> None:
        """Drop finished jobs older than the retention (the caller holds the lock)."""
        cutoff = datetime.now(UTC) - self._forget_after
        expired = [
            job_id
            for job_id, (_tenant, job) in self._jobs.items()
            if job.finished_at is not None and job.finished_at < cutoff
        ]
        for job_id in expired:
            del self._jobs[job_id]

    def start(
        self, tenant: str, kind: str, wave_id: str, work: Callable[[Progress], BaseModel]
    ) -> Job:
        """Start ``work(progress)`` in a thread; 409 while the wave has an active job."""
        with self._lock:
            self._forget_expired()
            for owner, job in self._jobs.values():
                if owner == tenant and job.wave_id == wave_id and job.state == JobState.RUNNING:
                    raise ConflictError(
                        f"wave {wave_id} already has a {job.kind} in progress ({job.job_id})",
                        fix=f"watch it at /api/v1/jobs/{job.job_id} and retry when it is done",
                    )
            job = Job(
                job_id=f"job-{secrets.token_hex(6)}",
                kind=kind,
                wave_id=wave_id,
                state=JobState.RUNNING,
                started_at=datetime.now(UTC),
            )
            self._jobs[job.job_id] = (tenant, job)
        # The job runs in the starting request's context: its audit entries keep that request's
        # id and actor (the token that started it).
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(self._run, job.job_id, work), name=job.job_id, daemon=True
        ).start()
        return job.model_copy()

    def _update(self, job_id: str, **values: Any) -> None:
        with self._lock:
            tenant, job = self._jobs[job_id]
            self._jobs[job_id] = (tenant, job.model_copy(update=values))

    def _run(self, job_id: str, work: Callable[[Progress], BaseModel]) -> None:
        def progress(milestone: str, done: int, total: int | None) -> None:
            self._update(
                job_id,
                milestone=milestone,
                done=done,
                total=total,
                percent=_percent(milestone, done, total),
            )

        try:
            outcome = work(progress)
        except DataMashError as exc:
            self._update(
                job_id, state=JobState.FAILED, error=exc.message, finished_at=datetime.now(UTC)
            )
        except Exception as exc:  # noqa: BLE001  (a job records any crash instead of dying silently)
            self._update(
                job_id,
                state=JobState.FAILED,
                error=f"{type(exc).__name__}: {exc}",
                finished_at=datetime.now(UTC),
            )
        else:
            self._update(
                job_id,
                state=JobState.SUCCEEDED,
                percent=100.0,
                result=outcome.model_dump(mode="json"),
                finished_at=datetime.now(UTC),
            )

    def get(self, tenant: str, job_id: str) -> Job:
        """A job of ``tenant``; another tenant's job is not found."""
        with self._lock:
            self._forget_expired()
            found = self._jobs.get(job_id)
        if found is None or found[0] != tenant:
            raise NotFoundError(
                f"no job '{job_id}'",
                fix="jobs live as long as the server process, finished ones for "
                "DATA_MASH_RETENTION_JOB_SECONDS",
            )
        return found[1].model_copy()

    def of_wave(self, tenant: str, wave_id: str) -> Job | None:
        """The newest job of a wave, if any."""
        with self._lock:
            jobs = [j for t, j in self._jobs.values() if t == tenant and j.wave_id == wave_id]
        return max(jobs, key=lambda j: j.started_at).model_copy() if jobs else None
