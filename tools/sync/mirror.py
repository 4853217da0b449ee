"""The new platform's own tables: a write through sync lands where the wave put the policy.

A wave to ``new_platform`` writes whole policies into the target's tables (``policy`` and its
child tables ``coverage``, ``payment``, ``endorsement``, ``document``... with foreign keys to
``policy``; :mod:`tools.waves.targets.new_platform`), and ``policy_location`` records the wave
that placed each policy there. Sync keeps its view of the platform (``platform_policy``) and the
outbox in the store. A write through :class:`tools.sync.platform.NewPlatform` to a policy the
target holds (a platform user's ``write_policy``, or a merged value ``sync run`` delivers) also
writes the policy's whole current document into the target, through the target's own ``write``
(an upsert of the policy row under its wave, its child rows replaced): the layout the wave wrote.

Ordering, by where the target lives:

- In the store's own database (same URL): the target write joins the transaction of the
  document and its outbox row, and the row is born mirrored (``mirrored_at`` set).
- In another database (the default: a SQLite file in the workspace), where no transaction spans
  both: (1) the document and its outbox row commit, the row unmarked; (2) the target takes the
  policy's current document (an idempotent upsert); (3) the outbox rows are marked. Steps 2 and
  3 run under the policies' row locks in the store, so two mirrors of one policy run one after
  the other and the later one writes the later document. A crash after (1) or (2) leaves the
  rows unmarked; :meth:`PlatformTables.replay` (every relay pass, so every ``sync run``) writes
  the current documents again: nothing is lost, and nothing doubles (the upsert replaces).

A policy no wave placed on the platform has no row in the target to update (and no wave to file
it under): its writes stay in sync's ``platform_policy`` and its outbox rows are born mirrored.
Documents are written in canonical form, list items in the order the platform's document holds
them (the wave's order; an item sync adds comes last); a value the canonical model
cannot hold (a date that is none) is refused before anything commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.engine import URL

from core.errors import ConfigError, InputError
from core.settings import Settings
from core.store.bulk import json_value, select_in
from core.store.models import (
    PlatformOutboxRow,
    PlatformPolicyRow,
    PolicyLocation,
    WavePlanRow,
    WaveRow,
    table_of,
    utcnow,
)
from core.targets import TargetName
from knowledge.canonical import records_to_arrow
from tools.audit import AuditLog
from tools.sync.paths import unflatten
from tools.waves.context import WaveContext
from tools.waves.contracts import PlanCriteria
from tools.waves.targets.new_platform import NewPlatformTarget

OUTBOX = table_of(PlatformOutboxRow)
POLICY = table_of(PlatformPolicyRow)
LOCATION = table_of(PolicyLocation)
WAVE = table_of(WaveRow)
PLAN = table_of(WavePlanRow)
NAMESPACE = "sync"
BATCH = 500
_CHUNK = 900


def wave_target(
    engine: Engine, settings: Settings, tenant: str, wave: Any, context: WaveContext | None
) -> Any:
    """The configured target a wave wrote to (its plan's ``target_config``)."""
    with engine.connect() as conn:
        plan = conn.execute(
            select(PLAN.c.criteria).where(
                and_(PLAN.c.tenant == tenant, PLAN.c.plan_id == wave.plan_id)
            )
        ).first()
    criteria = PlanCriteria.model_validate(plan.criteria if plan is not None else {})
    context = context or WaveContext.default(engine, settings, tenant)
    return context.target(wave.target, criteria.target_config)


def records_of(documents: Mapping[str, Mapping[str, Any]]) -> pa.Table:
    """Flat sync documents (policy id -> dotted paths) as canonical Arrow records.

    Raises:
        InputError: a value the canonical model cannot hold, naming the policy and field.
    """
    nested = []
    for policy_id, flat in documents.items():
        doc = unflatten(dict(flat))
        doc.setdefault("policy_core", {})["policy_id"] = policy_id
        nested.append(doc)
    try:
        return records_to_arrow(nested)
    except InputError as exc:
        ids = list(documents)
        where = exc.where or ""
        if where.startswith("record "):  # "record 3, field x" -> the policy it is
            number, _, rest = where[len("record ") :].partition(",")
            if number.isdigit() and int(number) < len(ids):
                where = f"policy {ids[int(number)]},{rest}"
        raise InputError(exc.what, where=where, fix=exc.fix) from None


def _same_database(a: URL, b: URL) -> bool:
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return bool(a.database) and a.database == b.database
    keys = ("host", "port", "database")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


class PlatformTables:
    """The new_platform targets of one tenant's migrated policies, as sync writes them."""

    def __init__(
        self,
        engine: Engine,
        *,
        tenant: str,
        settings: Settings | None = None,
        context: WaveContext | None = None,
        actor: str | None = None,
    ) -> None:
        self.engine = engine
        self.tenant = tenant
        if settings is None and context is not None:
            settings = context.settings
        self.settings = settings
        self.context = context
        self.audit = AuditLog(engine, tenant=tenant, actor=actor)
        self._targets: dict[str, Any] = {}

    # -- where a policy lives ---------------------------------------------------------------

    def homes(self, conn: Connection, policy_ids: Sequence[str]) -> dict[str, str]:
        """Policy id -> the wave that placed it on the new platform (absent: not there)."""
        found: dict[str, str] = {}
        for start in range(0, len(policy_ids), _CHUNK):
            rows = conn.execute(
                select(LOCATION.c.policy_id, LOCATION.c.wave).where(
                    and_(
                        LOCATION.c.tenant == self.tenant,
                        LOCATION.c.system == TargetName.NEW_PLATFORM.value,
                        LOCATION.c.wave.is_not(None),
                        LOCATION.c.policy_id.in_(policy_ids[start : start + _CHUNK]),
                    )
                )
            )
            found.update({r.policy_id: r.wave for r in rows})
        return found

    def waves(self) -> list[str]:
        """The waves whose policies the new platform holds now (by ``policy_location``)."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(LOCATION.c.wave)
                    .where(
                        and_(
                            LOCATION.c.tenant == self.tenant,
                            LOCATION.c.system == TargetName.NEW_PLATFORM.value,
                            LOCATION.c.wave.is_not(None),
                        )
                    )
                    .distinct()
                    .order_by(LOCATION.c.wave)
                ).scalars()
            )

    def placed(self, wave_id: str) -> set[str]:
        """The policies wave ``wave_id`` placed on the new platform and still has there."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    select(LOCATION.c.policy_id).where(
                        and_(
                            LOCATION.c.tenant == self.tenant,
                            LOCATION.c.system == TargetName.NEW_PLATFORM.value,
                            LOCATION.c.wave == wave_id,
                        )
                    )
                ).scalars()
            )

    def target(self, wave_id: str) -> Any:
        """The target wave ``wave_id`` wrote to, its tables ready (one per wave, kept).

        Raises:
            ConfigError: no settings to find it with, or the target cannot take writes.
        """
        if wave_id in self._targets:
            return self._targets[wave_id]
        if self.settings is None:
            raise ConfigError(
                f"policies of wave {wave_id} live in the platform's tables, but this platform "
                "handle was opened without settings",
                where="NewPlatform",
                fix="open it with settings= (the workspace whose waves wrote the target)",
            )
        with self.engine.connect() as conn:
            wave = conn.execute(
                select(WAVE).where(and_(WAVE.c.tenant == self.tenant, WAVE.c.wave_id == wave_id))
            ).first()
        if wave is None:
            raise ConfigError(
                f"policy_location names wave {wave_id}, which the store does not hold",
                where=f"wave {wave_id}",
                fix="check the store; sync cannot find the platform tables of that wave",
            )
        target = wave_target(self.engine, self.settings, self.tenant, wave, self.context)
        health = target.health()  # creates the tables if needed, outside any transaction
        if not health.ok:
            raise ConfigError(
                f"the platform's tables cannot take writes: {health.detail}",
                where=f"target of wave {wave_id}",
                fix="check the target database, then run sync again (writes are replayed)",
            )
        self._targets[wave_id] = target
        return target

    def shares_store(self, target: Any) -> bool:
        """Whether ``target`` keeps its tables in the store's own database."""
        return isinstance(target, NewPlatformTarget) and _same_database(target.url, self.engine.url)

    # -- writing ------------------------------------------------------------------------------

    def put(
        self,
        wave_id: str,
        documents: Mapping[str, Mapping[str, Any] | None],
        *,
        within: Connection | None = None,
    ) -> None:
        """Write policies' whole documents (None: delete the policy) into the wave's target.

        ``within``: the store's transaction, when the target shares the store's database.
        """
        target = self.target(wave_id)
        kept = {pid: doc for pid, doc in documents.items() if doc is not None}
        gone = [pid for pid, doc in documents.items() if doc is None]
        if kept:
            records = records_of(kept)
            if within is not None:
                target.write(wave_id, records, within=within)
            else:
                target.write(wave_id, records)
        if gone:
            if within is not None:
                target.delete(wave_id, gone, within=within)
            else:
                target.delete(wave_id, gone)

    def check(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        """Refuse documents the target could not take, before anything is written."""
        if documents:
            records_of(documents)

    def mirror(self, policy_ids: Iterable[str]) -> int:
        """Steps 2 and 3: the target takes the policies' current documents, their outbox rows
        are marked, under the policies' row locks; returns the outbox rows marked."""
        ids = sorted(set(policy_ids))
        if not ids:
            return 0
        with self.audit.operation(
            NAMESPACE,
            "platform.mirror",
            target="new_platform",
            payload={"policies": len(ids)},
            policy_ids=ids,
        ) as op:
            with op.atomic() as conn:
                self._lock(conn, ids)
                pending = self._pending(conn, ids)
                owed = sorted({pid for _, pid in pending})
                homes = self.homes(conn, owed)
                documents = self._documents(conn, [pid for pid in owed if pid in homes])
                by_wave: dict[str, dict[str, dict[str, Any] | None]] = {}
                for pid, wave_id in homes.items():
                    by_wave.setdefault(wave_id, {})[pid] = documents.get(pid)
                for wave_id, docs in sorted(by_wave.items()):
                    self.put(wave_id, docs)
                if pending:
                    conn.execute(
                        update(OUTBOX)
                        .where(OUTBOX.c.id.in_([i for i, _ in pending]))
                        .values(mirrored_at=utcnow())
                    )
                op.outcome = {
                    "marked": len(pending),
                    "written": sum(len(d) for d in by_wave.values()),
                    "waves": sorted(by_wave),
                }
        return len(pending)

    def replay(self, *, batch: int = BATCH) -> int:
        """Mirror every outbox row a crash left unmarked; returns the rows marked."""
        total = 0
        while True:
            with self.engine.connect() as conn:
                ids = list(
                    conn.execute(
                        select(OUTBOX.c.policy_id)
                        .where(and_(OUTBOX.c.tenant == self.tenant, OUTBOX.c.mirrored_at.is_(None)))
                        .order_by(OUTBOX.c.id)
                        .limit(batch)
                    ).scalars()
                )
            if not ids:
                return total
            marked = self.mirror(ids)
            total += marked
            if not marked:  # another process marked them meanwhile
                continue

    # -- store reads ----------------------------------------------------------------------------

    def _lock(self, conn: Connection, ids: list[str]) -> None:
        """Hold the policies' platform rows until commit (a writer of them waits)."""
        for start in range(0, len(ids), _CHUNK):
            where = and_(
                POLICY.c.tenant == self.tenant, POLICY.c.policy_id.in_(ids[start : start + _CHUNK])
            )
            if conn.dialect.name == "postgresql":
                conn.execute(select(POLICY.c.policy_id).where(where).with_for_update()).all()
            else:  # SQLite's one writer lock, taken now
                conn.execute(update(POLICY).where(where).values(version=POLICY.c.version))

    def _pending(self, conn: Connection, ids: list[str]) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                select(OUTBOX.c.id, OUTBOX.c.policy_id).where(
                    and_(
                        OUTBOX.c.tenant == self.tenant,
                        OUTBOX.c.mirrored_at.is_(None),
                        OUTBOX.c.policy_id.in_(ids[start : start + _CHUNK]),
                    )
                )
            )
            found.extend((r.id, r.policy_id) for r in rows)
        return found

    def _documents(self, conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The platform's current documents (a deleted policy is absent)."""
        found: dict[str, dict[str, Any]] = {}
        rows = select_in(
            conn,
            "SELECT policy_id, document FROM platform_policy "
            "WHERE tenant = {m} AND policy_id IN ({keys})",
            (self.tenant,),
            ids,
            chunk=_CHUNK,
        )
        for pid, document in rows:
            value = json_value(document)
            if value:
                found[pid] = value
        return found
