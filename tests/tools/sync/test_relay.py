"""Platform writes with their outbox event in one commit; the relay forwards them once, in
commit order, turns sync's own echoes into acknowledgements (never sent on), and catches up on
what was written while it was down."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from core.errors import InputError
from core.settings import Settings
from core.store.models import PlatformOutboxRow, PlatformPolicyRow, SyncChangeRow, table_of
from tools.sync import platform as platform_module
from tools.sync.platform import NewPlatform
from tools.sync.relay import Relay

OUTBOX, POLICY, CHANGE = (
    table_of(PlatformOutboxRow),
    table_of(PlatformPolicyRow),
    table_of(SyncChangeRow),
)


def _doc(pid: str, **fields: Any) -> dict[str, Any]:
    return {"policy_core": {"policy_id": pid, "status": "active", **fields}}


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _changes(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(CHANGE).order_by(CHANGE.c.id)).all()


def test_write_and_event_commit_together(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = NewPlatform(store, tenant="default")
    first = platform.write_policy("P1", _doc("P1", carrier="A"))
    assert (first.op, first.version) == ("insert", 1) and first.outbox_id
    same = platform.write_policy("P1", _doc("P1", carrier="A"))
    assert same.op == "none" and _count(store, OUTBOX) == 1  # nothing changed: no event
    second = platform.write_policy("P1", _doc("P1", carrier="B"))
    assert second.changed == ["policy_core.carrier"] and second.version == 2

    # the outbox insert fails: the document is not written either
    real_insert = platform_module.insert

    def failing(table: Any) -> Any:
        if table is platform_module.OUTBOX:
            raise RuntimeError("disk full")
        return real_insert(table)

    monkeypatch.setattr(platform_module, "insert", failing)
    with pytest.raises(RuntimeError):
        platform.write_policy("P1", _doc("P1", carrier="C"))
    monkeypatch.setattr(platform_module, "insert", real_insert)
    assert platform.document("P1")["policy_core.carrier"] == "B"
    assert _count(store, OUTBOX) == 2

    with pytest.raises(InputError, match="not 'P1'"):
        platform.write_policy("P1", _doc("P2"))
    with pytest.raises(InputError, match="policy id"):
        platform.write_policy("a/b", _doc("a/b"))
    assert _count(store, OUTBOX) == 2 and _count(store, POLICY) == 1


def test_relay_forwards_once_drops_echoes_and_catches_up(
    store: Engine, store_settings: Settings
) -> None:
    platform = NewPlatform(store, tenant="default")
    for i in range(7):  # written while no relay runs: NOTIFY is lost, the outbox is not
        platform.write_policy(f"P{i}", _doc(f"P{i}"))
    platform.write_policy("P0", _doc("P0", carrier="merged"), origin="sync")
    relay = Relay(store, store_settings, tenant="default", batch=3)
    report = relay.pass_once()
    assert (report.forwarded, report.echoes) == (7, 1)
    changes = _changes(store)
    assert [c.policy_id for c in changes] == [f"P{i}" for i in range(7)] + ["P0"]
    assert {c.origin for c in changes} == {"new"}
    assert [c.op for c in changes] == ["insert"] * 7 + ["ack"]  # the echo is only an ack
    # the same change rows whichever way the relay records them (one statement on PostgreSQL)
    with store.connect() as conn:
        events = conn.execute(select(OUTBOX.c.id, OUTBOX.c.delta).order_by(OUTBOX.c.id)).all()
    assert [c.change_key for c in changes] == [f"new:{e.id}" for e in events]
    assert [c.delta for c in changes] == [e.delta for e in events]
    assert [c.components for c in changes] == [["policy_core"]] * 8
    assert changes[-1].source == f"platform_outbox#{events[-1].id} (echo)"
    assert changes[0].source == f"platform_outbox#{events[0].id}"
    assert {c.state for c in changes} == {"pending"} and all(c.entry_id for c in changes)

    with store.begin() as conn:  # a redelivery (e.g. the mark was lost): recorded once only
        conn.execute(update(OUTBOX).values(delivered_at=None))
    again = relay.pass_once()
    assert (again.forwarded, again.echoes) == (7, 1)
    assert len(_changes(store)) == 8


@pytest.mark.postgres
def test_commit_order_not_sequence_order_and_notify(pg_url: str, tmp_path: Any) -> None:
    from core.store import open_store

    settings = Settings(home=tmp_path / "ws", db_url=pg_url)
    engine = open_store(settings)
    platform = NewPlatform(engine, tenant="default")
    relay = Relay(engine, settings, tenant="default")
    # A takes the lower outbox id but commits after B: B must not be forwarded before A.
    slow = engine.connect()
    slow_tx = slow.begin()
    platform._write(slow, "A", {"policy_core.policy_id": "A"}, "new", platform._clock.now())
    platform.write_policy("B", _doc("B"))
    assert relay.forward().forwarded == 0  # B's transaction is newer than the open one
    slow_tx.commit()
    slow.close()
    assert relay.forward().forwarded == 2
    assert [c.policy_id for c in _changes(engine)] == ["A", "B"]

    # NOTIFY wakes a relay polling only every 60 s
    seen: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: seen.update(r=relay.run(poll_seconds=60, max_seconds=8)), daemon=True
    )
    worker.start()
    time.sleep(1.0)
    platform.write_policy("C", _doc("C"))
    deadline = time.monotonic() + 6
    while len(_changes(engine)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c.policy_id for c in _changes(engine)][-1] == "C"
    worker.join()
    engine.dispose()
