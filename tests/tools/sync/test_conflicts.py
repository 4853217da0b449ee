"""The conflict queue: queued from a merge, resolved once, audited, bad ids write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from core.errors import InputError, NotFoundError
from core.store.models import AuditEntry, SyncConflictRow, table_of
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import ConflictState
from tools.sync.merge import merge
from tools.sync.policy import load_policy

ENTRY, CONFLICT = table_of(AuditEntry), table_of(SyncConflictRow)


def _queued(store: Engine) -> list[int]:
    result = merge(
        {"policy_core": {"carrier": "A", "agent_info": {"agency": "X"}}},
        {"policy_core": {"carrier": "B", "agent_info": {"agency": "Y"}}},
        {"policy_core": {"carrier": "C", "agent_info": {"agency": "Z"}}},
        load_policy(),
    )
    assert len(result.queued) == 2  # default strategy: manual
    queue = ConflictQueue(store, tenant="default", actor="tester")
    return queue.enqueue("P1", result.queued, legacy_source="extract-2", new_source="outbox#9")


def _counts(store: Engine) -> tuple[int, int]:
    with store.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(ENTRY)).scalar_one()
        resolved = conn.execute(
            select(func.count()).where(CONFLICT.c.state == "resolved")
        ).scalar_one()
    return entries, resolved


def test_queue_list_resolve_and_status(store: Engine) -> None:
    ids = _queued(store)
    assert _queued(store) == ids  # a repeated delivery queues nothing new
    queue = ConflictQueue(store, tenant="default", actor="tester")
    page = queue.page()
    assert [c.id for c in page.conflicts] == ids and page.total == 2
    carrier = next(c for c in page.conflicts if c.path == "policy_core.carrier")
    assert (carrier.base, carrier.legacy, carrier.new) == ("A", "B", "C")
    assert (carrier.legacy_source, carrier.new_source) == ("extract-2", "outbox#9")
    status = queue.status()
    assert (status.conflicts, status.resolved) == (2, 0)
    assert status.conflicts_by_type == {"update_update": {"open": 2, "resolved": 0}}

    done = queue.resolve(carrier.id, Take.LEGACY)
    assert done.state is ConflictState.RESOLVED
    assert (done.resolution, done.resolved_value, done.decided_by) == ("legacy", "B", "tester")
    other = next(i for i in ids if i != carrier.id)
    assert queue.resolve(other, Take.VALUE, "W").resolved_value == "W"
    status = queue.status()
    assert (status.conflicts, status.resolved, status.lag) == (0, 2, None)
    assert queue.page().total == 0 and queue.page(state=None).total == 2
    with store.connect() as conn:
        audited = (
            conn.execute(select(ENTRY.c.payload).where(ENTRY.c.operation == "conflict.resolve"))
            .scalars()
            .all()
        )
    assert audited[0]["before"] == {"base": "A", "legacy": "B", "new": "C"}
    assert audited[0]["after"] == "B"


def test_resolving_unknown_or_resolved_conflict_writes_nothing(store: Engine) -> None:
    ids = _queued(store)
    queue = ConflictQueue(store, tenant="default")
    queue.resolve(ids[0], Take.NEW)
    before = _counts(store)
    with pytest.raises(InputError, match=f"conflict {ids[0]} is already resolved"):
        queue.resolve(ids[0], Take.LEGACY)
    with pytest.raises(NotFoundError, match="no conflict 999"):
        queue.resolve(999, Take.LEGACY)
    with pytest.raises(NotFoundError):  # another tenant's conflict is not found either
        ConflictQueue(store, tenant="other").resolve(ids[1], Take.NEW)
    with pytest.raises(InputError, match="needs a value"):
        queue.resolve(ids[1], Take.VALUE)
    assert _counts(store) == before
    assert queue.get(ids[0]).resolution == "new"
