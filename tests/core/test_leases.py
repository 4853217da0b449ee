"""Leases in the store: one holder, a clear error naming it, safe takeover of a dead holder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from core.store.leases import LEASE, LeaseHeld, acquire_lease, hold_lease, release_lease
from core.store.models import utcnow

NAME = "wave:plan-1-w0"


def _holder(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(LEASE).where(LEASE.c.name == NAME)).one()._mapping)


def test_a_second_holder_is_refused_with_pid_host_and_since(store: Engine) -> None:
    with hold_lease(store, "default", NAME, what="wave run plan-1-w0"):
        with pytest.raises(LeaseHeld) as refused:
            acquire_lease(store, "default", NAME, what="wave rollback plan-1-w0")
        message = refused.value.message
        assert f"wave run plan-1-w0 is already running (pid {os.getpid()} on " in message
        assert socket.gethostname()[:255] in message and "since 20" in message
        # Another tenant's wave of the same name is another lease.
        release_lease(store, acquire_lease(store, "other", NAME, what="wave run"))
    # Released at the end of the block: the next one gets it.
    release_lease(store, acquire_lease(store, "default", NAME, what="wave run plan-1-w0"))


def test_a_dead_holder_on_this_host_is_taken_over(store: Engine) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # exited and reaped: its pid is not running
    lease = acquire_lease(store, "default", NAME, what="first")
    with store.begin() as conn:
        conn.execute(LEASE.update().values(pid=dead.pid, process_start=None))
    second = acquire_lease(store, "default", NAME, what="second")
    assert second.took_over is not None
    assert (
        second.took_over["reason"]
        == f"pid {dead.pid} on {socket.gethostname()[:255]} is not running"
    )
    assert _holder(store)["owner"] == second.owner != lease.owner
    release_lease(store, lease)  # the dead holder's release must not free the new holder's lease
    assert _holder(store)["owner"] == second.owner


def test_a_reused_pid_is_not_mistaken_for_the_holder(store: Engine) -> None:
    acquire_lease(store, "default", NAME, what="first")
    with store.begin() as conn:  # our own (live) pid, but a process that started at another time
        conn.execute(LEASE.update().values(process_start="1"))
    assert acquire_lease(store, "default", NAME, what="second").took_over is not None


def test_another_host_is_taken_over_only_once_its_heartbeat_expired(store: Engine) -> None:
    acquire_lease(store, "default", NAME, what="elsewhere", ttl=60)
    with store.begin() as conn:
        conn.execute(LEASE.update().values(host="other-host", pid=1))
    with pytest.raises(LeaseHeld, match="pid 1 on other-host"):
        acquire_lease(store, "default", NAME, what="here")
    with store.begin() as conn:
        conn.execute(LEASE.update().values(heartbeat_at=utcnow() - timedelta(seconds=61)))
    taken = acquire_lease(store, "default", NAME, what="here")
    assert (
        taken.took_over is not None and "no heartbeat from other-host" in taken.took_over["reason"]
    )
