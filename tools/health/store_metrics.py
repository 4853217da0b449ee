"""Gauges read from the store at scrape time: coexistence queues and the conflict queue.

What is waiting lives in tables, not in the process that scrapes, so a long-running server (an
HTTP MCP server, ``serve api``) or a ``--metrics-port`` run reads it when Prometheus asks: one
grouped query per table, on the indexes the queues already have. Labels are the queue, the
tenant, the conflict-policy field group and the state, never a policy id.

Queues (``queue`` label):

* ``platform_outbox``: change events the new platform committed that the relay has not
  forwarded yet (the transactional outbox);
* ``sync_change``: captured changes (legacy extracts, forwarded platform events) not applied yet;
* ``sync_outbound``: merged values owed to a side, not delivered yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, inspect, select

from core.logs import get_logger
from core.metrics import enabled, watched_stores
from core.store.models import (
    PlatformOutboxRow,
    SyncChangeRow,
    SyncConflictRow,
    SyncOutboundRow,
    as_utc,
    table_of,
    utcnow,
)
from tools.sync.contracts import ChangeState

_log = get_logger(__name__)
_OUTBOX, _CHANGE = table_of(PlatformOutboxRow), table_of(SyncChangeRow)
_OUTBOUND, _CONFLICT = table_of(SyncOutboundRow), table_of(SyncConflictRow)


def _queues() -> list[tuple[str, Any, Any]]:
    """(queue label, table, condition of a pending row)."""
    return [
        ("platform_outbox", _OUTBOX, _OUTBOX.c.delivered_at.is_(None)),
        ("sync_change", _CHANGE, _CHANGE.c.state == ChangeState.PENDING.value),
        ("sync_outbound", _OUTBOUND, _OUTBOUND.c.delivered_at.is_(None)),
    ]


class StoreStateCollector(Collector):
    """Sync backlog, age of the oldest pending change and queued conflicts, per store watched
    by :func:`core.metrics.watch_store` (summed over stores; the oldest age is the maximum)."""

    def collect(self) -> Iterator[Metric]:
        if not enabled():
            return
        backlog: dict[tuple[str, str], float] = {}
        oldest: dict[tuple[str, str], float] = {}
        conflicts: dict[tuple[str, str, str], float] = {}
        for engine in watched_stores():
            try:
                self._read(engine, backlog, oldest, conflicts)
            except Exception as exc:  # noqa: BLE001  (a scrape must not fail on one store)
                _log.warning("store_metrics_failed", error=f"{type(exc).__name__}: {exc}")
        yield _family(
            "data_mash_sync_backlog_changes",
            "Changes waiting in a coexistence queue (platform_outbox, sync_change, "
            "sync_outbound), by queue and tenant.",
            ["queue", "tenant"],
            backlog,
        )
        yield _family(
            "data_mash_sync_oldest_pending_age_seconds",
            "Age of the oldest change still waiting in a coexistence queue, by queue and tenant "
            "(absent when the queue is empty).",
            ["queue", "tenant"],
            oldest,
        )
        yield _family(
            "data_mash_sync_conflicts",
            "Field conflicts in the conflict queue, by conflict-policy field group, state "
            "(open, resolved) and tenant.",
            ["group", "state", "tenant"],
            conflicts,
        )

    @staticmethod
    def _read(
        engine: Engine,
        backlog: dict[tuple[str, str], float],
        oldest: dict[tuple[str, str], float],
        conflicts: dict[tuple[str, str, str], float],
    ) -> None:
        present = set(inspect(engine).get_table_names())
        now = utcnow()
        with engine.connect() as conn:
            for queue, table, pending in _queues():
                if table.name not in present:
                    continue
                rows = conn.execute(
                    select(table.c.tenant, func.count(), func.min(table.c.created_at))
                    .where(pending)
                    .group_by(table.c.tenant)
                ).all()
                for tenant, count, first in rows:
                    key = (queue, str(tenant))
                    backlog[key] = backlog.get(key, 0) + count
                    first_at: datetime | None = as_utc(first)
                    if first_at is not None:
                        age = max(0.0, (now - first_at).total_seconds())
                        oldest[key] = max(oldest.get(key, 0.0), age)
            if _CONFLICT.name in present:
                rows = conn.execute(
                    select(
                        _CONFLICT.c.group_name, _CONFLICT.c.state, _CONFLICT.c.tenant, func.count()
                    ).group_by(_CONFLICT.c.group_name, _CONFLICT.c.state, _CONFLICT.c.tenant)
                ).all()
                for group, state, tenant, count in rows:
                    key3 = (str(group), str(state), str(tenant))
                    conflicts[key3] = conflicts.get(key3, 0) + count


def _family(
    name: str, help_text: str, labels: list[str], values: dict[Any, float]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


_installed: list[StoreStateCollector] = []


def install_store_metrics() -> None:
    """Read the stores' queues at every scrape of this process (long-running servers and
    ``--metrics-port`` runs; a short command does not need them). Idempotent."""
    if not _installed:
        collector = StoreStateCollector()
        REGISTRY.register(collector)
        _installed.append(collector)
