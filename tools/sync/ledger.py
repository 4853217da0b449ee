"""The ownership ledger (selective write): per policy, which system is the system of record.

``legacy``: the legacy system owns the policy and the new platform follows; ``new``: the reverse;
``dual``: both take writes (through the outbox, never two direct writes) and conflicts are
decided field by field. Each entry says since when, by which wave and why. Entries are derived
from completed waves (the policies a wave placed in its target change owner with it) or set by
hand; every change is one audited operation whose rows commit with its outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, insert, or_, select, update

from core.errors import InputError, NotFoundError
from core.statuses import WaveState
from core.store.models import (
    PolicyLocation,
    SyncOwnershipRow,
    SyncPolicyRow,
    WaveRow,
    table_of,
    utcnow,
)
from core.targets import TargetName
from tools.audit import AuditLog
from tools.sync.contracts import LedgerEntry, LedgerPage, LedgerUpdate, Owner, RenewalUpdate
from tools.sync.policy import RenewalRule

OWNERSHIP = table_of(SyncOwnershipRow)
WAVE = table_of(WaveRow)
LOCATION = table_of(PolicyLocation)
STATE = table_of(SyncPolicyRow)
NAMESPACE = "sync"
#: The reason an on-renewal conversion records in the ledger.
RENEWAL = "renewal"
_CHUNK = 900  # stay under SQLite's bound-parameter cap

#: Who owns a policy once a wave has placed it in a target.
TARGET_OWNERS: dict[str, Owner] = {
    TargetName.NEW_PLATFORM: Owner.NEW,
    TargetName.COEXISTENCE_BRIDGE: Owner.DUAL,
    TargetName.LEGACY_BATCH: Owner.LEGACY,
}


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class OwnershipLedger:
    """The ledger of one tenant."""

    def __init__(self, engine: Engine, *, tenant: str, actor: str | None = None) -> None:
        self.engine = engine
        self.tenant = tenant
        self.audit = AuditLog(engine, tenant=tenant, actor=actor)

    # -- reading -----------------------------------------------------------------------------

    def owner_of(self, policy_id: str) -> LedgerEntry | None:
        """The policy's entry, or None when no wave or person has set its owner yet."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(OWNERSHIP).where(
                    and_(OWNERSHIP.c.tenant == self.tenant, OWNERSHIP.c.policy_id == policy_id)
                )
            ).first()
        return _entry(row) if row else None

    def counts(self) -> dict[str, int]:
        """Policies per owner."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(OWNERSHIP.c.owner, func.count())
                .where(OWNERSHIP.c.tenant == self.tenant)
                .group_by(OWNERSHIP.c.owner)
            )
            found = {r[0]: int(r[1]) for r in rows}
        return {owner.value: found.get(owner.value, 0) for owner in Owner}

    def page(
        self, *, owner: Owner | None = None, limit: int = 100, cursor: str | None = None
    ) -> LedgerPage:
        """Entries in policy id order, ``limit`` at a time after ``cursor`` (a policy id)."""
        where = [OWNERSHIP.c.tenant == self.tenant]
        if owner is not None:
            where.append(OWNERSHIP.c.owner == owner.value)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).where(*where)).scalar_one()
            if cursor:
                where.append(OWNERSHIP.c.policy_id > cursor)
            rows = conn.execute(
                select(OWNERSHIP).where(*where).order_by(OWNERSHIP.c.policy_id).limit(limit + 1)
            ).all()
        entries = [_entry(r) for r in rows[:limit]]
        more = len(rows) > limit
        return LedgerPage(
            entries=entries,
            by_owner=self.counts(),
            next_cursor=entries[-1].policy_id if more and entries else None,
            total=int(total),
        )

    # -- writing -----------------------------------------------------------------------------

    def set_owner(
        self, policy_id: str, owner: Owner, *, reason: str, wave: str | None = None
    ) -> LedgerEntry:
        """Set one policy's owner by hand (audited); setting the same owner again is a no-op."""
        if not reason.strip():
            raise InputError(
                "a reason is required", where="reason", fix="say why the owner changes"
            )
        current = self.owner_of(policy_id)
        if current is not None and current.owner is owner:
            return current
        with self.audit.operation(
            NAMESPACE,
            "ledger.set",
            target=policy_id,
            payload={
                "owner": owner.value,
                "before": current.owner.value if current else None,
                "reason": reason,
                "wave": wave,
            },
            policy_ids=[policy_id],
        ) as op:
            with op.atomic() as conn:
                set_owners(
                    conn, self.tenant, [policy_id], owner, utcnow(), wave, reason, op.entry_id
                )
                op.outcome = {"owner": owner.value}
        entry = self.owner_of(policy_id)
        assert entry is not None
        return entry

    def apply_wave(self, wave_id: str) -> LedgerUpdate:
        """Move the policies a completed wave placed in its target to that target's owner.

        Idempotent per wave run: running it again after a crash or twice changes nothing more.

        Raises:
            NotFoundError: no such wave.
            InputError: the wave has not completed, or its target has no system of record.
        """
        with self.engine.connect() as conn:
            wave = conn.execute(
                select(WAVE).where(and_(WAVE.c.tenant == self.tenant, WAVE.c.wave_id == wave_id))
            ).first()
        if wave is None:
            raise NotFoundError(f"no wave '{wave_id}'", fix="list waves with: data-mash wave list")
        if wave.status != WaveState.COMPLETED:
            raise InputError(
                f"wave '{wave_id}' is {wave.status}",
                fix="ownership changes only when a wave completes: run it first",
            )
        owner = TARGET_OWNERS.get(wave.target)
        if owner is None:
            raise InputError(
                f"wave '{wave_id}' went to {wave.target}, which is not a system of record",
                fix=f"only waves to {', '.join(TARGET_OWNERS)} change ownership",
            )
        with self.engine.connect() as conn:
            placed = list(
                conn.execute(
                    select(LOCATION.c.policy_id)
                    .where(
                        and_(
                            LOCATION.c.tenant == self.tenant,
                            LOCATION.c.wave == wave_id,
                            LOCATION.c.system == wave.target,
                        )
                    )
                    .order_by(LOCATION.c.policy_id)
                ).scalars()
            )
        since = wave.finished_at or utcnow()
        reason = f"wave {wave_id} completed to {wave.target}"
        with self.audit.operation(
            NAMESPACE,
            "ledger.from_wave",
            target=wave_id,
            payload={"owner": owner.value, "target": wave.target, "run_no": wave.run_no},
            idempotency_key=f"sync:ledger:{wave_id}:{wave.run_no}",
            policy_ids=placed,
        ) as op:
            if op.completed and op.outcome is not None:
                return LedgerUpdate(
                    wave_id=wave_id, owner=owner, entry_id=op.entry_id, **op.outcome
                )
            with op.atomic() as conn:
                changed = set_owners(
                    conn, self.tenant, placed, owner, since, wave_id, reason, op.entry_id
                )
                op.outcome = {"changed": changed, "unchanged": len(placed) - changed}
        return LedgerUpdate(wave_id=wave_id, owner=owner, entry_id=op.entry_id, **op.outcome)

    def apply_renewals(self, rule: RenewalRule, *, as_of: date, batch: int = 500) -> RenewalUpdate:
        """Move every policy whose renewal date has come (``<= as_of``) to ``rule.to``.

        The renewal date is read from what sync knows of the policy (the legacy side's value,
        else the agreed base). A policy with no ledger entry counts as ``legacy``-owned. One
        audited operation per batch, reason ``renewal``, since the renewal date itself; a
        policy already moved is not selected again, so running twice changes nothing more.
        A date that is not ISO (YYYY-MM-DD) is counted as unreadable and left alone.
        """
        renews = func.coalesce(
            STATE.c.legacy[rule.date].as_string(), STATE.c.base[rule.date].as_string()
        )
        joined = STATE.outerjoin(
            OWNERSHIP,
            and_(OWNERSHIP.c.tenant == STATE.c.tenant, OWNERSHIP.c.policy_id == STATE.c.policy_id),
        )
        owned: ColumnElement[bool] = OWNERSHIP.c.owner.in_([o.value for o in rule.owners])
        if Owner.LEGACY in rule.owners:
            owned = or_(owned, OWNERSHIP.c.owner.is_(None))
        report = RenewalUpdate(owner=rule.to, as_of=as_of)
        after = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(STATE.c.policy_id, renews.label("renews"))
                    .select_from(joined)
                    .where(
                        STATE.c.tenant == self.tenant,
                        STATE.c.policy_id > after,
                        renews.is_not(None),
                        renews <= as_of.isoformat(),
                        owned,
                    )
                    .order_by(STATE.c.policy_id)
                    .limit(batch)
                ).all()
            if not rows:
                return report
            after = rows[-1].policy_id
            due: dict[date, list[str]] = {}
            for row in rows:
                try:
                    day = date.fromisoformat(str(row.renews)[:10])
                except ValueError:
                    report.unreadable += 1
                    continue
                if day <= as_of:
                    due.setdefault(day, []).append(row.policy_id)
            moved = sorted(pid for ids in due.values() for pid in ids)
            if not moved:
                continue
            with self.audit.operation(
                NAMESPACE,
                "ledger.renewal",
                target=rule.to.value,
                payload={"owner": rule.to.value, "as_of": as_of.isoformat(), "date": rule.date},
                policy_ids=moved,
            ) as op:
                with op.atomic() as conn:
                    for day, ids in sorted(due.items()):
                        since = datetime.combine(day, time(), tzinfo=UTC)
                        set_owners(
                            conn, self.tenant, ids, rule.to, since, None, RENEWAL, op.entry_id
                        )
                    op.outcome = {"moved": len(moved)}
            report.moved += len(moved)


def set_owners(
    conn: Connection,
    tenant: str,
    policy_ids: list[str],
    owner: Owner,
    since: datetime,
    wave: str | None,
    reason: str,
    entry_id: int,
) -> int:
    """Set the owner of ``policy_ids`` in batches; returns how many changed (or were new)."""
    changed = 0
    values = {"owner": owner.value, "since": since, "wave": wave, "reason": reason[:256]}
    for chunk in _chunks(policy_ids):
        existing = dict(
            conn.execute(
                select(OWNERSHIP.c.policy_id, OWNERSHIP.c.owner).where(
                    and_(OWNERSHIP.c.tenant == tenant, OWNERSHIP.c.policy_id.in_(chunk))
                )
            ).all()
        )
        fresh = [pid for pid in chunk if pid not in existing]
        moved = [pid for pid in chunk if pid in existing and existing[pid] != owner.value]
        if fresh:
            conn.execute(
                insert(OWNERSHIP),
                [
                    {"tenant": tenant, "policy_id": pid, "entry_id": entry_id, **values}
                    for pid in fresh
                ],
            )
        if moved:
            conn.execute(
                update(OWNERSHIP)
                .where(and_(OWNERSHIP.c.tenant == tenant, OWNERSHIP.c.policy_id.in_(moved)))
                .values(entry_id=entry_id, **values)
            )
        changed += len(fresh) + len(moved)
    return changed


def _entry(row: object) -> LedgerEntry:
    return LedgerEntry(
        policy_id=row.policy_id,  # type: ignore[attr-defined]
        owner=Owner(row.owner),  # type: ignore[attr-defined]
        since=row.since,  # type: ignore[attr-defined]
        wave=row.wave,  # type: ignore[attr-defined]
        reason=row.reason,  # type: ignore[attr-defined]
        entry_id=row.entry_id,  # type: ignore[attr-defined]
    )
