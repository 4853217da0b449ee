"""Applying captured changes: three-way, field-level, per policy, in one audited commit per batch.

For every pending change (from a legacy extract or the platform outbox), in the order they
were recorded, the policy's sync state is read: the base (the version both sides last agreed
on) and each side as data-mash last knew it. The change's delta moves its side on; the
three-way merge (:mod:`tools.sync.merge`) compares both sides with the base field by field:

- a field changed on one side only is taken, whatever the clocks say (no record-level
  last-writer-wins that would revert the other side's untouched fields);
- a field changed on both sides is decided by the conflict policy (owner wins by the ownership
  ledger, newest wins by hybrid logical clock, a status state machine) or queued for a person
  with both values; every two-sided field becomes a ``sync_conflict`` row, decided or open.

Each side that does not hold the merged result yet gets it in ``sync_outbound`` (ping-back of
the winner), which the relay delivers; a queued field keeps each side's own value until someone
decides. The batch's changes are marked applied, the policies' state, the conflicts and the
outbound values are written, and the audit outcome (every decision with base, both values and
the winner) is committed, all in one transaction: a crash applies the whole batch or none of
it, and nothing is applied twice.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, and_, select, update

from core.store.bulk import (
    bulk_insert,
    bulk_update,
    json_text,
    json_value,
    marker,
    select_in,
)
from core.store.models import (
    SyncChangeRow,
    SyncConflictRow,
    SyncOutboundRow,
    SyncOwnershipRow,
    SyncPolicyRow,
    table_of,
    utcnow,
)
from tools.audit import AuditLog
from tools.sync.clock import unsaved_clock
from tools.sync.contracts import (
    ApplyReport,
    ChangeState,
    ConflictState,
    FieldDecision,
    HlcStamp,
    Owner,
    Side,
)
from tools.sync.merge import merge_flat
from tools.sync.policy import ConflictPolicy
from tools.sync.relay import parse_stamp

CHANGE = table_of(SyncChangeRow)
STATE = table_of(SyncPolicyRow)
OUTBOUND = table_of(SyncOutboundRow)
CONFLICT = table_of(SyncConflictRow)
OWNERSHIP = table_of(SyncOwnershipRow)
NAMESPACE = "sync"
BATCH = 500
_CHUNK = 900


def _under(path: str, prefix: str) -> bool:
    return path == prefix or (
        path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in (".", "[")
    )


def moved(known: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """A side's document with a change's delta applied (None removes a path)."""
    out = dict(known)
    for path, value in delta.items():
        if value is None:
            out.pop(path, None)
        else:
            out[path] = value
    return out


def side_view(
    merged: Mapping[str, Any], own: Mapping[str, Any], held: Iterable[str]
) -> dict[str, Any]:
    """What a side should hold: the merged values, but its own values on fields still queued."""
    out = dict(merged)
    for path in held:
        for key in [k for k in out if _under(k, path)]:
            del out[key]
        out.update({k: v for k, v in own.items() if _under(k, path)})
    return out


def conflict_kind(decision: FieldDecision, op: str, base: Mapping[str, Any]) -> str:
    """PostgreSQL-style conflict type of a two-sided field."""
    if decision.legacy is None or decision.new is None:
        return "delete_update"
    if op == "insert" and not base:
        return "insert_insert"
    return "update_update"


class _Change(NamedTuple):
    """A pending change as the applier reads it (``sync_change`` columns, JSON parsed)."""

    id: int
    policy_id: str
    origin: str
    op: str
    components: list[str]
    delta: dict[str, Any]
    hlc: str
    source: str | None


class _State:
    """One policy's sync state while a batch is applied.

    ``base``: per path, the value both sides last held at once (it advances only where they
    agree). ``sides``: each side as it last reported itself (captured extract, platform
    events), None until it reports. The bookkeeping column holds, per side, the HLC stamp of
    the last change of each path (``legacy``, ``new``), the values sent and not yet seen back
    (``sent``), decisions of people still to be carried (``pins``) and the conflicts already
    recorded (``decided``), so a conflict still in flight is not recorded twice.
    """

    def __init__(self, row: Any | None) -> None:
        # ``row``: the policy's sync_policy columns, freshly parsed (this state owns them).
        self.exists = row is not None
        self.base: dict[str, Any] = row.base if row is not None else {}
        self.sides: dict[str, dict[str, Any] | None] = {
            "legacy": row.legacy if row is not None else None,
            "new": row.new if row is not None else None,
        }
        book = row.stamps if row is not None and row.stamps else {}
        self.stamps: dict[str, dict[str, str]] = {
            "legacy": book.get("legacy", {}),
            "new": book.get("new", {}),
        }
        sent = book.get("sent", {})
        self.sent: dict[str, dict[str, Any]] = {
            "legacy": sent.get("legacy", {}),
            "new": sent.get("new", {}),
        }
        self.pins: dict[str, dict[str, Any]] = book.get("pins", {})
        self.decided: set[str] = set(book.get("decided", ()))

    def side(self, name: str) -> dict[str, Any]:
        known = self.sides[name]
        return dict(self.base) if known is None else known

    def book(self) -> dict[str, Any]:
        return {
            **self.stamps,
            "sent": self.sent,
            "pins": self.pins,
            "decided": sorted(self.decided),
        }

    def agree(self) -> None:
        """Advance the base wherever both sides now hold the same value."""
        left, right = self.side("legacy"), self.side("new")
        base, pins = self.base, self.pins
        for path in set(left).union(right, base):
            value = left.get(path)
            if value == right.get(path):
                if value is None:
                    base.pop(path, None)
                else:
                    base[path] = value
                if pins:
                    pin = pins.get(path)
                    if pin is not None and pin["value"] == value:
                        del pins[path]
        if self.decided:
            live = set(base).union(left, right)
            self.decided = {d for d in self.decided if d.split("\x1f", 1)[0] in live}


class _Stamps(Mapping[str, HlcStamp]):
    """A side's per-path stamps, parsed only for the paths a newest-wins decision reads."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = raw

    def __getitem__(self, path: str) -> HlcStamp:
        return parse_stamp(self.raw[path])

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


class _Tally:
    """:class:`ApplyReport`'s counters while a batch is merged: plain attributes, since every
    increment of a pydantic model's field goes through its validating ``__setattr__``."""

    __slots__ = ("from_legacy", "from_new", "resolved", "queued", "to_new", "to_legacy")

    def __init__(self) -> None:
        self.from_legacy = self.from_new = self.resolved = self.queued = 0
        self.to_new = self.to_legacy = 0

    def add_outbound(self, side: str) -> None:
        if side == "new":
            self.to_new += 1
        else:
            self.to_legacy += 1

    def into(self, report: ApplyReport) -> ApplyReport:
        for name in self.__slots__:
            setattr(report, name, getattr(report, name) + getattr(self, name))
        return report


def _fingerprint(decision: FieldDecision) -> str:
    raw = json.dumps([decision.base, decision.legacy, decision.new], sort_keys=True, default=str)
    return f"{decision.path}\x1f{hashlib.sha256(raw.encode()).hexdigest()[:16]}"


class SyncApplier:
    """Applies one tenant's pending changes under a conflict policy."""

    def __init__(
        self,
        engine: Engine,
        policy: ConflictPolicy,
        *,
        tenant: str,
        actor: str | None = None,
        batch: int = BATCH,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.tenant = tenant
        self.batch = batch
        self.audit = AuditLog(engine, tenant=tenant, actor=actor or "sync")
        self.clock, self._marks = unsaved_clock(engine, tenant=tenant, node="sync")

    def apply_pending(self) -> ApplyReport:
        """Apply every pending change, a batch per commit, then carry out resolved conflicts."""
        total = ApplyReport()
        while True:
            with self.engine.connect() as conn:
                rows = self._pending(conn)
            if not rows:
                break
            total.add(self._apply_batch(rows))
        total.add(self.apply_resolutions())
        return total

    def _pending(self, conn: Connection) -> list[_Change]:
        """The next batch of pending changes in the order they were recorded.

        Through the driver: SQLAlchemy's per-row result processing cost as much as the merge.
        """
        mark = marker(conn)
        found = conn.exec_driver_sql(
            "SELECT id, policy_id, origin, op, CASE WHEN op = 'receipt' THEN components END, "
            "delta, hlc, source FROM sync_change "
            f"WHERE tenant = {mark} AND state = {mark} ORDER BY id LIMIT {mark}",
            (self.tenant, ChangeState.PENDING.value, self.batch),
        ).all()
        # Only a receipt reads its components: the others' are neither fetched nor parsed.
        return [
            _Change(
                i,
                pid,
                origin,
                op,
                json_value(comps) if op == "receipt" else [],
                json_value(delta),
                hlc,
                source,
            )
            for i, pid, origin, op, comps, delta, hlc, source in found
        ]

    # -- one batch ---------------------------------------------------------------------------

    def _apply_batch(self, rows: Sequence[Any]) -> ApplyReport:
        ids = sorted({r.policy_id for r in rows})
        with self.audit.operation(
            NAMESPACE,
            "apply",
            target="sync_change",
            payload={"changes": [rows[0].id, rows[-1].id], "count": len(rows)},
            idempotency_key=f"sync:apply:{self.tenant}:{rows[0].id}-{rows[-1].id}:{len(rows)}",
            policy_ids=ids,
        ) as op:
            if op.completed:
                return ApplyReport()
            # The merge makes many short-lived dicts and no reference cycles: the cyclic
            # collector's full passes over the process heap cost a quarter of the batch time.
            collecting = gc.isenabled()
            gc.disable()
            try:
                with op.atomic() as conn:
                    report, decisions = self._merge_batch(conn, rows, ids, op.entry_id)
                    op.outcome = report.model_dump() | {"decisions": decisions[:200]}
            finally:
                if collecting:
                    gc.enable()
        report.count_metrics()
        return report

    def _merge_batch(
        self, conn: Connection, rows: Sequence[Any], ids: list[str], entry_id: int
    ) -> tuple[ApplyReport, list[dict[str, Any]]]:
        # Claim: a second applier racing on the same rows finds them applied and rolls back.
        if self._claim(conn, [r.id for r in rows]) != len(rows):
            raise RuntimeError("another sync run applied these changes meanwhile; run it again")
        states = self._load_states(conn, ids)
        owners = self._owners(conn, ids)
        report = ApplyReport()
        tally = _Tally()
        decisions: list[dict[str, Any]] = []
        conflicts: list[tuple[str, FieldDecision, str, Any]] = []
        outbound: list[dict[str, Any]] = []
        last: dict[str, Any] = {}
        acknowledged = 0
        # Stamps are fixed-width text ("%013d.%05d@node"), so text order is clock order: the
        # clock receives the batch's newest stamp once instead of every stamp.
        self.clock.receive(parse_stamp(max(row.hlc for row in rows)))
        for row in rows:
            state = states.get(row.policy_id)
            if state is None:
                state = states[row.policy_id] = _State(None)
            side = row.origin
            sent = state.sent[side]
            if row.op == "receipt":
                # the side loaded these values before its latest report: both held them then
                for path in row.components:
                    if path in sent:
                        value = sent.pop(path)
                        if value is None:
                            state.base.pop(path, None)
                        else:
                            state.base[path] = value
            for path, value in row.delta.items():
                if path in sent and sent[path] == value:
                    # the side now holds what sync sent it: both sides have agreed on it
                    if value is None:
                        state.base.pop(path, None)
                    else:
                        state.base[path] = value
                elif row.op != "ack":
                    state.stamps[side][path] = row.hlc  # a change the side made itself
                sent.pop(path, None)
            state.sides[side] = moved(state.side(side), row.delta)
            if row.op in ("ack", "receipt"):
                acknowledged += 1
            last[row.policy_id] = row
        report.acknowledged, report.applied = acknowledged, len(rows) - acknowledged
        # One merge per policy and batch, after all of its changes in the batch: changes of
        # both sides that arrived together were made without seeing each other.
        for pid, row in last.items():
            owner = owners.get(pid, Owner.LEGACY)
            self._settle(states[pid], row, owner, tally, decisions, conflicts, outbound, entry_id)
        tally.into(report)
        touched = set(last)
        self._save_states(conn, {pid: states[pid] for pid in touched}, entry_id)
        self._save_conflicts(conn, conflicts, entry_id)
        self._marks.save(self.clock.last, conn)
        self._save_outbound(conn, outbound)
        return report, decisions

    def _settle(
        self,
        state: _State,
        row: Any,
        owner: Owner,
        report: ApplyReport | _Tally,
        decisions: list[dict[str, Any]],
        conflicts: list[tuple[str, FieldDecision, str, Any]],
        outbound: list[dict[str, Any]],
        entry_id: int,
    ) -> None:
        """Merge the policy's two sides against its base; owe each side what it lacks."""
        left, right = state.side("legacy"), state.side("new")
        result = merge_flat(
            state.base,
            left,
            right,
            self.policy,
            owner=owner,
            legacy_stamps=_Stamps(state.stamps["legacy"]),
            new_stamps=_Stamps(state.stamps["new"]),
            ping_back=False,  # _owe compares each side with what it should hold
        )
        merged = result.merged  # this merge's own dict, free of MISSING
        pinned = set()
        for path, pin in list(state.pins.items()):
            if left.get(path) in (pin["legacy"], pin["value"]) and right.get(path) in (
                pin["new"],
                pin["value"],
            ):
                pinned.add(path)  # a person decided this field: carry that decision
                for key in [k for k in merged if _under(k, path)]:
                    del merged[key]
                if pin["value"] is not None:
                    merged[path] = pin["value"]
            else:
                del state.pins[path]  # a side changed it again: merge it afresh
        for decision in (*result.resolved, *result.queued):
            if decision.path in pinned:
                continue
            print_ = _fingerprint(decision)
            if print_ in state.decided:
                continue  # recorded when it first appeared; still in flight
            state.decided.add(print_)
            kind = conflict_kind(decision, row.op, state.base)
            conflicts.append((row.policy_id, decision, kind, row))
            decisions.append(
                {
                    "policy_id": row.policy_id,
                    "path": decision.path,
                    "kind": kind,
                    "strategy": decision.strategy.value,
                    "base": decision.base,
                    "legacy": decision.legacy,
                    "new": decision.new,
                    "winner": decision.winner.value if decision.winner else None,
                    "after": decision.value,
                    "reason": decision.reason,
                }
            )
            if decision.winner is None:
                report.queued += 1
            else:
                report.resolved += 1
        if result.from_legacy:
            report.from_legacy += len(result.from_legacy)
        if result.from_new:
            report.from_new += len(result.from_new)
        held = [d.path for d in result.queued if d.path not in pinned]
        for name, doc in (("legacy", left), ("new", right)):
            if name == "new" and state.sides["new"] is None and owner is Owner.LEGACY:
                # The platform never held this legacy policy (no wave placed it, or its wave
                # was rolled back): sync does not create it there; a wave or the owner does.
                continue
            wanted = side_view(merged, doc, held) if held else merged
            if self._owe(outbound, name, row.policy_id, doc, wanted, entry_id, state.sent[name]):
                report.add_outbound(name)
        state.agree()

    # -- reading and writing state -----------------------------------------------------------

    def _load_states(self, conn: Connection, ids: list[str]) -> dict[str, _State]:
        found: dict[str, _State] = {}
        lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
        rows = select_in(
            conn,
            'SELECT policy_id, base, legacy, "new", stamps FROM sync_policy '
            "WHERE tenant = {m} AND policy_id IN ({keys})" + lock,
            (self.tenant,),
            ids,
            chunk=_CHUNK,
        )
        for pid, base, legacy, new, stamps in rows:
            found[pid] = _State(
                SimpleNamespace(
                    base=json_value(base),
                    legacy=json_value(legacy),
                    new=json_value(new),
                    stamps=json_value(stamps),
                )
            )
        return found

    def _owners(self, conn: Connection, ids: list[str]) -> dict[str, Owner]:
        owners = {o.value: o for o in Owner}
        rows = select_in(
            conn,
            "SELECT policy_id, owner FROM sync_ownership "
            "WHERE tenant = {m} AND policy_id IN ({keys})",
            (self.tenant,),
            ids,
            chunk=_CHUNK,
        )
        return {pid: owners[owner] for pid, owner in rows}

    def _claim(self, conn: Connection, change_ids: list[int]) -> int:
        """Mark pending changes applied; returns how many were still pending."""
        mark = marker(conn)
        now = _stamp_param(conn, utcnow())
        claimed = 0
        for start in range(0, len(change_ids), _CHUNK):
            chunk = change_ids[start : start + _CHUNK]
            claimed += conn.exec_driver_sql(
                f"UPDATE sync_change SET state = {mark}, applied_at = {mark} "
                f"WHERE state = {mark} AND id IN ({', '.join([mark] * len(chunk))})",
                (ChangeState.APPLIED.value, now, ChangeState.PENDING.value, *chunk),
            ).rowcount
        return claimed

    def _save_states(self, conn: Connection, states: dict[str, _State], entry_id: int) -> None:
        now = _stamp_param(conn, utcnow())  # bound as text once, not converted row by row
        fresh = [(pid, s) for pid, s in states.items() if not s.exists]
        known = [(pid, s) for pid, s in states.items() if s.exists]
        bulk_insert(
            conn,
            "sync_policy",
            ("tenant", "policy_id", "base", "legacy", "new", "stamps", "entry_id", "updated_at"),
            [
                (
                    self.tenant,
                    pid,
                    json_text(s.base),
                    json_text(s.sides["legacy"]),
                    json_text(s.sides["new"]),
                    json_text(s.book()),
                    entry_id,
                    now,
                )
                for pid, s in fresh
            ],
        )
        bulk_update(
            conn,
            "sync_policy",
            ("base", "legacy", "new", "stamps", "entry_id", "updated_at"),
            ("tenant", "policy_id"),
            [
                (
                    json_text(s.base),
                    json_text(s.sides["legacy"]),
                    json_text(s.sides["new"]),
                    json_text(s.book()),
                    entry_id,
                    now,
                    self.tenant,
                    pid,
                )
                for pid, s in known
            ],
            json_columns=("base", "legacy", "new", "stamps"),
        )

    def _owe(
        self,
        outbound: list[dict[str, Any]],
        side: str,
        policy_id: str,
        held: Mapping[str, Any],
        wanted: Mapping[str, Any],
        entry_id: int,
        sent: dict[str, Any],
    ) -> bool:
        """Queue a patch taking ``side`` from what it holds to what it should hold (if any).

        A patch, not the whole document: fields sync does not know of stay as they are, and
        each path carries the value it expects to replace (compare-and-set on delivery).
        """
        if held == wanted:
            return False
        # delta_of(held, wanted) in one pass, leaving out what is already on its way
        sets = {
            p: v for p, v in wanted.items() if held.get(p) != v and (p not in sent or sent[p] != v)
        }
        for p, v in held.items():
            if v is not None and p not in wanted and (p not in sent or sent[p] is not None):
                sets[p] = None
        if not sets:
            return False
        sent.update(sets)
        outbound.append(
            {
                "tenant": self.tenant,
                "side": side,
                "policy_id": policy_id,
                "document": {"set": sets, "expect": {p: held.get(p) for p in sets}},
                "hlc": self.clock.now_text(),
                "entry_id": entry_id,
            }
        )
        return True

    def _save_outbound(self, conn: Connection, outbound: list[dict[str, Any]]) -> None:
        now = _stamp_param(conn, utcnow())  # one stamp for the batch's commit, bound as is
        bulk_insert(
            conn,
            "sync_outbound",
            ("tenant", "side", "policy_id", "document", "hlc", "entry_id", "created_at"),
            [
                (r["tenant"], r["side"], r["policy_id"], json_text(r["document"]), r["hlc"])
                + (r["entry_id"], now)
                for r in outbound
            ],
        )

    def _save_conflicts(
        self, conn: Connection, conflicts: list[tuple[str, FieldDecision, str, Any]], entry_id: int
    ) -> None:
        """Record the batch's two-sided fields: decided ones as resolved conflicts, queued ones
        as open conflicts (one per field: an open one already there shows the latest values)."""
        if not conflicts:
            return
        now = utcnow()
        queued = sorted({pid for pid, decision, _, _ in conflicts if decision.winner is None})
        still_open = self._open_conflicts(conn, queued) if queued else set()
        updates: list[tuple[Any, ...]] = []
        inserts: list[tuple[Any, ...]] = []
        for policy_id, decision, kind, change in conflicts:
            values = json_text(
                {"base": decision.base, "legacy": decision.legacy, "new": decision.new}
            )
            path = decision.path[:256]
            if decision.winner is None and (policy_id, path) in still_open:
                updates.append((values, kind, entry_id, self.tenant, policy_id, path, "open"))
                continue
            won = decision.winner
            inserts.append(
                (
                    self.tenant,
                    policy_id,
                    path,
                    decision.group[:64],
                    (ConflictState.OPEN if won is None else ConflictState.RESOLVED).value,
                    values,
                    won.value if won else None,
                    json_text({"value": decision.value} if won else None),
                    f"policy:{decision.strategy.value}" if won else None,
                    entry_id,
                    now,
                    now if won else None,
                    now if won else None,
                    kind,
                    change.source if change.origin == "legacy" else None,
                    change.source if change.origin == "new" else None,
                )
            )
        bulk_update(
            conn,
            "sync_conflict",
            ("values", "kind", "entry_id"),
            ("tenant", "policy_id", "path", "state"),
            updates,
            json_columns=("values",),
        )
        bulk_insert(
            conn,
            "sync_conflict",
            (
                "tenant",
                "policy_id",
                "path",
                "group_name",
                "state",
                "values",
                "resolution",
                "resolved_value",
                "decided_by",
                "entry_id",
                "created_at",
                "resolved_at",
                "applied_at",
                "kind",
                "legacy_source",
                "new_source",
            ),
            inserts,
        )

    def _open_conflicts(self, conn: Connection, ids: list[str]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                select(CONFLICT.c.policy_id, CONFLICT.c.path).where(
                    and_(
                        CONFLICT.c.tenant == self.tenant,
                        CONFLICT.c.state == ConflictState.OPEN.value,
                        CONFLICT.c.policy_id.in_(ids[start : start + _CHUNK]),
                    )
                )
            )
            found.update((r.policy_id, r.path) for r in rows)
        return found

    # -- decisions made by people -------------------------------------------------------------

    def apply_resolutions(self) -> ApplyReport:
        """Carry conflicts a person resolved to the base and to both sides (once each)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CONFLICT)
                .where(
                    and_(
                        CONFLICT.c.tenant == self.tenant,
                        CONFLICT.c.state == ConflictState.RESOLVED.value,
                        CONFLICT.c.applied_at.is_(None),
                    )
                )
                .order_by(CONFLICT.c.id)
                .limit(self.batch)
            ).all()
        report = ApplyReport()
        if not rows:
            return report
        ids = sorted({r.policy_id for r in rows})
        with self.audit.operation(
            NAMESPACE,
            "conflict.apply",
            target="sync_conflict",
            payload={"conflicts": [r.id for r in rows]},
            policy_ids=ids,
        ) as op:
            with op.atomic() as conn:
                states = self._load_states(conn, ids)
                owners = self._owners(conn, ids)
                outbound: list[dict[str, Any]] = []
                conflicts: list[tuple[str, FieldDecision, str, Any]] = []
                decisions: list[dict[str, Any]] = []
                for row in rows:
                    state = states.setdefault(row.policy_id, _State(None))
                    values = row._mapping["values"] or {}
                    state.pins[row.path] = {
                        "value": (row.resolved_value or {}).get("value"),
                        "legacy": values.get("legacy"),
                        "new": values.get("new"),
                    }
                    report.resolutions += 1
                for pid, state in states.items():
                    decided = SimpleNamespace(
                        policy_id=pid, op="update", origin="person", source="sync resolve"
                    )
                    owner = owners.get(pid, Owner.LEGACY)
                    self._settle(
                        state, decided, owner, report, decisions, conflicts, outbound, op.entry_id
                    )
                self._save_states(conn, states, op.entry_id)
                self._save_conflicts(conn, conflicts, op.entry_id)
                self._marks.save(self.clock.last, conn)
                self._save_outbound(conn, outbound)
                conn.execute(
                    update(CONFLICT)
                    .where(CONFLICT.c.id.in_([r.id for r in rows]))
                    .values(applied_at=utcnow())
                )
                op.outcome = report.model_dump() | {"decisions": decisions[:200]}
        return report

    def carry_write(
        self, policy_id: str, document: Mapping[str, Any], *, reason: str
    ) -> ApplyReport:
        """A write for a policy both sides own (``dual``): owed to both through the outbox.

        The written values are pinned like a person's decision (carried while each side still
        holds what it held) and the policy is settled: each side gets the values it lacks as
        a compare-and-set patch in ``sync_outbound`` in this one commit, and the relay delivers
        them; neither side is written directly. A path the document lacks is removed.
        """
        with self.audit.operation(
            NAMESPACE,
            "write.dual",
            target=policy_id,
            payload={"reason": reason, "paths": len(document)},
            policy_ids=[policy_id],
        ) as op:
            report = ApplyReport()
            with op.atomic() as conn:
                states = self._load_states(conn, [policy_id])
                state = states.setdefault(policy_id, _State(None))
                left, right = state.side("legacy"), state.side("new")
                pinned = []
                for path in sorted(set(left) | set(right) | set(document)):
                    value = document.get(path)
                    if left.get(path) != value or right.get(path) != value:
                        pinned.append(path)
                        state.pins[path] = {
                            "value": value,
                            "legacy": left.get(path),
                            "new": right.get(path),
                        }
                written = SimpleNamespace(
                    policy_id=policy_id, op="update", origin="person", source=reason
                )
                owner = self._owners(conn, [policy_id]).get(policy_id, Owner.DUAL)
                outbound: list[dict[str, Any]] = []
                conflicts: list[tuple[str, FieldDecision, str, Any]] = []
                decisions: list[dict[str, Any]] = []
                self._settle(
                    state, written, owner, report, decisions, conflicts, outbound, op.entry_id
                )
                self._save_states(conn, states, op.entry_id)
                self._save_conflicts(conn, conflicts, op.entry_id)
                self._marks.save(self.clock.last, conn)
                self._save_outbound(conn, outbound)
                op.outcome = report.model_dump() | {"paths": pinned[:200]}
        return report


def _stamp_param(conn: Connection, value: Any) -> Any:
    """A timestamp bound through the driver as SQLAlchemy binds it (SQLite: naive UTC text,
    what :func:`core.store.bulk.bulk_insert` would otherwise make of it row by row)."""
    if conn.dialect.name == "postgresql":
        return value
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def document_hash(document: Mapping[str, Any] | None) -> str:
    """A stable hash of a flat document (the anti-entropy sweep compares these)."""
    raw = json.dumps(document or {}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


__all__ = ["SyncApplier", "document_hash", "moved", "side_view", "Side"]
