"""Writes to the new platform through data-mash, each with its outbox event in the same commit.

The dual-write problem (write the platform, then tell the other side; crash in between and the
other side never hears of it) is avoided the Debezium way: the policy's new document and an
outbox row describing the change (policy, operation, changed paths, origin, HLC stamp) commit in
one transaction, and a relay (:mod:`tools.sync.relay`) forwards outbox rows afterwards. The
write takes the policy's row lock first, so two writers of one policy commit one after the
other, and on PostgreSQL the row records its transaction id: the relay orders by it and only
reads below the oldest running transaction, i.e. in commit order, not sequence order.

Every outbox row carries its origin. A platform user's write is ``new``; a merged value that
``sync run`` puts on the platform is ``sync``, and the relay never sends ``sync`` rows back to
the legacy side (PostgreSQL's ``origin = none``): no echo, no ping-pong.

A policy a wave placed in the ``new_platform`` target is written there too, whole, through the
target's own write code (:mod:`tools.sync.mirror`): in the same commit when the target shares
the store's database, else right after the commit, replayed after a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, and_, insert, select, text, update

from core.errors import InputError
from core.ids import ID_PATTERN
from core.settings import Settings
from core.store.bulk import json_value, select_in
from core.store.models import PlatformOutboxRow, PlatformPolicyRow, table_of, utcnow
from tools.audit import AuditLog
from tools.sync.clock import open_clock
from tools.sync.contracts import HlcStamp, PlatformWrite
from tools.sync.mirror import PlatformTables
from tools.sync.paths import delta_of, flatten
from tools.waves.context import WaveContext

POLICY = table_of(PlatformPolicyRow)
OUTBOX = table_of(PlatformOutboxRow)
NAMESPACE = "sync"
#: The PostgreSQL channel the relay listens on; NOTIFY only wakes it, polling stays the truth.
CHANNEL = "data_mash_outbox"
ORIGIN_NEW, ORIGIN_SYNC = "new", "sync"
_POLICY_ID = re.compile(ID_PATTERN)


def check_policy_id(policy_id: str) -> str:
    """Refuse an empty, over-long or path-like policy id (one clear error)."""
    if not isinstance(policy_id, str) or not _POLICY_ID.match(policy_id):
        raise InputError(
            f"policy id {policy_id!r} is not valid",
            where="policy_id",
            fix="1-64 characters, no slashes or control characters",
        )
    return policy_id


def document_for(
    policy_id: str, document: Mapping[str, Any] | BaseModel | None
) -> dict[str, Any] | None:
    """The flat document a write of ``policy_id`` stores (None: a delete), checked.

    Raises:
        InputError: a bad policy id, or a document whose policy id differs.
    """
    check_policy_id(policy_id)
    if document is None:
        return None
    flat = flat_document(document)
    declared = flat.get("policy_core.policy_id")
    if declared not in (None, policy_id):
        raise InputError(
            f"the document is policy {declared!r}, not {policy_id!r}",
            where="policy_core.policy_id",
            fix="write each policy under its own id",
        )
    flat["policy_core.policy_id"] = policy_id
    return flat


def flat_document(document: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    """A document as flat paths without empty leaves (a flat document passes through)."""
    if document is None:
        return {}
    data = document.model_dump(mode="json") if isinstance(document, BaseModel) else document
    if any("." in key or "[" in key for key in data):
        flat = dict(data)
    else:
        flat = flatten(dict(data))
    return {p: v for p, v in flat.items() if v not in (None, "", [], {})}


class NewPlatform:
    """The new platform's policy documents and their outbox, for one tenant."""

    def __init__(
        self,
        engine: Engine,
        *,
        tenant: str,
        actor: str | None = None,
        settings: Settings | None = None,
        context: WaveContext | None = None,
    ) -> None:
        """``settings`` (or a wave ``context``) find the platform's tables of migrated policies;
        without either, a write to a policy a wave placed there is refused."""
        self.engine = engine
        self.tenant = tenant
        self.audit = AuditLog(engine, tenant=tenant, actor=actor)
        self.tables = PlatformTables(
            engine, tenant=tenant, settings=settings, context=context, actor=actor
        )
        self._clock = open_clock(engine, tenant=tenant, node="new")
        self._owed: set[str] = set()  # written, not yet in the platform's tables

    def document(self, policy_id: str) -> dict[str, Any] | None:
        """The policy's current flat document, or None when the platform does not hold it."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(POLICY.c.document).where(
                    and_(POLICY.c.tenant == self.tenant, POLICY.c.policy_id == policy_id)
                )
            ).first()
        return dict(row.document) if row is not None and row.document is not None else None

    def records(self, policy_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The current flat documents of ``policy_ids`` (None: deleted; absent: never held)."""
        with self.engine.connect() as conn:
            rows = select_in(
                conn,
                "SELECT policy_id, document FROM platform_policy "
                "WHERE tenant = {m} AND policy_id IN ({keys})",
                (self.tenant,),
                list(policy_ids),
                chunk=900,
            )
            return {pid: json_value(document) or None for pid, document in rows}

    def documents(self, *, batch: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every policy the platform holds, in policy id order, a page at a time."""
        after = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(POLICY.c.policy_id, POLICY.c.document)
                    .where(
                        and_(
                            POLICY.c.tenant == self.tenant,
                            POLICY.c.policy_id > after,
                            POLICY.c.document.is_not(None),
                        )
                    )
                    .order_by(POLICY.c.policy_id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                if row.document:  # a deleted policy's document is JSON null
                    yield row.policy_id, dict(row.document)
            after = rows[-1].policy_id

    def write_policy(
        self,
        policy_id: str,
        document: Mapping[str, Any] | BaseModel | None,
        *,
        origin: str = ORIGIN_NEW,
        stamp: HlcStamp | None = None,
        reason: str | None = None,
        mirror: bool = True,
    ) -> PlatformWrite:
        """Write (or with ``document=None`` delete) a policy on the platform, audited.

        The document and its outbox event commit together; writing what the platform already
        holds writes nothing and emits no event. A policy a wave placed in the platform's
        tables is written there too (``mirror=False``: later, by :meth:`mirror_owed`).

        Raises:
            InputError: a bad policy id, a document whose policy id differs, or a value the
                platform's tables cannot hold (nothing is written).
        """
        flat = document_for(policy_id, document)
        stamp = stamp or self._clock.now()
        with self.audit.operation(
            NAMESPACE,
            "platform.write" if document is not None else "platform.delete",
            target=policy_id,
            payload={"origin": origin, "hlc": str(stamp), "reason": reason},
            policy_ids=[policy_id],
        ) as op:
            with op.atomic() as conn:
                result = self._write(conn, policy_id, flat, origin, stamp)
                op.outcome = result.model_dump(mode="json")
        if mirror:
            self.mirror_owed()
        return result

    def patch_policy(
        self,
        policy_id: str,
        patch: Mapping[str, Any],
        *,
        origin: str = ORIGIN_SYNC,
        stamp: HlcStamp | None = None,
        reason: str | None = None,
        mirror: bool = True,
    ) -> PlatformWrite:
        """Set some paths of a policy, each only if it still holds the expected value.

        ``patch`` is ``{"set": {path: value or None}, "expect": {path: value or None}}``. A path
        whose current value is not the expected one was written meanwhile by a platform user:
        it is left alone (that write's own event brings it to sync), so a merged value never
        overwrites a newer one. A policy left with no fields is deleted.
        """
        check_policy_id(policy_id)
        if stamp is not None:
            self._clock.receive(stamp)  # what we hear from sync moves our clock past it
        stamp = self._clock.now()
        sets, expect = dict(patch.get("set") or {}), dict(patch.get("expect") or {})
        with self.audit.operation(
            NAMESPACE,
            "platform.patch",
            target=policy_id,
            payload={"origin": origin, "hlc": str(stamp), "paths": sorted(sets), "reason": reason},
            policy_ids=[policy_id],
        ) as op:
            with op.atomic() as conn:
                before, version = self._lock(conn, policy_id)
                after = dict(before)
                skipped = []
                for path, value in sets.items():
                    if before.get(path) != expect.get(path):
                        skipped.append(path)
                        continue
                    if value is None:
                        after.pop(path, None)
                    else:
                        after[path] = value
                result = self._commit(
                    conn, policy_id, before, version, after or None, origin, stamp
                )
                result.skipped = skipped
                op.outcome = result.model_dump(mode="json")
        if mirror:
            self.mirror_owed()
        return result

    def _lock(self, conn: Connection, policy_id: str) -> tuple[dict[str, Any], int]:
        where = and_(POLICY.c.tenant == self.tenant, POLICY.c.policy_id == policy_id)
        query = select(POLICY.c.document, POLICY.c.version).where(where)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        else:  # take SQLite's write lock now, so the read below is the committed latest
            conn.execute(update(POLICY).where(where).values(version=POLICY.c.version))
        row = conn.execute(query).first()
        if row is None:
            return {}, 0
        return (dict(row.document) if row.document is not None else {}), int(row.version)

    def _write(
        self,
        conn: Connection,
        policy_id: str,
        flat: dict[str, Any] | None,
        origin: str,
        stamp: HlcStamp,
    ) -> PlatformWrite:
        before, version = self._lock(conn, policy_id)
        return self._commit(conn, policy_id, before, version, flat, origin, stamp)

    def _commit(
        self,
        conn: Connection,
        policy_id: str,
        before: dict[str, Any],
        version: int,
        flat: dict[str, Any] | None,
        origin: str,
        stamp: HlcStamp,
    ) -> PlatformWrite:
        after = flat or {}
        delta = delta_of(before, after)
        if not delta:
            return PlatformWrite(policy_id=policy_id, op="none", changed=[], version=version)
        op = "delete" if flat is None else ("insert" if not before else "update")
        where = and_(POLICY.c.tenant == self.tenant, POLICY.c.policy_id == policy_id)
        if version == 0:
            conn.execute(
                insert(POLICY).values(
                    tenant=self.tenant,
                    policy_id=policy_id,
                    document=flat,
                    version=1,
                    updated_at=utcnow(),
                )
            )
        else:
            conn.execute(
                update(POLICY)
                .where(where)
                .values(document=flat, version=version + 1, updated_at=utcnow())
            )
        version += 1
        wave_id, owed = self._place(conn, policy_id, flat)
        txid = None
        if conn.dialect.name == "postgresql":
            txid = conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
        outbox_id = conn.execute(
            insert(OUTBOX)
            .values(
                tenant=self.tenant,
                policy_id=policy_id,
                origin=origin,
                op=op,
                delta=delta,
                hlc=str(stamp),
                txid=txid,
                created_at=utcnow(),
                mirrored_at=None if owed else utcnow(),
            )
            .returning(OUTBOX.c.id)
        ).scalar_one()
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_notify(:channel, :tenant)"),
                {"channel": CHANNEL, "tenant": self.tenant},
            )
        return PlatformWrite(
            policy_id=policy_id,
            op=op,
            changed=sorted(delta),
            version=version,
            outbox_id=outbox_id,
            wave_id=wave_id,
        )

    def _place(
        self, conn: Connection, policy_id: str, flat: dict[str, Any] | None
    ) -> tuple[str | None, bool]:
        """Write the policy into the platform's tables if a wave placed it there: in ``conn``'s
        transaction when they share the store's database, else owed (written after commit).
        Returns the wave the tables hold it under (None: they do not) and whether it is owed."""
        wave_id = self.tables.homes(conn, [policy_id]).get(policy_id)
        if wave_id is None:
            return None, False
        if flat is not None:
            self.tables.check({policy_id: flat})  # refused before anything commits
        if self.tables.shares_store(self.tables.target(wave_id)):
            self.tables.put(wave_id, {policy_id: flat}, within=conn)
            return wave_id, False
        self._owed.add(policy_id)  # after a rollback there is nothing pending: harmless
        return wave_id, True

    def mirror_owed(self) -> int:
        """Write what this handle's committed writes owe the platform's tables (steps 2 and 3
        of :mod:`tools.sync.mirror`); returns the outbox rows marked."""
        owed, self._owed = sorted(self._owed), set()
        return self.tables.mirror(owed) if owed else 0

    def replay_mirror(self) -> int:
        """Write every platform write a crash kept from the platform's tables (idempotent)."""
        return self.tables.replay()
