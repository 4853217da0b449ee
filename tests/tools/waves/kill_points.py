"""SIGKILL a wave at a saga point: the runner subprocess pauses there, the test kills it.

A runner (``crash_runner``, ``integrity_runner``, ``assembly_wave_runner``) calls
:func:`pause_at` with a ``point:milestone:batch`` stop; when the saga hook reaches it, the runner
writes HOME/at-point and sleeps until killed. The test starts the runner with
:func:`start_runner`, waits with :func:`reached` or :func:`wait_at` and kills it with
:func:`kill` (or both at once: :func:`kill_at`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tools.waves import saga

REPO = Path(__file__).resolve().parents[3]
MARKER = "at-point"


def pause_at(stop: str | None, home: Path) -> None:
    """In a runner: at ``stop`` (``point:milestone:batch``) write HOME/at-point, then sleep."""
    if not stop:
        return
    point, milestone, batch = stop.split(":")

    def hook(at: str, step: str, batch_no: int) -> None:
        if (at, step, batch_no) == (point, milestone, int(batch)):
            (home / MARKER).write_text(stop)
            time.sleep(120)  # the test kills us here

    saga.HOOK = hook


def start_runner(module: str, *args: str) -> subprocess.Popen[str]:
    """``python -m module args...`` from the repository, its output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def reached(proc: subprocess.Popen[Any], home: Path, stop: str, timeout: float = 180) -> bool:
    """Wait until the runner pauses at ``stop`` (True, the marker removed) or ends (False)."""
    marker = home / MARKER
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, f"runner never reached {stop}"
        time.sleep(0.05)
    marker.unlink()
    return True


def wait_at(proc: subprocess.Popen[str], home: Path, stop: str) -> None:
    """Wait until the runner pauses at ``stop``; the test fails if it ends before."""
    # pytest is imported here, not by the runners: it would add about 0.3 s to each of them.
    import pytest  # noqa: PLC0415

    if not reached(proc, home, stop):
        out, err = proc.communicate()
        pytest.fail(f"runner ended before {stop}: {out}{err}")


def kill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a runner paused at its point, and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def kill_at(proc: subprocess.Popen[str], home: Path, stop: str) -> None:
    """SIGKILL the runner when it reaches ``stop``; the test fails if it ends before."""
    wait_at(proc, home, stop)
    kill(proc)
    assert proc.returncode == -signal.SIGKILL
