"""The relay: platform outbox -> sync changes, and merged values -> each side.

Forwarding claims unsent outbox rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
relays share the work; SQLite's single writer lock, taken at the start, on SQLite), records each
as a change from ``new`` under a key made of its outbox id (``INSERT .. ON CONFLICT DO
NOTHING``: a repeated delivery records nothing), and marks it sent, all in one commit with the
batch's audit outcome; on PostgreSQL claim, mark and record are one statement (:data:`FORWARD`).
Rows whose origin is ``sync`` are data-mash's own merged values arriving
on the platform: they are recorded as acknowledgements (``ack``: the platform now holds what
sync sent, so both sides agree on it) and are never sent on to the legacy side (origin = none),
so nothing echoes back and forth.

On PostgreSQL the relay reads only rows of transactions older than the oldest one still
running in the database, ordered by transaction id: a row with a smaller sequence number
whose transaction commits later is not skipped. NOTIFY wakes the relay; since a notification
sent while no relay listens is lost, the relay also polls, and whatever was written while it was
down is waiting in the outbox when it comes back (catch-up).

Delivery sends merged values (``sync_outbound``) to their side: to the new platform as a write
of origin ``sync``, to the legacy side as a correction file (JSON lines, one file per batch,
named by its first and last row so a repeated delivery rewrites the same file). Each value is a
patch whose paths carry the value they expect to replace (compare-and-set), so a merged value
never overwrites a write made meanwhile, and applying a patch twice is harmless: both are
idempotent, so a relay killed between delivering and marking delivers again harmlessly.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, text, update

from core.settings import Settings
from core.store.bulk import bulk_insert
from core.store.models import (
    PlatformOutboxRow,
    SyncOutboundRow,
    table_of,
    utcnow,
)
from tools.audit import AuditLog
from tools.sync.capture import insert_ignoring_duplicates, legacy_drop_dir
from tools.sync.contracts import ChangeState, HlcStamp, RelayReport
from tools.sync.platform import CHANNEL, ORIGIN_NEW, ORIGIN_SYNC, NewPlatform

OUTBOX = table_of(PlatformOutboxRow)
OUTBOUND = table_of(SyncOutboundRow)
NAMESPACE = "sync"
BATCH = 500
#: The oldest transaction id still running in this database, as a 64-bit xid8 (the 32-bit
#: ``backend_xid`` widened with the current epoch). Outbox rows of transactions below it are
#: all committed (or gone), so reading only those, in transaction order, reads in commit order.
#: The cluster-wide ``pg_snapshot_xmin`` would do too, but a long transaction in any other
#: database of the server would then hold every relay back.
HORIZON = text(
    """
    SELECT coalesce(min(
        CASE WHEN a.backend_xid::text::bigint <= (s.x & 4294967295)
             THEN ((s.x >> 32) << 32) + a.backend_xid::text::bigint
             ELSE (((s.x >> 32) - 1) << 32) + a.backend_xid::text::bigint END),
        9223372036854775807)
    FROM pg_stat_activity a,
         (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x) s
    WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL
      AND a.pid <> pg_backend_pid()
    """
)


#: PostgreSQL forwarding in one statement: claim a batch below the horizon (``FOR UPDATE SKIP
#: LOCKED``), mark it sent, record each row as a change (its components worked out from the
#: delta's keys, the delta copied as stored) and list the batch's policies for the audit entry.
#: The rows never travel to Python and back: one round trip instead of five, no JSON decoded
#: and encoded again per change. Data-modifying CTEs all run once, to completion.
FORWARD = text(
    f"""
    WITH claimed AS (
        SELECT id FROM platform_outbox
        WHERE tenant = CAST(:tenant AS text) AND delivered_at IS NULL AND txid < ({HORIZON.text})
        ORDER BY txid, id
        LIMIT CAST(:batch AS bigint)
        FOR UPDATE SKIP LOCKED
    ), marked AS (
        UPDATE platform_outbox AS o SET delivered_at = CAST(:now AS timestamptz)
        FROM claimed WHERE o.id = claimed.id
        RETURNING o.id, o.txid, o.policy_id, o.origin, o.op, o.delta, o.hlc
    ), recorded AS (
        INSERT INTO sync_change (tenant, change_key, origin, policy_id, op, components, delta,
                                 hlc, source, state, entry_id, created_at)
        SELECT CAST(:tenant AS text), 'new:' || m.id, CAST(:new AS text), m.policy_id,
               CASE WHEN m.origin = CAST(:new AS text) THEN m.op ELSE 'ack' END,
               (SELECT coalesce(json_agg(DISTINCT c ORDER BY c), '[]'::json)
                  FROM (SELECT split_part(split_part(k, '.', 1), '[', 1) AS c
                          FROM json_object_keys(m.delta) AS k) AS keys),
               m.delta, m.hlc,
               'platform_outbox#' || m.id
                   || CASE WHEN m.origin = CAST(:new AS text) THEN '' ELSE ' (echo)' END,
               CAST(:pending AS text), CAST(:entry_id AS bigint), CAST(:now AS timestamptz)
        FROM marked AS m
        ORDER BY m.txid, m.id
        ON CONFLICT (tenant, change_key) DO NOTHING
    ), listed AS (
        INSERT INTO audit_policy (entry_id, tenant, policy_id)
        SELECT DISTINCT CAST(:entry_id AS bigint), CAST(:tenant AS text), policy_id FROM marked
    )
    SELECT count(*) AS claimed, count(*) FILTER (WHERE origin <> CAST(:new AS text)) AS echoes,
           min(id) AS first, max(id) AS last
    FROM marked
    """
)


def parse_stamp(value: str) -> HlcStamp:
    """``0001733580000000.00003@node`` (``str(HlcStamp)``) back into a stamp."""
    head, _, node = value.partition("@")
    wall, _, logical = head.partition(".")
    return HlcStamp(wall_ms=int(wall), logical=int(logical), node=node)


class Relay:
    """Forwards the platform outbox and delivers merged values, for one tenant."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        tenant: str,
        actor: str | None = None,
        batch: int = BATCH,
        after_commit: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tenant = tenant
        self.batch = batch
        self.audit = AuditLog(engine, tenant=tenant, actor=actor or "sync-relay")
        self.platform = NewPlatform(
            engine, tenant=tenant, actor=actor or "sync-relay", settings=settings
        )
        self._after_commit = after_commit  # tests: crash points

    # -- forwarding ---------------------------------------------------------------------------

    def _pending_outbox(self) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(OUTBOX.c.id)
                    .where(and_(OUTBOX.c.tenant == self.tenant, OUTBOX.c.delivered_at.is_(None)))
                    .limit(1)
                ).first()
                is not None
            )

    def forward(self) -> RelayReport:
        """Forward one batch of outbox rows (all or none of the batch commits)."""
        report = RelayReport()
        if not self._pending_outbox():
            return report
        with self.audit.operation(NAMESPACE, "relay.forward", target="platform_outbox") as op:
            with op.atomic() as conn:
                if conn.dialect.name == "postgresql":
                    self._forward_in_one(conn, op, report)
                else:
                    self._forward_rows(conn, op, report)
        self._crash_point("forward")
        return report

    def _forward_rows(self, conn: Connection, op: Any, report: RelayReport) -> None:
        """SQLite: claim under the writer lock, then record and mark the rows."""
        rows = self._claim(conn)
        changes = [
            {
                "tenant": self.tenant,
                "change_key": f"new:{r.id}",
                "origin": ORIGIN_NEW,
                "policy_id": r.policy_id,
                "op": r.op if r.origin == ORIGIN_NEW else "ack",
                "components": sorted({_component(p) for p in r.delta}),
                "delta": r.delta,
                "hlc": r.hlc,
                "source": f"platform_outbox#{r.id}" + ("" if r.origin == ORIGIN_NEW else " (echo)"),
                "state": ChangeState.PENDING.value,
                "entry_id": op.entry_id,
                "created_at": utcnow(),
            }
            for r in rows
        ]
        insert_ignoring_duplicates(conn, changes)
        if rows:
            conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_([r.id for r in rows]))
                .values(delivered_at=utcnow())
            )
        ids = sorted({c["policy_id"] for c in changes})
        bulk_insert(
            conn,
            "audit_policy",
            ("entry_id", "tenant", "policy_id"),
            [(op.entry_id, self.tenant, pid) for pid in ids],
        )
        report.echoes = sum(1 for r in rows if r.origin != ORIGIN_NEW)
        report.forwarded = len(rows) - report.echoes
        op.outcome = report.model_dump() | {"outbox": [rows[0].id, rows[-1].id] if rows else None}

    def _forward_in_one(self, conn: Connection, op: Any, report: RelayReport) -> None:
        """PostgreSQL: the batch claimed, marked and recorded by :data:`FORWARD`."""
        done = conn.execute(
            FORWARD,
            {
                "tenant": self.tenant,
                "batch": self.batch,
                "now": utcnow(),
                "new": ORIGIN_NEW,
                "pending": ChangeState.PENDING.value,
                "entry_id": op.entry_id,
            },
        ).one()
        report.echoes = int(done.echoes)
        report.forwarded = int(done.claimed) - report.echoes
        op.outcome = report.model_dump() | {
            "outbox": [done.first, done.last] if done.claimed else None
        }

    def _claim(self, conn: Connection) -> list[Any]:
        # SQLite's one writer: take the write lock first, then read the committed rows.
        conn.execute(update(OUTBOX).where(OUTBOX.c.id == -1).values(op=OUTBOX.c.op))
        query = (
            select(
                OUTBOX.c.id,
                OUTBOX.c.policy_id,
                OUTBOX.c.origin,
                OUTBOX.c.op,
                OUTBOX.c.delta,
                OUTBOX.c.hlc,
            )
            .where(and_(OUTBOX.c.tenant == self.tenant, OUTBOX.c.delivered_at.is_(None)))
            .order_by(OUTBOX.c.id)
            .limit(self.batch)
        )
        return list(conn.execute(query).all())

    # -- delivering merged values ---------------------------------------------------------------

    def deliver(self) -> RelayReport:
        """Deliver one batch of merged values to each side."""
        report = RelayReport()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(OUTBOUND)
                .where(and_(OUTBOUND.c.tenant == self.tenant, OUTBOUND.c.delivered_at.is_(None)))
                .order_by(OUTBOUND.c.id)
                .limit(self.batch)
            ).all()
        if not rows:
            return report
        to_legacy = [r for r in rows if r.side == "legacy"]
        for row in rows:  # in the order decided: each patch expects what the one before set
            if row.side == "new":
                self.platform.patch_policy(
                    row.policy_id,
                    row.document or {},
                    origin=ORIGIN_SYNC,
                    stamp=parse_stamp(row.hlc),
                    reason=f"merged value, sync_outbound#{row.id}",
                    mirror=False,  # the batch's policies go to the platform's tables at once
                )
                report.to_new += 1
        self.platform.mirror_owed()
        if to_legacy:
            self._drop(rows[0].id, rows[-1].id, to_legacy)
            report.to_legacy = len(to_legacy)
        self._crash_point("deliver")
        with self.audit.operation(
            NAMESPACE,
            "relay.deliver",
            target="sync_outbound",
            payload={"rows": [rows[0].id, rows[-1].id]},
            policy_ids=sorted({r.policy_id for r in rows}),
        ) as op:
            op.outcome = report.model_dump()
            with op.atomic() as conn:
                conn.execute(
                    update(OUTBOUND)
                    .where(OUTBOUND.c.id.in_([r.id for r in rows]))
                    .values(delivered_at=utcnow())
                )
        return report

    def _drop(self, first: int, last: int, rows: list[Any]) -> Path:
        folder = legacy_drop_dir(self.settings, self.tenant)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"corrections-{first:012d}-{last:012d}.jsonl"
        partial = target.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as handle:
            for row in rows:
                line = {"policy_id": row.policy_id, "patch": row.document, "hlc": row.hlc}
                handle.write(json.dumps(line, sort_keys=True, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(target)
        return target

    # -- loop -------------------------------------------------------------------------------------

    def pass_once(self) -> RelayReport:
        """Forward and deliver until neither has anything left."""
        total = RelayReport()
        self.platform.replay_mirror()  # platform writes a crash kept from the platform's tables
        while True:
            step = self.forward()
            sent = self.deliver()
            for name in RelayReport.model_fields:
                setattr(
                    total, name, getattr(total, name) + getattr(step, name) + getattr(sent, name)
                )
            if not any(getattr(step, n) or getattr(sent, n) for n in RelayReport.model_fields):
                return total

    def run(self, *, poll_seconds: float = 1.0, max_seconds: float | None = None) -> RelayReport:
        """Relay until ``max_seconds`` have passed: wake on NOTIFY, poll as a fallback."""
        total = RelayReport()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        listener = self._listen()
        try:
            while deadline is None or time.monotonic() < deadline:
                step = self.pass_once()
                for name in RelayReport.model_fields:
                    setattr(total, name, getattr(total, name) + getattr(step, name))
                wait = poll_seconds
                if deadline is not None:
                    wait = max(0.0, min(wait, deadline - time.monotonic()))
                if listener is not None:
                    for _note in listener.notifies(timeout=wait, stop_after=1):
                        break
                else:
                    time.sleep(wait)
        finally:
            if listener is not None:
                listener.close()
        return total

    def _listen(self) -> Any:
        if self.engine.dialect.name != "postgresql":
            return None
        # Imported here: the PostgreSQL driver is needed only with a PostgreSQL URL.
        import psycopg  # noqa: PLC0415

        url = self.engine.url.set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _crash_point(self, where: str) -> None:
        if self._after_commit is not None:
            self._after_commit(where)


def _component(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]
