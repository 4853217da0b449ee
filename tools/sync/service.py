"""One sync pass, the anti-entropy sweep and the status: what ``sync run`` and ``sync status``,
the sync MCP server and the REST API share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, null, select, update

from core.settings import Settings
from core.store.models import (
    PlatformOutboxRow,
    PlatformPolicyRow,
    SyncChangeRow,
    SyncConflictRow,
    SyncOutboundRow,
    SyncPolicyRow,
    as_utc,
    table_of,
    utcnow,
)
from tools.audit import AuditLog
from tools.sync.adopt import canonical_documents, documents_of, release_rolled_back
from tools.sync.apply import SyncApplier, document_hash, moved
from tools.sync.capture import insert_ignoring_duplicates
from tools.sync.clock import open_clock
from tools.sync.contracts import (
    ApplyReport,
    ChangeState,
    ConflictState,
    SweepReport,
    SyncRunReport,
    SyncStatus,
)
from tools.sync.ledger import OwnershipLedger
from tools.sync.paths import delta_of
from tools.sync.platform import NewPlatform
from tools.sync.policy import ConflictPolicy, load_policy
from tools.sync.relay import Relay
from tools.waves.context import WaveContext

CHANGE = table_of(SyncChangeRow)
OUTBOX = table_of(PlatformOutboxRow)
OUTBOUND = table_of(SyncOutboundRow)
CONFLICT = table_of(SyncConflictRow)
STATE = table_of(SyncPolicyRow)
POLICY = table_of(PlatformPolicyRow)
NAMESPACE = "sync"
MAX_ROUNDS = 5


def run_sync(
    engine: Engine,
    settings: Settings,
    *,
    tenant: str,
    policy: ConflictPolicy | None = None,
    policy_path: Path | None = None,
    actor: str | None = None,
    as_of: date | None = None,
) -> SyncRunReport:
    """Forward the platform outbox, apply every pending change, deliver the merged values.

    First, the policies of waves rolled back since the last run go back to legacy (the new side
    no longer holds them) and, when the policy has an on-renewal rule, policies whose renewal
    date has come by ``as_of`` (default: today, UTC) change owner, so this run already decides
    by the right owner.
    Repeats until a round finds nothing to do (at most ``MAX_ROUNDS``): the platform's
    acknowledgements of what the first round delivered are consumed by the next one.
    """
    policy = policy or load_policy(policy_path)
    released = release_rolled_back(engine, tenant=tenant, actor=actor)
    renewed = None
    if policy.renewal is not None:
        renewed = OwnershipLedger(engine, tenant=tenant, actor=actor).apply_renewals(
            policy.renewal, as_of=as_of or utcnow().date()
        )
    relay = Relay(engine, settings, tenant=tenant, actor=actor)
    applier = SyncApplier(engine, policy, tenant=tenant, actor=actor)
    report = SyncRunReport(
        forwarded=0,
        echoes=0,
        apply=ApplyReport(),
        delivered_new=0,
        delivered_legacy=0,
        renewed=renewed,
        released=released if released.policies else None,
        status=sync_status(engine, tenant=tenant),
    )
    for _round in range(MAX_ROUNDS):
        forwarded = relay.pass_once()
        applied = applier.apply_pending()
        delivered = relay.pass_once()
        report.forwarded += forwarded.forwarded + delivered.forwarded
        report.echoes += forwarded.echoes + delivered.echoes
        report.apply.add(applied)
        report.delivered_new += forwarded.to_new + delivered.to_new
        report.delivered_legacy += forwarded.to_legacy + delivered.to_legacy
        if not (
            applied.applied
            or applied.acknowledged
            or applied.resolutions
            or delivered.to_new
            or delivered.echoes
        ):
            break
    report.status = sync_status(engine, tenant=tenant)
    return report


def sweep_new(
    engine: Engine,
    *,
    tenant: str,
    actor: str | None = None,
    settings: Settings | None = None,
    context: WaveContext | None = None,
) -> SweepReport:
    """Anti-entropy for the new side: compare what the platform holds with what sync knows.

    A policy a wave placed on the platform lives in the platform's own tables (the
    ``new_platform`` target): with ``settings`` (or a wave ``context``) to find them, the sweep
    first replays the platform writes a crash kept from them, then reads each wave's policies
    back from those tables and compares them, in the target's canonical form, with the
    document sync wrote there (``platform_policy``). A difference there (a write into the
    platform's tables that bypassed data-mash, a lost row) is what the platform now holds: sync's
    record of the platform takes it, and it is recorded as a change from ``new`` carrying the
    difference, so the next ``sync run`` merges it and carries it to legacy.

    Every other platform document (or every one, without settings) is compared with sync's
    view of the platform; a document that hashes differently (an event lost) is recorded the
    same way.
    """
    platform = NewPlatform(engine, tenant=tenant, actor=actor, settings=settings, context=context)
    clock = open_clock(engine, tenant=tenant, node="sweep")
    report = SweepReport()
    audit = AuditLog(engine, tenant=tenant, actor=actor)
    batch: list[dict[str, Any]] = []
    held: dict[str, dict[str, Any] | None] = {}  # the platform record, as the target holds it

    def flush() -> None:
        if not batch:
            return
        with audit.operation(
            NAMESPACE,
            "sweep.repair",
            target="new",
            payload={"policies": len(batch), "platform_tables": len(held)},
            policy_ids=[c["policy_id"] for c in batch],
        ) as op:
            for change in batch:
                change["entry_id"] = op.entry_id
            op.outcome = {"recorded": len(batch), "platform_records": len(held)}
            with op.atomic() as conn:
                insert_ignoring_duplicates(conn, batch)
                _take_held(conn, tenant, held)
        report.repaired += len(batch)
        batch.clear()
        held.clear()

    swept: set[str] = set()
    if settings is not None or context is not None:
        platform.replay_mirror()
        for policy_id, delta, document in drift_in_platform_tables(platform):
            report.compared += 1
            swept.add(policy_id)
            if delta is None:
                continue
            report.drifted += 1
            held[policy_id] = document
            batch.append(_sweep_change(tenant, policy_id, delta, str(clock.now()), document or {}))
            if len(batch) >= 500:
                flush()
        flush()

    known = _known_new(engine, tenant)
    seen: set[str] = set()
    for policy_id, document in platform.documents():
        seen.add(policy_id)
        if policy_id in swept:
            continue
        report.compared += 1
        view = known.get(policy_id)
        if view is not None and document_hash(view) == document_hash(document):
            continue
        report.drifted += 1
        delta = delta_of(view or {}, document)
        batch.append(_sweep_change(tenant, policy_id, delta, str(clock.now()), document))
        if len(batch) >= 500:
            flush()
    for policy_id, view in known.items():
        if policy_id not in seen and policy_id not in swept and view:
            report.compared += 1
            report.drifted += 1
            batch.append(
                _sweep_change(tenant, policy_id, {p: None for p in view}, str(clock.now()), {})
            )
    flush()
    return report


def drift_in_platform_tables(
    platform: NewPlatform, *, batch: int = 500
) -> Iterator[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    """Every policy a wave placed in the platform's tables that sync follows, compared with what
    sync wrote there.

    Yields (policy id, difference or None when there is none, the platform's record of the
    policy with the difference taken: None once the tables no longer hold it). Both sides are
    compared in the target's canonical form (what a write of sync's document would store), so
    a value written as ``"100"`` and read back as ``100.00`` is no drift.
    """
    for wave_id in platform.tables.waves():
        target = platform.tables.target(wave_id)
        placed = platform.tables.placed(wave_id)
        found: set[str] = set()
        for part in target.read_back(wave_id, batch_rows=batch):
            actual = dict(documents_of(part))
            found.update(actual)
            yield from _compare(platform, actual, list(actual))
        gone = sorted(placed - found)
        for start in range(0, len(gone), batch):
            yield from _compare(platform, {}, gone[start : start + batch])


def _compare(
    platform: NewPlatform, actual: dict[str, dict[str, Any]], ids: list[str]
) -> Iterator[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    recorded = platform.records(ids)
    expected = canonical_documents({pid: doc for pid, doc in recorded.items() if doc})
    for pid in ids:
        if pid not in recorded:
            continue  # sync does not follow it: its wave was not adopted (``sync adopt``)
        now, was = actual.get(pid), expected.get(pid)
        if (now is None and was is None) or (
            now is not None and was is not None and document_hash(now) == document_hash(was)
        ):
            yield pid, None, None
            continue
        delta = delta_of(was or {}, now or {})
        record = moved(recorded.get(pid) or {}, delta)
        yield pid, delta, (record or None) if now is not None else None


def _take_held(conn: Connection, tenant: str, held: dict[str, dict[str, Any] | None]) -> None:
    """Sync's record of the platform takes what the platform's tables hold (no outbox event:
    the sweep's change carries it; no write into the tables: they hold it already)."""
    now = utcnow()
    for pid, document in sorted(held.items()):
        conn.execute(
            update(POLICY)
            .where(and_(POLICY.c.tenant == tenant, POLICY.c.policy_id == pid))
            .values(
                document=document if document is not None else null(),
                version=POLICY.c.version + 1,
                updated_at=now,
            )
        )


def _known_new(engine: Engine, tenant: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(
            select(STATE.c.policy_id, STATE.c.new).where(STATE.c.tenant == tenant)
        ):
            if row.new is not None:
                out[row.policy_id] = dict(row.new)
    return out


def _sweep_change(
    tenant: str, policy_id: str, delta: dict[str, Any], hlc: str, document: dict[str, Any]
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "change_key": f"sweep:new:{policy_id}:{document_hash(document)[:16]}:{hlc}"[:256],
        "origin": "new",
        "policy_id": policy_id,
        "op": "update" if document else "delete",
        "components": sorted({p.split(".", 1)[0].split("[", 1)[0] for p in delta}),
        "delta": delta,
        "hlc": hlc,
        "source": "sweep",
        "state": ChangeState.PENDING.value,
        "created_at": utcnow(),
    }


def sync_status(engine: Engine, *, tenant: str) -> SyncStatus:
    """Backlog, lag (age of the oldest change not yet applied), conflicts by type, owners."""
    with engine.connect() as conn:
        pending = conn.execute(
            select(func.count(), func.min(CHANGE.c.created_at)).where(
                and_(CHANGE.c.tenant == tenant, CHANGE.c.state == ChangeState.PENDING.value)
            )
        ).one()
        outbox = conn.execute(
            select(func.count(), func.min(OUTBOX.c.created_at)).where(
                and_(OUTBOX.c.tenant == tenant, OUTBOX.c.delivered_at.is_(None))
            )
        ).one()
        outbound = conn.execute(
            select(func.count(), func.min(OUTBOUND.c.created_at)).where(
                and_(OUTBOUND.c.tenant == tenant, OUTBOUND.c.delivered_at.is_(None))
            )
        ).one()
        by_kind = conn.execute(
            select(CONFLICT.c.kind, CONFLICT.c.state, func.count())
            .where(CONFLICT.c.tenant == tenant)
            .group_by(CONFLICT.c.kind, CONFLICT.c.state)
        ).all()
        oldest_conflict = conn.execute(
            select(func.min(CONFLICT.c.created_at)).where(
                and_(CONFLICT.c.tenant == tenant, CONFLICT.c.state == ConflictState.OPEN.value)
            )
        ).scalar_one()
    kinds: dict[str, dict[str, int]] = {}
    for kind, state, n in by_kind:
        kinds.setdefault(kind or "update_update", {"open": 0, "resolved": 0})[state] = int(n)
    stamps = [as_utc(s) for s in (pending[1], outbox[1], outbound[1]) if s is not None]
    oldest: datetime | None = min(stamps) if stamps else None  # type: ignore[type-var]
    open_count = sum(k["open"] for k in kinds.values())
    return SyncStatus(
        lag=(utcnow() - oldest).total_seconds() if oldest else None,
        backlog=int(pending[0]) + int(outbox[0]) + int(outbound[0]),
        pending_changes=int(pending[0]),
        pending_outbox=int(outbox[0]),
        pending_outbound=int(outbound[0]),
        oldest_pending=oldest,
        conflicts=open_count,
        resolved=sum(k["resolved"] for k in kinds.values()),
        conflicts_by_type=kinds,
        oldest_conflict=as_utc(oldest_conflict),
        ledger=OwnershipLedger(engine, tenant=tenant).counts(),
    )
