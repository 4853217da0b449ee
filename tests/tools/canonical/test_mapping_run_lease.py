"""Two mapping runs of one mapping version at once: the second is refused naming the first
(pid, host, since); once the first is killed (real SIGKILL), its lease is taken over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cli.main import main
from core.settings import Settings
from core.store.leases import LEASE, LeaseHeld
from tests.tools.canonical.helpers import BASE_RULES, MakeSource, policy_table
from tools.canonical import approve_mapping, create_mapping, map_to_canonical
from tools.canonical.output import output_dir

REPO = Path(__file__).resolve().parents[3]
ROWS = 1000


@pytest.fixture
def settings(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)
    return Settings(home=workspace, batch_size=100)


def _paused_run(home: Path, mapping_id: str, after_records: int) -> subprocess.Popen[bytes]:
    """A `mapping run` in another process, paused (alive) after ``after_records`` records."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.tools.canonical.mapping_runner",
            str(home),
            mapping_id,
            str(after_records),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (home / "at-point").exists():
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "runner died")
        assert time.monotonic() < deadline, "the runner never reached its point"
        time.sleep(0.05)
    return proc


def test_a_second_mapping_run_is_refused_and_a_dead_ones_lease_taken_over(
    engine: Engine,
    settings: Settings,
    make_source: MakeSource,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source_id = make_source(policy_table(ROWS), part_rows=333)
    mapping_id = create_mapping(engine, source_id, BASE_RULES).mapping_id
    approve_mapping(engine, mapping_id)
    first = _paused_run(settings.home, mapping_id, after_records=400)
    try:
        expected = (
            f"mapping run {mapping_id} (version 1) is already running "
            f"(pid {first.pid} on {socket.gethostname()[:255]}, since 20"
        )
        with pytest.raises(LeaseHeld) as refused:
            map_to_canonical(engine, settings, mapping_id)
        assert expected in refused.value.message
        capsys.readouterr()
        assert main(["mapping", "run", mapping_id, "--json"]) == 1
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, err
        folder = output_dir(settings, "default", mapping_id, 1)
        # The refused runs wrote nothing: the first one's four batches only.
        assert len(list(folder.glob("part-*.parquet"))) == 4
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

    # The holder died without releasing: the next run takes its lease over and finishes.
    result = map_to_canonical(engine, settings, mapping_id)
    assert result.records == ROWS and result.resumed_batches == 4
    assert len(list(folder.glob("part-*.parquet"))) == 10
    with engine.connect() as conn:  # released at the end
        assert conn.execute(select(LEASE)).all() == []
