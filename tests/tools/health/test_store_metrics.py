"""Gauges read from the store at scrape time: coexistence backlog and its oldest change's age,
conflicts by field group and state, DB pool usage; no policy id in any label of any metric."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update

from core.metrics import exposition
from core.settings import Settings
from core.store import open_store
from core.store.models import PlatformOutboxRow, table_of, utcnow
from tests.servers.clients import http_server
from tools.health.store_metrics import install_store_metrics
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import FieldDecision, Strategy
from tools.sync.platform import NewPlatform
from tools.sync.relay import Relay

POLICIES = [f"POL-{n:06d}" for n in (314159, 271828, 161803)]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(text: str | None = None) -> Samples:
    body = text if text is not None else exposition()[0].decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _get(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def _decision(path: str, group: str) -> FieldDecision:
    return FieldDecision(
        path=path,
        group=group,
        strategy=Strategy.MANUAL,
        base="a",
        legacy="b",
        new="c",
        reason="both sides changed it",
    )


def _fill(store: Engine, tenant: str) -> None:
    platform = NewPlatform(store, tenant=tenant)
    for pid in POLICIES:
        platform.write_policy(pid, {"policy_core": {"policy_id": pid, "status": "active"}})
    queue = ConflictQueue(store, tenant=tenant)
    queue.enqueue(POLICIES[0], [_decision("policy_core.insured_party.address.city", "address")])
    queue.enqueue(POLICIES[1], [_decision("policy_core.status", "status")])
    (resolved,) = queue.enqueue(POLICIES[2], [_decision("policy_core.status", "status")])
    queue.resolve(resolved, Take.NEW)


def test_backlog_oldest_age_and_conflicts_move_with_the_queues(
    store: Engine, store_settings: Settings
) -> None:
    install_store_metrics()
    tenant = f"m{secrets.token_hex(4)}"
    _fill(store, tenant)
    # The first event waited ten minutes already.
    outbox = table_of(PlatformOutboxRow)
    with store.begin() as conn:
        first = min(r.id for r in conn.execute(outbox.select().where(outbox.c.tenant == tenant)))
        conn.execute(
            update(outbox)
            .where(outbox.c.id == first)
            .values(created_at=utcnow() - timedelta(minutes=10))
        )
    before = _scrape()
    assert (
        _get(before, "data_mash_sync_backlog_changes", queue="platform_outbox", tenant=tenant) == 3
    )
    age = _get(
        before, "data_mash_sync_oldest_pending_age_seconds", queue="platform_outbox", tenant=tenant
    )
    assert age is not None and 600 <= age < 700
    assert (
        _get(before, "data_mash_sync_backlog_changes", queue="sync_change", tenant=tenant) is None
    )
    conflicts = {
        (labels["group"], labels["state"]): value
        for (name, key), value in before.items()
        if name == "data_mash_sync_conflicts" and (labels := dict(key))["tenant"] == tenant
    }
    assert conflicts == {("address", "open"): 1, ("status", "open"): 1, ("status", "resolved"): 1}

    # The relay forwards the outbox: its backlog empties, the changes wait to be applied.
    Relay(store, store_settings, tenant=tenant).forward()
    after = _scrape()
    assert (
        _get(after, "data_mash_sync_backlog_changes", queue="platform_outbox", tenant=tenant)
        is None
    )
    assert _get(after, "data_mash_sync_backlog_changes", queue="sync_change", tenant=tenant) == 3
    age = _get(
        after, "data_mash_sync_oldest_pending_age_seconds", queue="sync_change", tenant=tenant
    )
    assert age is not None and age < 600
    _assert_no_policy_id_in_labels(after)


def test_pool_usage_follows_checked_out_connections(workspace: Path) -> None:
    engine = open_store(Settings(home=workspace))

    def checked_out() -> float:
        return (
            _get(_scrape(), "data_mash_db_pool_connections", backend="sqlite", state="checked_out")
            or 0
        )

    idle = checked_out()
    with engine.connect(), engine.connect():
        assert checked_out() == idle + 2
        assert (_get(_scrape(), "data_mash_db_pool_size_connections", backend="sqlite") or 0) >= 5
    assert checked_out() == idle
    engine.dispose()


def test_an_http_mcp_servers_metrics_show_the_queues_without_policy_ids(workspace: Path) -> None:
    store = open_store(Settings(home=workspace))
    _fill(store, "default")
    store.dispose()
    with http_server("sync", workspace) as url:
        text = httpx.get(url.removesuffix("/mcp") + "/metrics", timeout=30).text
    samples = _scrape(text)
    assert (
        _get(samples, "data_mash_sync_backlog_changes", queue="platform_outbox", tenant="default")
        == 3
    )
    assert (
        _get(samples, "data_mash_sync_conflicts", group="status", state="open", tenant="default")
        == 1
    )
    assert (_get(samples, "data_mash_db_pool_size_connections", backend="sqlite") or 0) >= 1
    _assert_no_policy_id_in_labels(samples)


def _assert_no_policy_id_in_labels(samples: dict[Any, float]) -> None:
    """Every label value of every metric: none names a policy (unbounded cardinality)."""
    values = {value for _name, labels in samples for _key, value in labels}
    assert values  # the scan saw labels at all
    for pid in POLICIES:
        assert not any(pid in value or pid.split("-")[1] in value for value in values), pid
