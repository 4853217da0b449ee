"""Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks"), persisted per node.

Newest-wins needs an order that wall clocks cannot give: a node whose clock runs behind, or is
set back, would make a later change look older (the "wrong row wins" of BDR #109). An HLC
stamp is ``(wall_ms, logical, node)``: ``wall_ms`` never goes backwards and stays close to wall
time, ``logical`` counts events inside one millisecond (or while the wall clock lags), and the
node id breaks ties. Receiving a remote stamp moves the clock past it, so a change made after
seeing another is always newer than it.

Across restarts the clock resumes from its high-water mark in the store (``sync_clock``), so a
process started with its wall clock set back still issues stamps above every earlier one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, Engine, and_, insert, select, update

from core.errors import InputError
from core.store.models import SyncClockRow, table_of, utcnow
from tools.sync.contracts import HlcStamp

CLOCK = table_of(SyncClockRow)

#: Refuse remote stamps further ahead of our wall clock than this (a broken peer clock would
#: otherwise drag every later stamp into its future).
DEFAULT_MAX_DRIFT_MS = 24 * 3600 * 1000


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridLogicalClock:
    """An HLC for one node; ``persist`` (if given) receives every stamp issued."""

    def __init__(
        self,
        node: str,
        *,
        wall: Callable[[], int] = wall_clock_ms,
        last: HlcStamp | None = None,
        persist: Callable[[HlcStamp], None] | None = None,
        max_drift_ms: int = DEFAULT_MAX_DRIFT_MS,
    ) -> None:
        self.node = node
        self._wall = wall
        self._wall_ms = last.wall_ms if last else 0
        self._logical = last.logical if last else 0
        self._persist = persist
        self._max_drift_ms = max_drift_ms

    def now(self) -> HlcStamp:
        """A stamp for a local event: above every stamp issued or received so far."""
        physical = self._wall()
        if physical > self._wall_ms:
            self._wall_ms, self._logical = physical, 0
        else:
            self._logical += 1
        return self._issue()

    def now_text(self) -> str:
        """:meth:`now` as its text form (``str(stamp)``), without building a stamp model when
        nothing persists it: a batch stamps each of thousands of outbound values so."""
        if self._persist is not None:
            return str(self.now())
        physical = self._wall()
        if physical > self._wall_ms:
            self._wall_ms, self._logical = physical, 0
        else:
            self._logical += 1
        return f"{self._wall_ms:013d}.{self._logical:05d}@{self.node}"

    def receive(self, remote: HlcStamp) -> HlcStamp:
        """Merge a stamp seen on a change from the other side; return the stamp of receiving it.

        Raises:
            InputError: the remote stamp is further in the future than ``max_drift_ms``.
        """
        physical = self._wall()
        if remote.wall_ms - physical > self._max_drift_ms:
            raise InputError(
                f"clock stamp {remote} is {remote.wall_ms - physical} ms ahead of this node",
                where=f"node {remote.node}",
                fix="fix that node's clock; stamps further ahead than "
                f"{self._max_drift_ms} ms are refused",
            )
        top = max(self._wall_ms, remote.wall_ms, physical)
        if top == self._wall_ms and top == remote.wall_ms:
            self._logical = max(self._logical, remote.logical) + 1
        elif top == self._wall_ms:
            self._logical += 1
        elif top == remote.wall_ms:
            self._logical = remote.logical + 1
        else:
            self._logical = 0
        self._wall_ms = top
        return self._issue()

    @property
    def last(self) -> HlcStamp:
        """The last stamp issued or received."""
        return HlcStamp(wall_ms=self._wall_ms, logical=self._logical, node=self.node)

    def _issue(self) -> HlcStamp:
        stamp = HlcStamp(wall_ms=self._wall_ms, logical=self._logical, node=self.node)
        if self._persist is not None:
            self._persist(stamp)
        return stamp


class ClockStore:
    """The high-water mark of each node's clock in the store (one row per tenant and node)."""

    def __init__(self, engine: Engine, *, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant

    def load(self, node: str) -> HlcStamp | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(CLOCK.c.wall_ms, CLOCK.c.logical).where(
                    and_(CLOCK.c.tenant == self.tenant, CLOCK.c.node == node)
                )
            ).first()
        return HlcStamp(wall_ms=row.wall_ms, logical=row.logical, node=node) if row else None

    def save(self, stamp: HlcStamp, conn: Connection | None = None) -> None:
        """Raise the node's mark to ``stamp`` (never lowers it), in ``conn``'s transaction
        when given (a batch that stamps many changes saves its last stamp with them)."""
        if conn is None:
            with self.engine.begin() as own:
                self.save(stamp, own)
            return
        where = and_(CLOCK.c.tenant == self.tenant, CLOCK.c.node == stamp.node)
        higher = (CLOCK.c.wall_ms < stamp.wall_ms) | (
            (CLOCK.c.wall_ms == stamp.wall_ms) & (CLOCK.c.logical < stamp.logical)
        )
        values = {"wall_ms": stamp.wall_ms, "logical": stamp.logical, "updated_at": utcnow()}
        done = conn.execute(update(CLOCK).where(and_(where, higher)).values(**values))
        if done.rowcount:
            return
        if conn.execute(select(CLOCK.c.node).where(where)).first() is None:
            conn.execute(insert(CLOCK).values(tenant=self.tenant, node=stamp.node, **values))


def open_clock(
    engine: Engine, *, tenant: str, node: str, wall: Callable[[], int] = wall_clock_ms
) -> HybridLogicalClock:
    """The node's clock, resumed from its persisted high-water mark; every stamp is persisted."""
    store = ClockStore(engine, tenant=tenant)
    return HybridLogicalClock(node, wall=wall, last=store.load(node), persist=store.save)


def unsaved_clock(
    engine: Engine, *, tenant: str, node: str, wall: Callable[[], int] = wall_clock_ms
) -> tuple[HybridLogicalClock, ClockStore]:
    """The node's clock resumed from its mark, persisting nothing by itself: for batches,
    which save the clock's last stamp (``store.save(clock.last, conn)``) in their own commit."""
    store = ClockStore(engine, tenant=tenant)
    return HybridLogicalClock(node, wall=wall, last=store.load(node)), store
