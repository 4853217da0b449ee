"""Leases in the store: one holder at a time for a named piece of work, safe takeover of the dead.

A wave run, a rollback, a saga, a mapping run or an assembly run holds the lease named after what
it works on (``wave:<wave_id>``) for as long as it runs. A second process asking for the same
lease gets one clear error naming the holder (pid, host, since). A holder that died (SIGKILL,
power cut) never releases its lease, so a lease is taken over when its holder is provably gone:

* same host: its pid is not alive (or is a zombie, or is a different process that reused the pid,
  told apart by the process start time);
* any host: its heartbeat is older than its time-to-live (a live holder refreshes it from a
  background thread every third of the TTL).

Acquire and takeover are compare-and-swap statements on the row, so two processes racing for a
free or dead lease cannot both win, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import InputError
from core.store.models import LeaseRow, as_utc, table_of, utcnow

LEASE = table_of(LeaseRow)
#: Default time-to-live of a heartbeat: a holder on another host that has not refreshed its
#: lease for this long is taken for dead.
DEFAULT_TTL = 60.0


class LeaseHeld(InputError):
    """Someone else holds the lease (it names the holder: pid, host, since)."""


@dataclass
class Lease:
    """A held lease; released when the ``hold_lease`` block ends."""

    tenant: str
    name: str
    owner: str
    took_over: dict[str, Any] | None = None


def _process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, process_start: str | None) -> bool:
    """Is ``pid`` (started at ``process_start``) still running on this host?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: trust the signal
    if state in ("Z", "X"):  # killed, not yet reaped by its parent
        return False
    return process_start is None or _process_start(pid) in (None, process_start)


def _dead_because(row: Any, host: str) -> str | None:
    """Why the holder of ``row`` is known to be dead, or None when it may be alive."""
    if row.host == host and not _alive(row.pid, row.process_start):
        return f"pid {row.pid} on {row.host} is not running"
    beat = as_utc(row.heartbeat_at)
    if beat is not None and utcnow() - beat > timedelta(seconds=row.ttl_seconds):
        return f"no heartbeat from {row.host} since {beat.isoformat(timespec='seconds')}"
    return None


def _held_error(row: Any) -> LeaseHeld:
    since = as_utc(row.acquired_at)
    shown = since.isoformat(timespec="seconds") if isinstance(since, datetime) else "?"
    return LeaseHeld(
        f"{row.what} is already running (pid {row.pid} on {row.host}, since {shown})",
        where=row.name,
        fix="wait for it to finish, or stop that process; a holder that died is taken over "
        "automatically (same host: at once; another host: after its heartbeat expires)",
    )


def acquire_lease(
    engine: Engine, tenant: str, name: str, *, what: str, ttl: float = DEFAULT_TTL
) -> Lease:
    """Take the lease ``name`` or raise :class:`LeaseHeld` naming its live holder.

    Raises:
        LeaseHeld: a live process holds it.
    """
    owner, host, pid = uuid.uuid4().hex, socket.gethostname()[:255], os.getpid()
    mine = {
        "owner": owner,
        "what": what[:256],
        "pid": pid,
        "host": host,
        "process_start": _process_start(pid),
        "ttl_seconds": float(ttl),
    }
    for _ in range(3):  # a lost race on insert or takeover: look again
        now = utcnow()
        try:
            with engine.begin() as conn:
                conn.execute(
                    LEASE.insert().values(
                        tenant=tenant, name=name, acquired_at=now, heartbeat_at=now, **mine
                    )
                )
            return Lease(tenant, name, owner)
        except IntegrityError:
            pass
        with engine.connect() as conn:
            row = conn.execute(
                select(LEASE).where(and_(LEASE.c.tenant == tenant, LEASE.c.name == name))
            ).first()
        if row is None:
            continue  # released meanwhile
        reason = _dead_because(row, host)
        if reason is None:
            raise _held_error(row)
        with engine.begin() as conn:
            taken = conn.execute(
                update(LEASE)
                .where(
                    and_(LEASE.c.tenant == tenant, LEASE.c.name == name, LEASE.c.owner == row.owner)
                )
                .values(acquired_at=now, heartbeat_at=now, **mine)
            ).rowcount
        if taken == 1:
            previous = {"pid": row.pid, "host": row.host, "what": row.what, "reason": reason}
            return Lease(tenant, name, owner, took_over=previous)
    raise InputError(
        f"could not take the lease {name!r}: other processes keep racing for it",
        fix="run the command again",
    )


def release_lease(engine: Engine, lease: Lease) -> None:
    """Give the lease back (a no-op when someone took it over meanwhile)."""
    with engine.begin() as conn:
        conn.execute(
            delete(LEASE).where(
                and_(
                    LEASE.c.tenant == lease.tenant,
                    LEASE.c.name == lease.name,
                    LEASE.c.owner == lease.owner,
                )
            )
        )


def _heartbeat(engine: Engine, lease: Lease, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(LEASE)
                    .where(
                        and_(
                            LEASE.c.tenant == lease.tenant,
                            LEASE.c.name == lease.name,
                            LEASE.c.owner == lease.owner,
                        )
                    )
                    .values(heartbeat_at=utcnow())
                )
        except Exception:  # noqa: BLE001  (a busy store skips one beat; the TTL allows three)
            continue


def lease_lost(engine: Engine, lease: Lease) -> str | None:
    """Why ``lease`` is no longer held by a live holder (released, taken over, its holder dead),
    or None while it is: how another process tells that the holder of a lease is gone."""
    with engine.connect() as conn:
        row = conn.execute(
            select(LEASE).where(and_(LEASE.c.tenant == lease.tenant, LEASE.c.name == lease.name))
        ).first()
    if row is None:
        return "released"
    if row.owner != lease.owner:
        return f"taken over by pid {row.pid} on {row.host}"
    return _dead_because(row, socket.gethostname()[:255])


@contextmanager
def keep_lease(engine: Engine, lease: Lease, *, ttl: float = DEFAULT_TTL) -> Iterator[Lease]:
    """Keep an acquired lease alive with a heartbeat for the block, then release it (for a
    lease taken in one thread, e.g. a request, and held by the thread doing the work)."""
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(engine, lease, ttl / 3, stop),
        name=f"lease {lease.name}",
        daemon=True,
    )
    beat.start()
    try:
        yield lease
    finally:
        stop.set()
        beat.join(timeout=5)
        release_lease(engine, lease)


@contextmanager
def hold_lease(
    engine: Engine, tenant: str, name: str, *, what: str, ttl: float = DEFAULT_TTL
) -> Iterator[Lease]:
    """Hold the lease ``name`` for the block, with a heartbeat; release it afterwards.

    Args:
        engine: The store.
        tenant: Tenant of the work.
        name: What is leased, e.g. ``wave:plan-1a2b-w0``.
        what: Shown to a second process, e.g. ``wave run plan-1a2b-w0``.
        ttl: Seconds without a heartbeat after which another host takes the lease over.

    Raises:
        LeaseHeld: a live process holds it.
    """
    lease = acquire_lease(engine, tenant, name, what=what, ttl=ttl)
    with keep_lease(engine, lease, ttl=ttl):
        yield lease


def dead_leases(engine: Engine, tenant: str, *, idle_for: timedelta) -> list[dict[str, Any]]:
    """Leases of ``tenant`` whose holder is provably dead and silent for at least ``idle_for``.

    These are what a killed run left behind; nothing releases them but a takeover. Each is a
    dict of the row's columns plus ``reason`` (why its holder is known dead).
    """
    host = socket.gethostname()[:255]
    cutoff = utcnow() - idle_for
    with engine.connect() as conn:
        rows = conn.execute(select(LEASE).where(LEASE.c.tenant == tenant)).all()
    found = []
    for row in rows:
        beat = as_utc(row.heartbeat_at)
        reason = _dead_because(row, host)
        if reason is not None and beat is not None and beat <= cutoff:
            found.append({**row._asdict(), "reason": reason})
    return found


def drop_dead_lease(conn: Any, tenant: str, name: str, owner: str) -> bool:
    """Delete the lease row if ``owner`` still holds it (a compare-and-delete); True if gone."""
    return bool(
        conn.execute(
            delete(LEASE).where(
                and_(LEASE.c.tenant == tenant, LEASE.c.name == name, LEASE.c.owner == owner)
            )
        ).rowcount
    )
