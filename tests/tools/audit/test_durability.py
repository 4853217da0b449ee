"""Durability across processes: a SIGKILL mid-operation, and two writers on one SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import Engine, text

from core.settings import Settings
from core.store import open_store
from tools.audit import AuditLog

REPO = Path(__file__).resolve().parents[3]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATA_MASH_HOME": str(home), "PYTHONPATH": str(REPO), **extra}
    env.pop("DATA_MASH_DB_URL", None)
    return env


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        check=False,
        text=True,
        env=_env(home),
        cwd=REPO,
        timeout=120,
    )


def _dump(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, status, outcome, attempts, finished_at FROM audit_entry ORDER BY id"
                )
            )
        ]


def test_sigkill_between_intent_and_outcome_leaves_an_incomplete_entry(workspace: Path) -> None:
    open_store(Settings(home=workspace)).dispose()
    script = textwrap.dedent("""
        import sys, time
        from tools.audit import AuditLog
        from core.settings import Settings
        from core.store import open_store
        log = AuditLog(open_store(Settings()))
        log.record("content", "ingest", target="before.csv", outcome={"records": 1})
        with log.operation("waves", "migrate", idempotency_key="w0:b7", policy_ids=["P1", "P2"]):
            print("intent committed", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(workspace),
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "intent committed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    first = _cli(workspace, "replay", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["replayed"] == 2 and report["incomplete"] == 1
    crashed = [e for e in report["entries"] if e["incomplete"]]
    assert crashed[0]["operation"] == "migrate" and crashed[0]["status"] == "pending"

    engine = open_store(Settings(home=workspace))
    before = _dump(engine)
    second = _cli(workspace, "replay", "--json")
    assert json.loads(second.stdout) == report  # replaying twice changes nothing
    assert _dump(engine) == before

    # Re-running with the same key takes the crashed entry over: no duplicate.
    log = AuditLog(engine)
    with log.operation("waves", "migrate", idempotency_key="w0:b7") as op:
        assert not op.completed and op.attempts == 2
        op.outcome = {"migrated": 2}
    assert len(_dump(engine)) == 2 and log.get(op.entry_id).status == "ok"  # type: ignore[union-attr]


def test_two_processes_writing_at_once_lose_no_entry(workspace: Path) -> None:
    open_store(Settings(home=workspace)).dispose()
    script = textwrap.dedent("""
        import sys
        from tools.audit import AuditLog
        from core.settings import Settings
        from core.store import open_store
        log = AuditLog(open_store(Settings()), actor=sys.argv[1])
        for i in range(150):
            log.record("test", "write", target=f"{sys.argv[1]}-{i}",
                       policy_ids=[f"{sys.argv[1]}-{i}-{j}" for j in range(20)])
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, name],
            env=_env(workspace),
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    engine = open_store(Settings(home=workspace))
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM audit_entry WHERE status='ok'")).scalar() == 300
        )
        assert conn.execute(text("SELECT count(*) FROM audit_policy")).scalar() == 6000
        targets = {r[0] for r in conn.execute(text("SELECT target FROM audit_entry"))}
    assert targets == {f"{n}-{i}" for n in "ab" for i in range(150)}
