"""Retention: gc removes abandoned leftovers and dead leases, keeps what is in use, audits first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from core.file_lock import file_lock
from core.settings import Settings
from core.store.leases import LEASE, acquire_lease
from core.store.models import utcnow
from tools.audit import AuditLog
from tools.content.ingest import ingest_lock_path
from tools.retention import collect
from tools.waves import WaveContext

HOUR = 3600.0


def _leftover(path: Path, *, age: float, folder: bool = False) -> Path:
    """Create a file or a folder with one file, last written ``age`` seconds ago."""
    when = time.time() - age
    if folder:
        path.mkdir(parents=True)
        inner = path / "part-0.parquet"
        inner.write_bytes(b"x" * 100)
        os.utime(inner, (when, when))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"y" * 10)
    os.utime(path, (when, when))
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_gc_removes_stale_leftovers_keeps_fresh_and_in_use(
    store: Engine, store_settings: Settings
) -> None:
    settings = store_settings
    home = settings.home
    staging = home / "staging" / "default"
    stale_stage = _leftover(staging / ".src_dead.partial-1a2b3c4d", age=3 * HOUR, folder=True)
    busy_stage = _leftover(staging / ".src_busy.partial-5e6f7a8b", age=3 * HOUR, folder=True)
    fresh_stage = _leftover(staging / ".src_new.partial-9c0d1e2f", age=60, folder=True)
    stale_milestone = _leftover(
        home / "waves" / "default" / "w0" / "migrated.partial", age=2 * HOUR
    )
    stale_tmp = _leftover(home / "canonical" / "default" / "m1" / ".run.1a2b3c4d.tmp", age=2 * HOUR)
    real_data = _leftover(home / "waves" / "default" / "w0" / "migrated.parquet", age=9 * HOUR)
    finished = _leftover(staging / "src_done", age=9 * HOUR, folder=True)
    other_tenant = _leftover(
        home / "staging" / "acme" / ".src_dead.partial-1a2b3c4d", age=3 * HOUR, folder=True
    )
    context = WaveContext.default(store, settings)
    audit_before = len(list(AuditLog(store).replay()))

    with file_lock(ingest_lock_path(settings, "default", "src_busy")):  # a live ingest
        preview = collect(context, dry_run=True)
        assert sorted(preview.partials) == sorted(
            str(p.resolve()) for p in (stale_stage, stale_milestone, stale_tmp)
        )
        assert stale_stage.exists() and stale_tmp.exists()  # a dry run changes nothing
        assert len(list(AuditLog(store).replay())) == audit_before

        result = collect(context)

    assert not result.dry_run and result.partial_bytes > 0
    for gone in (stale_stage, stale_milestone, stale_tmp):
        assert not gone.exists()
    for kept in (busy_stage, fresh_stage, real_data, finished, other_tenant):
        assert kept.exists()
    assert {str(busy_stage.resolve()), str(fresh_stage.resolve())} <= set(result.kept_in_use)
    entries = list(AuditLog(store).replay(namespace="retention"))
    assert [e.operation for e in entries] == ["gc_leftovers"]
    assert (
        entries[0].payload["count"] == 3
        and str(stale_stage.resolve()) in entries[0].payload["paths"]
    )
    # Its ingest let go of the lock without renaming the folder (it died): now it is stale.
    assert collect(context).partials == [str(busy_stage.resolve())]
    assert collect(context).partials == []  # nothing left: no-op, no new entry
    assert len(list(AuditLog(store).replay(namespace="retention"))) == 2


def test_ages_come_from_settings_and_options(store: Engine, store_settings: Settings) -> None:
    old = _leftover(store_settings.home / "waves" / "default" / "x.partial", age=2 * HOUR)
    strict = Settings(
        home=store_settings.home, db_url=store_settings.db_url, retention_partial_seconds=3 * HOUR
    )
    assert collect(WaveContext.default(store, strict), dry_run=True).partials == []
    context = WaveContext.default(store, store_settings)  # default: 1 hour
    assert collect(context, dry_run=True).partials == [str(old.resolve())]
    assert collect(context, partials_older_than=timedelta(hours=5), dry_run=True).partials == []


def test_gc_removes_leases_of_dead_processes_only(store: Engine, store_settings: Settings) -> None:
    live = acquire_lease(store, "default", "wave:live", what="wave run live")
    dead = acquire_lease(store, "default", "wave:dead", what="wave run dead")
    recent = acquire_lease(store, "default", "wave:recent", what="wave run recent")
    gone = _dead_pid()
    with store.begin() as conn:
        for name, age in (("wave:dead", timedelta(days=2)), ("wave:recent", timedelta(minutes=5))):
            conn.execute(
                update(LEASE)
                .where(LEASE.c.name == name)
                .values(pid=gone, process_start=None, heartbeat_at=utcnow() - age)
            )
    context = WaveContext.default(store, store_settings)
    assert collect(context, dry_run=True).leases == ["wave:dead"]
    assert collect(context).leases == ["wave:dead"]
    with store.connect() as conn:
        names = set(conn.execute(select(LEASE.c.name)).scalars())
    assert names == {"wave:live", "wave:recent"}
    (entry,) = AuditLog(store).replay(namespace="retention")
    assert entry.operation == "gc_leases" and entry.payload["leases"][0]["name"] == "wave:dead"
    assert live.name == "wave:live" and dead.owner and recent.owner
