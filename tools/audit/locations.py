"""Where each policy lives now, and every move that took it there (the policy tracker's base).

Moves are written in bulk inside the caller's transaction (usually :meth:`Operation.atomic` of the
audit entry that covers them), so a batch of moves and its outcome commit together or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, field_validator
from sqlalchemy import Connection, Engine, and_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from core.settings import DEFAULT_TENANT
from core.store import reading
from core.store.bulk import bulk_insert
from core.store.models import (
    PolicyLocation,
    PolicyLocationCount,
    PolicyMove,
    as_utc,
    table_of,
    utcnow,
)

LOCATION = table_of(PolicyLocation)
LOCATION_COUNT = table_of(PolicyLocationCount)
MOVE = table_of(PolicyMove)
MOVE_COLUMNS = (
    "tenant",
    "policy_id",
    "from_system",
    "to_system",
    "wave",
    "run_id",
    "rule",
    "reason",
    "entry_id",
    "moved_at",
)
LOCATION_COLUMNS = ("tenant", "policy_id", "system", "wave", "run_id", "entry_id", "updated_at")
# The policy tracker's point reads, built once (building a statement and its cache key costs
# more than running it by primary key).
_LOCATION_OF = select(LOCATION).where(
    and_(LOCATION.c.tenant == bindparam("tenant"), LOCATION.c.policy_id == bindparam("policy_id"))
)
_MOVES_OF = (
    select(MOVE)
    .where(and_(MOVE.c.tenant == bindparam("tenant"), MOVE.c.policy_id == bindparam("policy_id")))
    .order_by(MOVE.c.id)
)


# Moves a located policy: one UPDATE per policy, batched by the driver (executemany).
_SET_LOCATION = (
    LOCATION.update()
    .where(
        and_(
            LOCATION.c.tenant == bindparam("b_tenant"),
            LOCATION.c.policy_id == bindparam("b_policy"),
        )
    )
    .values(
        system=bindparam("b_system"),
        wave=bindparam("b_wave"),
        run_id=bindparam("b_run"),
        entry_id=bindparam("b_entry"),
        updated_at=bindparam("b_at"),
    )
)


def _set_locations(
    conn: Connection,
    tenant: str,
    rows: list[tuple[str, str, str | None, str | None, int | None]],
    now: datetime,
) -> None:
    """Point each ``(policy_id, system, wave, run_id, entry_id)`` at its new location."""
    conn.execute(
        _SET_LOCATION,
        [
            {
                "b_tenant": tenant,
                "b_policy": policy_id,
                "b_system": system,
                "b_wave": wave,
                "b_run": run_id,
                "b_entry": entry_id,
                "b_at": now,
            }
            for policy_id, system, wave, run_id, entry_id in rows
        ],
    )


def _count_changes(conn: Connection, tenant: str, changes: Counter[str]) -> None:
    """Add ``changes`` (system -> policies in minus out) to the per-system counts, in the
    caller's transaction, so the counts move with policy_location or not at all."""
    rows = [
        {"tenant": tenant, "system": system, "policies": delta}
        for system, delta in sorted(changes.items())
        if delta
    ]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(LOCATION_COUNT)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant", "system"],
            set_={"policies": LOCATION_COUNT.c.policies + stmt.excluded.policies},
        ),
        rows,
    )


def current_systems(conn: Connection, tenant: str, policy_ids: list[str]) -> dict[str, str]:
    """Policy id -> the system that holds it now, for those of ``policy_ids`` with a location."""
    found: dict[str, str] = {}
    for start in range(0, len(policy_ids), 900):  # stay under SQLite's bound-parameter cap
        chunk = policy_ids[start : start + 900]
        rows = conn.execute(
            select(LOCATION.c.policy_id, LOCATION.c.system).where(
                and_(LOCATION.c.tenant == tenant, LOCATION.c.policy_id.in_(chunk))
            )
        )
        found.update({r.policy_id: r.system for r in rows})
    return found


def current_placements(
    conn: Connection, tenant: str, policy_ids: list[str]
) -> dict[str, tuple[str, int | None]]:
    """Policy id -> (system that holds it now, audit entry that put it there)."""
    found: dict[str, tuple[str, int | None]] = {}
    for start in range(0, len(policy_ids), 900):  # stay under SQLite's bound-parameter cap
        chunk = policy_ids[start : start + 900]
        rows = conn.execute(
            select(LOCATION.c.policy_id, LOCATION.c.system, LOCATION.c.entry_id).where(
                and_(LOCATION.c.tenant == tenant, LOCATION.c.policy_id.in_(chunk))
            )
        )
        found.update({r.policy_id: (r.system, r.entry_id) for r in rows})
    return found


@dataclass(frozen=True, slots=True)
class Move:
    """A policy going to a system (its first placement has no ``from_system``)."""

    policy_id: str
    to_system: str
    wave: str | None = None
    run_id: str | None = None
    rule: str | None = None
    reason: str | None = None
    #: The move changes what the system holds (a migration into a target, or its undo), not
    #: only a routing decision: it is recorded even when the location already names the system.
    arrival: bool = False


class LocationRecord(BaseModel):
    policy_id: str
    system: str
    wave: str | None
    run_id: str | None
    entry_id: int | None
    updated_at: datetime

    _utc = field_validator("updated_at")(as_utc)


class MoveRecord(BaseModel):
    id: int
    policy_id: str
    from_system: str | None
    to_system: str
    wave: str | None
    run_id: str | None
    rule: str | None
    reason: str | None
    entry_id: int | None
    moved_at: datetime

    _utc = field_validator("moved_at")(as_utc)


#: Validates a policy's moves in one call (not one ``model_validate`` per row).
_MOVES = TypeAdapter(list[MoveRecord])


class PolicyLocations:
    """The policy location table of one tenant."""

    def __init__(self, engine: Engine, *, tenant: str = DEFAULT_TENANT) -> None:
        self.engine = engine
        self.tenant = tenant

    def record_moves(self, conn: Connection, moves: Iterable[Move], *, entry_id: int | None) -> int:
        """Upsert current locations and append move rows, in the caller's transaction.

        A policy already in the system it is moved to gets no move row (re-running a batch after
        a crash must not duplicate history). Returns the number of moves written.
        """
        moves = list(moves)
        if not moves:
            return 0
        placed = current_placements(conn, self.tenant, [m.policy_id for m in moves])
        current = {pid: system for pid, (system, _) in placed.items()}
        now = utcnow()
        changed = [
            m
            for m in moves
            if current.get(m.policy_id) != m.to_system
            # An arrival is new unless this very entry placed it (a batch redone after a crash).
            or (m.arrival and placed[m.policy_id][1] != entry_id)
        ]
        if not changed:
            return 0
        bulk_insert(
            conn,
            "policy_move",
            MOVE_COLUMNS,
            [
                (
                    self.tenant,
                    m.policy_id,
                    current.get(m.policy_id),
                    m.to_system,
                    m.wave,
                    m.run_id,
                    m.rule,
                    m.reason,
                    entry_id,
                    now,
                )
                for m in changed
            ],
        )
        fresh = [m for m in changed if m.policy_id not in current]
        known = [m for m in changed if m.policy_id in current]
        counts: Counter[str] = Counter(m.to_system for m in changed)
        counts.subtract(current[m.policy_id] for m in known)
        _count_changes(conn, self.tenant, counts)
        bulk_insert(
            conn,
            "policy_location",
            LOCATION_COLUMNS,
            [
                (self.tenant, m.policy_id, m.to_system, m.wave, m.run_id, entry_id, now)
                for m in fresh
            ],
        )
        if known:
            # An update per policy, batched by the driver; moves of known policies are the
            # rarer case (re-routes, later waves).
            _set_locations(
                conn,
                self.tenant,
                [(m.policy_id, m.to_system, m.wave, m.run_id, entry_id) for m in known],
                now,
            )
        return len(changed)

    def undo_moves(self, conn: Connection, entry_id: int, *, by_entry: int, reason: str) -> int:
        """Undo the moves one audit entry made, in the caller's transaction; idempotent.

        Every policy whose location that entry still gave goes back to exactly where the move
        before it had put it (system, wave, run and entry), or loses its location when that move
        was its first. One move row per policy records the undo under ``by_entry``. A policy
        that something later moved again is left alone, and so is one already put back (its
        location's entry is no longer ``entry_id``), so a re-run after a crash changes nothing.

        Returns:
            The number of policies put back.
        """
        last: dict[str, int] = {}
        for row in conn.execute(
            select(MOVE.c.id, MOVE.c.policy_id).where(
                and_(MOVE.c.tenant == self.tenant, MOVE.c.entry_id == entry_id)
            )
        ):
            last[row.policy_id] = max(row.id, last.get(row.policy_id, 0))
        placed = current_placements(conn, self.tenant, list(last))
        still = [pid for pid in last if pid in placed and placed[pid][1] == entry_id]
        now = utcnow()
        for start in range(0, len(still), 900):  # SQLite's bound-parameter cap
            chunk = still[start : start + 900]
            before: dict[str, Any] = {}
            came_from: dict[str, str | None] = {}
            for row in conn.execute(
                select(MOVE)
                .where(and_(MOVE.c.tenant == self.tenant, MOVE.c.policy_id.in_(chunk)))
                .order_by(MOVE.c.id)
            ):
                if row.id == last[row.policy_id]:
                    came_from[row.policy_id] = row.from_system
                elif row.id < last[row.policy_id]:
                    before[row.policy_id] = row
            # A policy the undone move took from nowhere goes back to nowhere, even when an
            # earlier move (itself undone, which leaves no move row) had placed it somewhere.
            for pid, origin in came_from.items():
                if origin is None:
                    before.pop(pid, None)
            back = [pid for pid in chunk if pid in before]
            gone = [pid for pid in chunk if pid not in before]
            counts: Counter[str] = Counter(before[pid].to_system for pid in back)
            counts.subtract(placed[pid][0] for pid in chunk)
            _count_changes(conn, self.tenant, counts)
            if gone:
                conn.execute(
                    LOCATION.delete().where(
                        and_(LOCATION.c.tenant == self.tenant, LOCATION.c.policy_id.in_(gone))
                    )
                )
            if not back:
                continue
            _set_locations(
                conn,
                self.tenant,
                [
                    (m.policy_id, m.to_system, m.wave, m.run_id, m.entry_id)
                    for m in (before[pid] for pid in back)
                ],
                now,
            )
            bulk_insert(
                conn,
                "policy_move",
                MOVE_COLUMNS,
                [
                    (
                        self.tenant,
                        pid,
                        placed[pid][0],
                        before[pid].to_system,
                        before[pid].wave,
                        before[pid].run_id,
                        None,
                        reason,
                        by_entry,
                        now,
                    )
                    for pid in back
                ],
            )
        return len(still)

    def locate(self, policy_id: str, *, conn: Connection | None = None) -> LocationRecord | None:
        """Where the policy is now (None: never placed); on ``conn`` when given."""
        with reading(self.engine, conn) as read:
            row = read.execute(
                _LOCATION_OF, {"tenant": self.tenant, "policy_id": policy_id}
            ).first()
        return LocationRecord.model_validate(row._asdict()) if row else None

    def history(self, policy_id: str, *, conn: Connection | None = None) -> list[MoveRecord]:
        """Every move of the policy, oldest first; on ``conn`` when given."""
        with reading(self.engine, conn) as read:
            rows = read.execute(_MOVES_OF, {"tenant": self.tenant, "policy_id": policy_id})
            return _MOVES.validate_python([r._asdict() for r in rows])

    def counts_by_system(self) -> dict[str, int]:
        """Policies per system now: the kept counts (one row per system), not a count of
        every located policy."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(LOCATION_COUNT.c.system, LOCATION_COUNT.c.policies).where(
                    and_(LOCATION_COUNT.c.tenant == self.tenant, LOCATION_COUNT.c.policies > 0)
                )
            )
            return {system: int(count) for system, count in rows}
