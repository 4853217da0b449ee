from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from core.store.models import AuditEntry, AuditPolicy
from tools.audit import FAILED, OK, PENDING, AuditLog, Move, PolicyLocations


def _count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_intent_is_committed_before_the_work(store: Engine) -> None:
    log = AuditLog(store)
    with log.operation("content", "ingest", target="f.csv") as op:
        # Seen from another connection while the work runs: pending, already durable.
        seen = log.get(op.entry_id)
        assert seen is not None and seen.status == PENDING and seen.incomplete
        op.outcome = {"records": 3}
    done = log.get(op.entry_id)
    assert done is not None
    assert done.status == OK and done.outcome == {"records": 3} and done.finished_at is not None


def test_failure_is_recorded_and_reraised(store: Engine) -> None:
    log = AuditLog(store)
    with pytest.raises(ValueError, match="boom"):
        with log.operation("content", "ingest") as op:
            raise ValueError("boom")
    entry = log.get(op.entry_id)
    assert entry is not None and entry.status == FAILED and "boom" in (entry.error or "")


def test_same_key_returns_first_outcome_without_redoing(store: Engine) -> None:
    log = AuditLog(store)
    calls = []
    for _ in range(3):
        with log.operation("content", "ingest", idempotency_key="sha:abc") as op:
            if op.completed:
                continue
            calls.append(1)
            op.outcome = {"source_id": "s1"}
    assert calls == [1]
    assert op.completed and op.outcome == {"source_id": "s1"}
    assert _count(store, AuditEntry.__table__) == 1


def test_failed_key_is_retried_under_the_same_entry(store: Engine) -> None:
    log = AuditLog(store)
    with pytest.raises(RuntimeError):
        with log.operation("waves", "migrate", idempotency_key="w1:b1"):
            raise RuntimeError("target down")
    with log.operation("waves", "migrate", idempotency_key="w1:b1") as op:
        assert not op.completed and op.attempts == 2
        op.outcome = {"written": 10}
    assert _count(store, AuditEntry.__table__) == 1
    entry = log.get(op.entry_id)
    assert entry is not None and entry.status == OK and entry.attempts == 2


def test_tenants_are_isolated(store: Engine) -> None:
    AuditLog(store, tenant="a").record("x", "y", idempotency_key="k", outcome={"t": "a"})
    with AuditLog(store, tenant="b").operation("x", "y", idempotency_key="k") as op:
        assert not op.completed
        op.outcome = {"t": "b"}
    assert [e.outcome for e in AuditLog(store, tenant="a").replay()] == [{"t": "a"}]
    assert [e.outcome for e in AuditLog(store, tenant="b").replay()] == [{"t": "b"}]


def test_group_commit_names_every_policy_in_one_entry(store: Engine) -> None:
    log = AuditLog(store)
    ids = [f"P{i:05d}" for i in range(2500)]
    with log.operation("routing", "route_batch", policy_ids=ids) as op:
        op.outcome = {"routed": len(ids)}
    assert _count(store, AuditEntry.__table__) == 1
    assert _count(store, AuditPolicy.__table__) == 2500
    trail = log.trail("P01234")
    assert [e.id for e in trail] == [op.entry_id] and trail[0].policy_count == 2500


def test_replay_filters_and_orders(store: Engine) -> None:
    log = AuditLog(store)
    for i in range(5):
        log.record("content" if i % 2 == 0 else "routing", f"op{i}", outcome={"i": i})
    everything = list(log.replay())
    assert [e.operation for e in everything] == [f"op{i}" for i in range(5)]
    assert [e.operation for e in log.replay("routing")] == ["op1", "op3"]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert list(log.replay(since=future)) == []
    assert len(list(log.replay(until=future, batch=2))) == 5  # paging keeps commit order


def test_replay_page_is_a_slice_of_replay_with_the_range_total(store: Engine) -> None:
    log = AuditLog(store)
    AuditLog(store, tenant="other").record("content", "elsewhere")
    for i in range(7):
        log.record("content" if i % 2 == 0 else "routing", f"op{i}")
    everything = [e.operation for e in log.replay()]
    pages = [log.replay_page(offset=o, limit=3) for o in (0, 3, 6, 9)]
    assert [[e.operation for e in p] for p, _ in pages] == [
        everything[0:3],
        everything[3:6],
        everything[6:],
        [],
    ]
    assert {total for _, total in pages} == {7}  # the other tenant's entry is not counted
    routing, total = log.replay_page("routing", offset=1, limit=10)
    assert [e.operation for e in routing] == ["op3", "op5"] and total == 3
    future = datetime.now(UTC) + timedelta(hours=1)
    assert log.replay_page(since=future) == ([], 0)


def test_trail_includes_entries_targeting_the_policy(store: Engine) -> None:
    log = AuditLog(store)
    log.record("routing", "reroute", target="P1", payload={"reason": "manual"})
    log.record("routing", "route_batch", policy_ids=["P1", "P2"])
    log.record("routing", "route_batch", policy_ids=["P2"])
    assert [e.operation for e in log.trail("P1")] == ["reroute", "route_batch"]


def test_moves_commit_with_the_outcome_or_not_at_all(store: Engine) -> None:
    log = AuditLog(store)
    locations = PolicyLocations(store)
    with pytest.raises(RuntimeError):
        with log.operation("routing", "route_batch", policy_ids=["P1", "P2"]) as op:
            with op.atomic() as conn:
                locations.record_moves(
                    conn, [Move("P1", "NewPlatform"), Move("P2", "Legacy")], entry_id=op.entry_id
                )
                raise RuntimeError("crash mid-batch")
    assert locations.locate("P1") is None and locations.history("P2") == []
    assert log.get(op.entry_id).status == FAILED  # type: ignore[union-attr]


def test_locations_track_every_move_in_order(store: Engine) -> None:
    log = AuditLog(store)
    locations = PolicyLocations(store)
    for system, wave in [("LegacyBatch", None), ("CoexistenceBridge", "1"), ("NewPlatform", "2")]:
        with log.operation("waves", "move", policy_ids=["P9"]) as op:
            with op.atomic() as conn:
                locations.record_moves(
                    conn, [Move("P9", system, wave=wave, rule="r")], entry_id=op.entry_id
                )
    # Re-recording the current system is not a move (a batch redone after a crash).
    with store.begin() as conn:
        assert locations.record_moves(conn, [Move("P9", "NewPlatform")], entry_id=None) == 0
    history = locations.history("P9")
    assert [(m.from_system, m.to_system) for m in history] == [
        (None, "LegacyBatch"),
        ("LegacyBatch", "CoexistenceBridge"),
        ("CoexistenceBridge", "NewPlatform"),
    ]
    here = locations.locate("P9")
    assert here is not None and here.system == "NewPlatform" and here.wave == "2"
    assert locations.counts_by_system() == {"NewPlatform": 1}


def test_compensation_marks_entry(store: Engine) -> None:
    log = AuditLog(store)
    entry_id = log.record("waves", "migrate", outcome={"n": 1})
    undo = log.record("waves", "compensate_migrate", parent_id=entry_id)
    log.mark_compensated(entry_id)
    assert log.get(entry_id).status == "compensated"  # type: ignore[union-attr]
    assert log.get(undo).parent_id == entry_id  # type: ignore[union-attr]
