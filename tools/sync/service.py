"""One sync pass, the anti-entropy sweep and the status: what ``sync run`` and ``sync status``,
the sync MCP server and the REST API share."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, func, select

from core.settings import Settings
from core.store.models import (
    PlatformOutboxRow,
    SyncChangeRow,
    SyncConflictRow,
    SyncOutboundRow,
    SyncPolicyRow,
    as_utc,
    table_of,
    utcnow,
)
from tools.audit import AuditLog
from tools.sync.apply import SyncApplier, document_hash
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

CHANGE = table_of(SyncChangeRow)
OUTBOX = table_of(PlatformOutboxRow)
OUTBOUND = table_of(SyncOutboundRow)
CONFLICT = table_of(SyncConflictRow)
STATE = table_of(SyncPolicyRow)
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

    First, when the policy has an on-renewal rule, policies whose renewal date has come by
    ``as_of`` (default: today, UTC) change owner, so this run already decides by the new owner.
    Repeats until a round finds nothing to do (at most ``MAX_ROUNDS``): the platform's
    acknowledgements of what the first round delivered are consumed by the next one.
    """
    policy = policy or load_policy(policy_path)
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


def sweep_new(engine: Engine, *, tenant: str, actor: str | None = None) -> SweepReport:
    """Anti-entropy for the new side: compare the platform's documents with what sync knows.

    A policy whose platform document hashes differently from sync's view of the platform
    (a write that bypassed the outbox, an event lost) is recorded as a change from ``new``
    carrying the difference, so the next ``sync run`` merges it like any other change.
    """
    platform = NewPlatform(engine, tenant=tenant, actor=actor)
    clock = open_clock(engine, tenant=tenant, node="sweep")
    report = SweepReport()
    audit = AuditLog(engine, tenant=tenant, actor=actor)
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()

    def flush() -> None:
        if not batch:
            return
        with audit.operation(
            NAMESPACE,
            "sweep.repair",
            target="new",
            payload={"policies": len(batch)},
            policy_ids=[c["policy_id"] for c in batch],
        ) as op:
            for change in batch:
                change["entry_id"] = op.entry_id
            op.outcome = {"recorded": len(batch)}
            with op.atomic() as conn:
                insert_ignoring_duplicates(conn, batch)
        report.repaired += len(batch)
        batch.clear()

    known = _known_new(engine, tenant)
    for policy_id, document in platform.documents():
        seen.add(policy_id)
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
        if policy_id not in seen and view:
            report.compared += 1
            report.drifted += 1
            batch.append(
                _sweep_change(tenant, policy_id, {p: None for p in view}, str(clock.now()), {})
            )
    flush()
    return report


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
