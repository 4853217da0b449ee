"""The conflict queue: two-sided changes the conflict policy leaves to a person.

A queued conflict keeps both values, the base, where each value came from and, once resolved,
what was taken and who decided. Queueing the same conflict again (a repeated delivery) adds
nothing; resolving one is one audited operation whose outcome commits with the new state, and
resolving an unknown or already resolved conflict writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from core.errors import InputError, NotFoundError
from core.store.models import SyncConflictRow, as_utc, table_of, utcnow
from tools.audit import AuditLog
from tools.sync.contracts import (
    ConflictPage,
    ConflictRecord,
    ConflictState,
    FieldDecision,
    SyncStatus,
)
from tools.sync.ledger import NAMESPACE
from tools.sync.service import sync_status

CONFLICT = table_of(SyncConflictRow)


class Take(StrEnum):
    """What a person takes when resolving a conflict."""

    LEGACY = "legacy"
    NEW = "new"
    VALUE = "value"


def _fingerprint(policy_id: str, decision: FieldDecision) -> str:
    raw = json.dumps(
        [policy_id, decision.path, decision.base, decision.legacy, decision.new],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class ConflictQueue:
    """The conflict queue of one tenant."""

    def __init__(self, engine: Engine, *, tenant: str, actor: str | None = None) -> None:
        self.engine = engine
        self.tenant = tenant
        self.audit = AuditLog(engine, tenant=tenant, actor=actor)

    def enqueue(
        self,
        policy_id: str,
        decisions: Sequence[FieldDecision],
        *,
        legacy_source: str | None = None,
        new_source: str | None = None,
    ) -> list[int]:
        """Queue a policy's undecided conflicts; returns their ids (existing ones on a repeat)."""
        ids: list[int] = []
        for decision in decisions:
            key = f"sync:conflict:{self.tenant}:{_fingerprint(policy_id, decision)}"
            with self.audit.operation(
                NAMESPACE,
                "conflict.queue",
                target=policy_id,
                payload={"path": decision.path, "group": decision.group, "reason": decision.reason},
                idempotency_key=key,
                policy_ids=[policy_id],
            ) as op:
                if op.completed and op.outcome is not None:
                    ids.append(int(op.outcome["conflict_id"]))
                    continue
                with op.atomic() as conn:
                    conflict_id = conn.execute(
                        insert(CONFLICT)
                        .values(
                            tenant=self.tenant,
                            policy_id=policy_id,
                            path=decision.path[:256],
                            group_name=decision.group[:64],
                            state=ConflictState.OPEN.value,
                            values={
                                "base": decision.base,
                                "legacy": decision.legacy,
                                "new": decision.new,
                            },
                            legacy_source=legacy_source,
                            new_source=new_source,
                            entry_id=op.entry_id,
                            created_at=utcnow(),
                        )
                        .returning(CONFLICT.c.id)
                    ).scalar_one()
                    op.outcome = {"conflict_id": conflict_id}
                ids.append(int(conflict_id))
        return ids

    def get(self, conflict_id: int) -> ConflictRecord:
        """One conflict. Raises NotFoundError for an id this tenant does not have."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(CONFLICT).where(
                    and_(CONFLICT.c.tenant == self.tenant, CONFLICT.c.id == conflict_id)
                )
            ).first()
        if row is None:
            raise NotFoundError(
                f"no conflict {conflict_id}", fix="list them with: data-mash sync conflicts"
            )
        return _record(row)

    def page(
        self,
        *,
        state: ConflictState | None = ConflictState.OPEN,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ConflictPage:
        """Conflicts oldest first, ``limit`` at a time after ``cursor`` (a conflict id)."""
        where = [CONFLICT.c.tenant == self.tenant]
        if state is not None:
            where.append(CONFLICT.c.state == state.value)
        try:
            after = int(cursor) if cursor else 0
        except ValueError:
            raise InputError(
                f"cursor '{cursor}' is not a conflict id", fix="pass next_cursor"
            ) from None
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).where(*where)).scalar_one()
            rows = conn.execute(
                select(CONFLICT)
                .where(*where, CONFLICT.c.id > after)
                .order_by(CONFLICT.c.id)
                .limit(limit + 1)
            ).all()
        shown = [_record(r) for r in rows[:limit]]
        more = len(rows) > limit
        return ConflictPage(
            conflicts=shown,
            next_cursor=str(shown[-1].id) if more and shown else None,
            total=int(total),
        )

    def resolve(self, conflict_id: int, take: Take, value: Any = None) -> ConflictRecord:
        """Decide a queued conflict: take the legacy value, the new value, or a given value.

        Raises:
            NotFoundError: no such conflict.
            InputError: it is already resolved, or ``take=value`` without a value.
        """
        current = self.get(conflict_id)
        if current.state is ConflictState.RESOLVED:
            raise InputError(
                f"conflict {conflict_id} is already resolved "
                f"(took {current.resolution}, by {current.decided_by})",
                fix="nothing to do; list open ones with: data-mash sync conflicts",
            )
        if take is Take.VALUE and value is None:
            raise InputError("--take value needs a value", fix="pass --value VALUE (JSON or text)")
        chosen = {Take.LEGACY: current.legacy, Take.NEW: current.new}.get(take, value)
        with self.audit.operation(
            NAMESPACE,
            "conflict.resolve",
            target=current.policy_id,
            payload={
                "conflict_id": conflict_id,
                "path": current.path,
                "take": take.value,
                "before": {"base": current.base, "legacy": current.legacy, "new": current.new},
                "after": chosen,
            },
            idempotency_key=f"sync:resolve:{self.tenant}:{conflict_id}",
            policy_ids=[current.policy_id],
        ) as op:
            if not op.completed:
                with op.atomic() as conn:
                    done = conn.execute(
                        update(CONFLICT)
                        .where(
                            and_(
                                CONFLICT.c.tenant == self.tenant,
                                CONFLICT.c.id == conflict_id,
                                CONFLICT.c.state == ConflictState.OPEN.value,
                            )
                        )
                        .values(
                            state=ConflictState.RESOLVED.value,
                            resolution=take.value,
                            resolved_value={"value": chosen},
                            decided_by=self.audit.actor[:128],
                            resolved_at=utcnow(),
                        )
                    )
                    if done.rowcount != 1:  # another process resolved it first: roll back
                        raise InputError(
                            f"conflict {conflict_id} was resolved meanwhile", fix="list it again"
                        )
                    op.outcome = {"take": take.value, "value": chosen}
        return self.get(conflict_id)

    def status(self) -> SyncStatus:
        """Lag, backlog, conflicts by type, owners, for ``sync status``."""

        return sync_status(self.engine, tenant=self.tenant)


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value)


def _record(row: Any) -> ConflictRecord:
    values = row._mapping["values"] or {}
    return ConflictRecord(
        id=row.id,
        policy_id=row.policy_id,
        path=row.path,
        group=row.group_name,
        state=ConflictState(row.state),
        base=values.get("base"),
        legacy=values.get("legacy"),
        new=values.get("new"),
        legacy_source=row.legacy_source,
        new_source=row.new_source,
        resolution=row.resolution,
        resolved_value=(row.resolved_value or {}).get("value"),
        decided_by=row.decided_by,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )
