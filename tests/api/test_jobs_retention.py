"""A long-lived API server forgets finished jobs after the retention, never running ones."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from api.jobs import JobRegistry, JobState
from core.errors import NotFoundError
from core.settings import Settings
from core.store import open_store


class Done(BaseModel):
    ok: bool = True


@pytest.fixture
def store(settings: Settings) -> Iterator[Engine]:
    """A SQLite store (the job table's reads and writes are plain Core statements)."""
    engine = open_store(settings)
    yield engine
    engine.dispose()


def _wait_finished(jobs: JobRegistry, wave_id: str) -> None:
    for _ in range(2000):
        job = jobs.of_wave("t", wave_id)  # reads without forgetting
        if job is not None and job.state != JobState.RUNNING:
            # ... and for its thread, which lets the wave's lease go after the outcome.
            for thread in threading.enumerate():
                if thread.name == job.job_id:
                    thread.join(10)
            return
        threading.Event().wait(0.005)
    raise AssertionError("the job never finished")


def test_finished_jobs_are_forgotten_after_the_retention_running_ones_are_not(
    store: Engine,
) -> None:
    jobs = JobRegistry(lambda: store, forget_after=0)
    release = threading.Event()

    def slow(_progress: object) -> Done:
        release.wait(30)
        return Done()

    running = jobs.start("t", "run", "w2", slow)
    quick = jobs.start("t", "run", "w1", lambda _p: Done())
    _wait_finished(jobs, "w1")  # returns once it is no longer running ...
    with pytest.raises(NotFoundError):
        jobs.get("t", quick.job_id)  # ... and the next look forgets it (retention 0 s)
    assert jobs.get("t", running.job_id).state == JobState.RUNNING
    release.set()


def test_default_retention_keeps_a_finished_job(store: Engine) -> None:
    jobs = JobRegistry(lambda: store)
    job = jobs.start("t", "run", "w1", lambda _p: Done())
    _wait_finished(jobs, "w1")
    assert jobs.get("t", job.job_id).state == JobState.SUCCEEDED
