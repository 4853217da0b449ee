"""Jobs live in the store: a job started by one server process (another worker of
`serve api --workers N`) shows its progress to every other, a second run of its wave is 409
there too, and a job whose process died is reported failed and frees its wave."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from api.jobs import JobRegistry, JobState
from api.problems import ConflictError
from core.settings import Settings
from core.store import open_store

#: The other process: starts a job on wave w1 that reports one step and then waits forever.
OTHER_WORKER = textwrap.dedent(
    """
    import sys, threading
    from pydantic import BaseModel
    from api.jobs import JobRegistry
    from core.settings import Settings
    from core.store import open_store

    class Done(BaseModel):
        ok: bool = True

    engine = open_store(Settings(home=sys.argv[1]))

    def work(progress):
        progress("map_to_canonical", 3, 4)
        threading.Event().wait()
        return Done()

    job = JobRegistry(lambda: engine).start("t", "run", "w1", work)
    print(job.job_id, flush=True)
    threading.Event().wait()
    """
)


class Done(BaseModel):
    ok: bool = True


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    return open_store(Settings(home=tmp_path))


def test_a_job_of_another_process_is_seen_refused_twice_and_failed_when_it_dies(
    tmp_path: Path, store: Engine
) -> None:
    here = JobRegistry(lambda: store)
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_WORKER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert other.stdout is not None
        job_id = other.stdout.readline().strip()
        assert job_id.startswith("job-"), job_id
        for _ in range(600):  # its progress, read here from the store
            seen = here.get("t", job_id)
            if seen.milestone == "map_to_canonical":
                break
            time.sleep(0.05)
        assert seen.state == JobState.RUNNING and seen.done == 3 and seen.total == 4
        with pytest.raises(
            ConflictError, match=f"wave w1 already has a run in progress \\({job_id}\\)"
        ):
            here.start("t", "run", "w1", lambda _p: Done())
        assert here.start("other", "run", "w1", lambda _p: Done()).state == JobState.RUNNING
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(10)
    gone = here.get("t", job_id)
    assert gone.state == JobState.FAILED and "server process running it stopped" in (
        gone.error or ""
    )
    again = here.start("t", "run", "w1", lambda _p: Done())  # the dead holder's wave is free
    for _ in range(600):
        if here.get("t", again.job_id).state != JobState.RUNNING:
            break
        time.sleep(0.05)
    assert here.get("t", again.job_id).state == JobState.SUCCEEDED
