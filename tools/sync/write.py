"""Selective write: a write through data-mash goes to the policy's system of record.

The ownership ledger decides where ``write_policy`` sends a document:

- ``new``: the new platform takes it (document and outbox event in one commit,
  :class:`tools.sync.platform.NewPlatform`); the relay forwards the event and ``sync run``
  carries it back to the legacy side as a correction.
- ``legacy``: the legacy side takes it through its adapter: a compare-and-set correction in
  ``sync_outbound`` that the relay drops as a file for the legacy batch loader. Sync's view of
  the legacy side does not move; the policy reaches the new platform as a sync once the legacy
  system's next extract shows it (``sync capture``), like any change made in legacy. A loader
  that refuses the correction (the policy changed meanwhile) leaves nothing half-applied.
- ``dual``: both sides owe it through the outbox (:meth:`SyncApplier.carry_write`), one commit,
  neither written directly.

A policy with no ledger entry is owned by ``legacy``: no wave or person has moved it yet. Each
route is one audited operation; the relay and ``sync run`` do the delivering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, and_, insert, select

from core.settings import Settings
from core.store.models import SyncOutboundRow, SyncPolicyRow, table_of, utcnow
from tools.audit import AuditLog
from tools.sync.apply import SyncApplier
from tools.sync.clock import unsaved_clock
from tools.sync.contracts import Owner, PolicyWrite
from tools.sync.ledger import OwnershipLedger
from tools.sync.paths import delta_of
from tools.sync.platform import NewPlatform, document_for
from tools.sync.policy import ConflictPolicy, load_policy

OUTBOUND = table_of(SyncOutboundRow)
STATE = table_of(SyncPolicyRow)
NAMESPACE = "sync"
#: Who owns a policy no wave or person has moved: the legacy system it lives in.
DEFAULT_OWNER = Owner.LEGACY


class SelectiveWriter:
    """Routes one tenant's policy writes by the ownership ledger."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        tenant: str,
        actor: str | None = None,
        policy: ConflictPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tenant = tenant
        self.actor = actor
        self.audit = AuditLog(engine, tenant=tenant, actor=actor)
        self.ledger = OwnershipLedger(engine, tenant=tenant, actor=actor)
        self._policy = policy

    def write_policy(
        self, policy_id: str, document: Mapping[str, Any] | BaseModel | None
    ) -> PolicyWrite:
        """Write (``None``: delete) a policy where its owner says; audited.

        Raises:
            InputError: a bad policy id, or a document whose policy id differs.
        """
        flat = document_for(policy_id, document)
        entry = self.ledger.owner_of(policy_id)
        owner = entry.owner if entry is not None else DEFAULT_OWNER
        if owner is Owner.NEW:
            platform = NewPlatform(
                self.engine, tenant=self.tenant, actor=self.actor, settings=self.settings
            )
            written = platform.write_policy(policy_id, flat, reason="owner: new")
            return PolicyWrite(
                policy_id=policy_id,
                owner=owner,
                changed=written.changed,
                platform=written,
                to_new=written.op != "none",
            )
        if owner is Owner.DUAL:
            changed = sorted(delta_of(self._view(policy_id, "new"), flat or {}))
            applier = SyncApplier(
                self.engine,
                self._policy or load_policy(),
                tenant=self.tenant,
                actor=self.actor,
            )
            report = applier.carry_write(policy_id, flat or {}, reason="write_policy (owner: dual)")
            return PolicyWrite(
                policy_id=policy_id,
                owner=owner,
                changed=changed,
                to_new=bool(report.to_new),
                to_legacy=bool(report.to_legacy),
            )
        return self._to_legacy(policy_id, flat or {})

    def _view(self, policy_id: str, side: str) -> dict[str, Any]:
        """Sync's last knowledge of one side of a policy (its base when the side is silent)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(STATE.c.base, STATE.c[side]).where(
                    and_(STATE.c.tenant == self.tenant, STATE.c.policy_id == policy_id)
                )
            ).first()
        if row is None:
            return {}
        known = row[1] if row[1] is not None else row[0]
        return dict(known or {})

    def _to_legacy(self, policy_id: str, flat: dict[str, Any]) -> PolicyWrite:
        held = self._view(policy_id, "legacy")
        sets = delta_of(held, flat)
        result = PolicyWrite(policy_id=policy_id, owner=Owner.LEGACY, changed=sorted(sets))
        if not sets:
            return result
        clock, marks = unsaved_clock(self.engine, tenant=self.tenant, node="write")
        with self.audit.operation(
            NAMESPACE,
            "write.legacy",
            target=policy_id,
            payload={"paths": sorted(sets)[:200], "reason": "owner: legacy"},
            policy_ids=[policy_id],
        ) as op:
            with op.atomic() as conn:
                conn.execute(
                    insert(OUTBOUND).values(
                        tenant=self.tenant,
                        side="legacy",
                        policy_id=policy_id,
                        document={"set": sets, "expect": {p: held.get(p) for p in sets}},
                        hlc=str(clock.now()),
                        entry_id=op.entry_id,
                        created_at=utcnow(),
                    )
                )
                marks.save(clock.last, conn)
                result.to_legacy = True
                op.outcome = result.model_dump(mode="json")
        return result
