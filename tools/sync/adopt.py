"""After a wave: sync takes the policies the wave migrated, as the target store holds them.

A wave to the new platform (or the coexistence bridge) writes whole canonical policies into the
target's own tables (``policy`` and its child tables ``coverage``, ``payment``...). Sync keeps
its view of the new side in ``platform_policy`` and its per-policy state in ``sync_policy``;
``adopt_wave`` reads the wave's policies back through the target plugin's ``read_back``
(:class:`tools.waves.targets.base.MigrationTarget`, the same read the wave's validate step
reconciles with), flattens each to sync's dotted paths and makes it

- the platform document of the policy (``platform_policy``, no outbox event: the platform
  already holds it, there is nothing to propagate), and
- for a policy sync does not know yet, the agreed base and both sides' last known version:
  the wave migrated the legacy policy, so at that moment both systems held the same policy;
- for a policy sync already follows, a change from ``new`` carrying the difference between
  what sync knew of the new side and what the wave wrote, merged by the next ``sync run``.

So a later legacy extract is compared with what the wave migrated, field by field. One audited
operation per read-back batch, idempotent per wave run: re-adopting after a crash or twice
records nothing new.

The reverse, after a wave is rolled back (its compensation removed its policies from the target
and restored their locations): :func:`release_rolled_back` moves the policies the wave gave to
``new`` or ``dual`` back to ``legacy`` in the ledger and makes sync forget the new side of them
(``platform_policy`` no longer holds them, ``sync_policy.new`` is unknown, merged values still
owed to the new side are dropped), so a later legacy change is not carried to a new side that
no longer has the policy. ``sync run`` does this first.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, and_, null, select, update

from core.errors import InputError, NotFoundError
from core.settings import Settings
from core.statuses import WaveState
from core.store.bulk import bulk_insert, json_text, json_value, select_in
from core.store.models import (
    PlatformPolicyRow,
    SyncOutboundRow,
    SyncOwnershipRow,
    SyncPolicyRow,
    WaveRow,
    table_of,
    utcnow,
)
from tools.audit import AuditLog
from tools.sync.capture import insert_ignoring_duplicates
from tools.sync.clock import unsaved_clock
from tools.sync.contracts import (
    AdoptReport,
    ChangeState,
    Owner,
    RollbackRelease,
    WaveAdoption,
)
from tools.sync.ledger import TARGET_OWNERS, OwnershipLedger, set_owners
from tools.sync.mirror import records_of, wave_target
from tools.sync.paths import delta_of, flatten_into
from tools.sync.platform import flat_document
from tools.waves.context import WaveContext
from tools.waves.targets.codec import conform

WAVE = table_of(WaveRow)
POLICY = table_of(PlatformPolicyRow)
STATE = table_of(SyncPolicyRow)
OWNERSHIP = table_of(SyncOwnershipRow)
OUTBOUND = table_of(SyncOutboundRow)
NAMESPACE = "sync"
BATCH = 500
#: Sees one read-back batch's flat documents: policy id -> document.
DocumentsSeen = Callable[[dict[str, dict[str, Any]]], None]
_CHUNK = 900


def _leaf(value: Any) -> Any:
    """A stored value as sync's JSON leaf (as the legacy capture writes them)."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def _nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": [{"d.e": 2}]}`` -> ``{"a": {"b": 1}, "c": [{"d": {"e": 2}}]}``."""
    tree: dict[str, Any] = {}
    for key, value in dotted.items():
        if isinstance(value, list):
            value = [_nested(v) if isinstance(v, Mapping) else _leaf(v) for v in value]
        else:
            value = _leaf(value)
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


_EMPTY: tuple[Any, ...] = (None, "", [], {})  # the leaves flat_document drops


def _plan(schema: pa.Schema) -> list[tuple[str, int]]:
    """The batch's columns in :func:`flatten`'s order (dotted segments sorted level by level),
    each with how a value is flattened: 0 a leaf, 1 a list, 2 a struct."""
    kinds = []
    for field in schema:
        kind = 0
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            kind = 1
        elif pa.types.is_struct(field.type):
            kind = 2
        kinds.append((field.name, kind))
    return sorted(kinds, key=lambda nk: nk[0].split("."))


def flat_row(
    row: Mapping[str, Any], plan: list[tuple[str, int]], *, nested: bool = True
) -> dict[str, Any]:
    """One read-back row as sync's flat document: ``flat_document(flatten(_nested(row)))``,
    keys in the same order, without building the nested tree (the columns are its leaves)."""
    flat: dict[str, Any] = {}
    for key, kind in plan:
        value = row[key]
        if kind == 0 or value is None:
            value = _leaf(value)
            if value not in _EMPTY:
                flat[key] = value
        elif kind == 1:
            items = [_nested(v) if isinstance(v, Mapping) else _leaf(v) for v in value]
            flatten_into(items, key, flat)
        else:
            flatten_into(value, key, flat)
    return flat_document(flat) if nested else flat


def documents_of(batch: pa.RecordBatch) -> Iterator[tuple[str, dict[str, Any]]]:
    """A target read-back batch (canonical Arrow columns) as (policy id, flat document)."""
    plan = _plan(batch.schema)
    nested = any(kind for _, kind in plan)
    for row in batch.to_pylist():
        flat = flat_row(row, plan, nested=nested)
        policy_id = flat.get("policy_core.policy_id")
        if policy_id:
            yield str(policy_id), flat


def canonical_documents(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Flat documents as a write into the platform's tables stores them and a read-back returns
    them (canonical types: ``"100"`` becomes ``"100.00"``, empty values go)."""
    if not documents:
        return {}
    table = conform(records_of(documents))
    return {pid: doc for part in table.to_batches() for pid, doc in documents_of(part)}


def adopt_wave(
    engine: Engine,
    settings: Settings,
    wave_id: str,
    *,
    tenant: str,
    actor: str | None = None,
    context: WaveContext | None = None,
    batch: int = BATCH,
    on_documents: DocumentsSeen | None = None,
) -> AdoptReport:
    """Take the policies a completed wave migrated as sync's new side (and, if new, its base).

    ``on_documents`` sees each read-back batch's flat documents (policy id -> document), also
    on a re-run that records nothing: a caller that needs them reads the wave only once.

    Raises:
        NotFoundError: no such wave.
        InputError: the wave has not completed, or its target is not a new-side system.
    """
    with engine.connect() as conn:
        wave = conn.execute(
            select(WAVE).where(and_(WAVE.c.tenant == tenant, WAVE.c.wave_id == wave_id))
        ).first()
    if wave is None:
        raise NotFoundError(f"no wave '{wave_id}'", fix="list waves with: data-mash wave list")
    if wave.status != WaveState.COMPLETED:
        raise InputError(
            f"wave '{wave_id}' is {wave.status}",
            fix="sync takes a wave's policies once it has completed: run it first",
        )
    if TARGET_OWNERS.get(wave.target) not in (Owner.NEW, Owner.DUAL):
        raise InputError(
            f"wave '{wave_id}' went to {wave.target}, which the new side does not hold",
            fix="adopt waves to new_platform or coexistence_bridge",
        )
    target = wave_target(engine, settings, tenant, wave, context)
    audit = AuditLog(engine, tenant=tenant, actor=actor)
    report = AdoptReport(wave_id=wave_id, target=wave.target)
    clock, marks = unsaved_clock(engine, tenant=tenant, node="new")
    for number, part in enumerate(target.read_back(wave_id, batch_rows=batch)):
        docs = dict(documents_of(part))
        if not docs:
            continue
        if on_documents is not None:
            on_documents(docs)
        with audit.operation(
            NAMESPACE,
            "adopt",
            target=wave_id,
            payload={"target": wave.target, "run_no": wave.run_no, "batch": number},
            idempotency_key=f"sync:adopt:{tenant}:{wave_id}:{wave.run_no}:{number}",
            policy_ids=sorted(docs),
        ) as op:
            if not (op.completed and op.outcome is not None):
                with op.atomic() as conn:
                    fresh, changed = _take(conn, tenant, wave_id, docs, clock, op.entry_id)
                    marks.save(clock.last, conn)
                    op.outcome = {
                        "policies": len(docs),
                        "fresh": fresh,
                        "changed": changed,
                    }
            outcome = op.outcome or {}
        report.policies += int(outcome.get("policies", 0))
        report.fresh += int(outcome.get("fresh", 0))
        report.changed += int(outcome.get("changed", 0))
    return report


def _take(
    conn: Connection,
    tenant: str,
    wave_id: str,
    docs: dict[str, dict[str, Any]],
    clock: Any,
    entry_id: int,
) -> tuple[int, int]:
    """Write the platform documents and the sync state of one batch; (fresh, changed)."""
    ids = sorted(docs)
    states: dict[str, Any] = {}
    platform: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        states.update(
            {
                r.policy_id: r
                for r in conn.execute(
                    select(STATE.c.policy_id, STATE.c.base, STATE.c.new).where(
                        and_(STATE.c.tenant == tenant, STATE.c.policy_id.in_(chunk))
                    )
                )
            }
        )
        platform.update(
            {
                r.policy_id: int(r.version)
                for r in conn.execute(
                    select(POLICY.c.policy_id, POLICY.c.version).where(
                        and_(POLICY.c.tenant == tenant, POLICY.c.policy_id.in_(chunk))
                    )
                )
            }
        )
    now = utcnow()
    fresh_ids = [pid for pid in ids if pid not in states]
    # A new policy's document is base, both sides and the platform's: encoded once, written
    # through the driver (SQLAlchemy's JSON processing per value cost more than the insert).
    texts = {pid: json_text(docs[pid]) for pid in fresh_ids}
    bulk_insert(
        conn,
        STATE.name,
        ("tenant", "policy_id", "base", "legacy", "new", "stamps", "entry_id", "updated_at"),
        [(tenant, pid, text, text, text, "{}", entry_id, now) for pid, text in texts.items()],
    )
    changes = []
    for pid in ids:
        row = states.get(pid)
        if row is None:
            continue
        known = dict(row.new if row.new is not None else row.base)
        delta = delta_of(known, docs[pid])
        if delta:
            changes.append(
                {
                    "tenant": tenant,
                    "change_key": f"adopt:{wave_id}:{pid}:{entry_id}"[:256],
                    "origin": "new",
                    "policy_id": pid,
                    "op": "update",
                    "components": sorted({p.split(".", 1)[0].split("[", 1)[0] for p in delta}),
                    "delta": delta,
                    "hlc": str(clock.now()),
                    "source": f"wave {wave_id}"[:256],
                    "state": ChangeState.PENDING.value,
                    "entry_id": entry_id,
                    "created_at": now,
                }
            )
    insert_ignoring_duplicates(conn, changes)
    _write_platform(conn, tenant, docs, platform, now, texts)
    return len(fresh_ids), len(changes)


def _write_platform(
    conn: Connection,
    tenant: str,
    docs: dict[str, dict[str, Any]],
    versions: dict[str, int],
    now: dt.datetime,
    texts: dict[str, str],
) -> None:
    """The platform documents: new ones in bulk (``texts``: documents already encoded)."""
    bulk_insert(
        conn,
        POLICY.name,
        ("tenant", "policy_id", "document", "version", "updated_at"),
        [
            (tenant, pid, texts.get(pid) or json_text(docs[pid]), 1, now)
            for pid in docs
            if pid not in versions
        ],
    )
    for pid, version in versions.items():
        conn.execute(
            update(POLICY)
            .where(and_(POLICY.c.tenant == tenant, POLICY.c.policy_id == pid))
            .values(document=docs[pid], version=version + 1, updated_at=now)
        )


def keep_in_step(
    engine: Engine,
    settings: Settings,
    wave_id: str,
    *,
    tenant: str,
    actor: str | None = None,
    context: WaveContext | None = None,
    on_documents: DocumentsSeen | None = None,
) -> WaveAdoption:
    """After wave ``wave_id``: move its policies' owner, and let sync follow what it migrated
    (``on_documents``: see :func:`adopt_wave`).

    Both steps are idempotent per wave run, so running this again after a crash is safe.
    """
    update = OwnershipLedger(engine, tenant=tenant, actor=actor).apply_wave(wave_id)
    adopted = None
    if update.owner in (Owner.NEW, Owner.DUAL):
        adopted = adopt_wave(
            engine,
            settings,
            wave_id,
            tenant=tenant,
            actor=actor,
            context=context,
            on_documents=on_documents,
        )
    return WaveAdoption(ledger=update, adopted=adopted)


def release_rolled_back(
    engine: Engine, *, tenant: str, actor: str | None = None
) -> RollbackRelease:
    """Hand the policies of rolled-back waves back to legacy (see the module docstring).

    Only policies the ledger still gives to ``new`` or ``dual`` under a wave that is now
    compensated are released, so running it again (or after a crash: one commit) does nothing.
    """
    with engine.connect() as conn:
        waves = list(
            conn.execute(
                select(WAVE.c.wave_id).where(
                    and_(WAVE.c.tenant == tenant, WAVE.c.status == WaveState.COMPENSATED)
                )
            ).scalars()
        )
        if not waves:
            return RollbackRelease()
        owned = conn.execute(
            select(OWNERSHIP.c.policy_id, OWNERSHIP.c.wave).where(
                and_(
                    OWNERSHIP.c.tenant == tenant,
                    OWNERSHIP.c.owner.in_([Owner.NEW.value, Owner.DUAL.value]),
                    OWNERSHIP.c.wave.in_(waves),
                )
            )
        ).all()
    if not owned:
        return RollbackRelease()
    by_wave: dict[str, list[str]] = {}
    for pid, wave_id in owned:
        by_wave.setdefault(wave_id, []).append(pid)
    ids = sorted(pid for pid, _ in owned)
    report = RollbackRelease(waves=sorted(by_wave), policies=len(ids))
    audit = AuditLog(engine, tenant=tenant, actor=actor)
    with audit.operation(
        NAMESPACE,
        "release",
        target=",".join(report.waves)[:256],
        payload={"waves": report.waves, "policies": len(ids)},
        policy_ids=ids,
    ) as op:
        with op.atomic() as conn:
            now = utcnow()
            for wave_id, pids in sorted(by_wave.items()):
                reason = f"wave {wave_id} rolled back"
                set_owners(
                    conn, tenant, sorted(pids), Owner.LEGACY, now, wave_id, reason, op.entry_id
                )
            report.dropped = _forget_new_side(conn, tenant, ids, now)
            op.outcome = report.model_dump()
    return report


def _forget_new_side(conn: Connection, tenant: str, ids: list[str], now: dt.datetime) -> int:
    """The new side no longer holds ``ids``: no platform document, no known new side, nothing
    owed or in flight to it. Returns the merged values dropped."""
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        conn.execute(
            update(POLICY)
            .where(and_(POLICY.c.tenant == tenant, POLICY.c.policy_id.in_(chunk)))
            .values(document=null(), version=POLICY.c.version + 1, updated_at=now)
        )
    rows = select_in(
        conn,
        "SELECT policy_id, stamps FROM sync_policy WHERE tenant = {m} AND policy_id IN ({keys})",
        (tenant,),
        ids,
        chunk=_CHUNK,
    )
    for pid, raw in rows:
        stamps = json_value(raw) or {}
        stamps.get("sent", {}).pop("new", None)
        stamps.pop("new", None)
        conn.execute(
            update(STATE)
            .where(and_(STATE.c.tenant == tenant, STATE.c.policy_id == pid))
            .values(new=null(), stamps=stamps, updated_at=now)
        )
    dropped = 0
    for start in range(0, len(ids), _CHUNK):
        dropped += int(
            conn.execute(
                OUTBOUND.delete().where(
                    and_(
                        OUTBOUND.c.tenant == tenant,
                        OUTBOUND.c.side == "new",
                        OUTBOUND.c.delivered_at.is_(None),
                        OUTBOUND.c.policy_id.in_(ids[start : start + _CHUNK]),
                    )
                )
            ).rowcount
            or 0
        )
    return dropped
