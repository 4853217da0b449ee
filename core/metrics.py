"""Prometheus metrics of one data-mash process, named ``data_mash_<what>_<unit>``.

Counted per batch, never per record, so they cost nothing on the hot path; labels are stages,
reasons, gates and error classes, never a policy id (unbounded cardinality). HTTP servers expose
them at ``/metrics``; a long CLI run exposes them with ``--metrics-port``.
"""

from __future__ import annotations

import os
import re
import weakref
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Batches take from milliseconds (a small test wave) to minutes (50,000 policies to a slow target).
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

RECORDS = Counter(
    "data_mash_records_total",
    "Records processed, by stage (decode, map, route, migrate, validate, ...).",
    ["stage"],
)
BATCH_SECONDS = Histogram(
    "data_mash_batch_duration_seconds",
    "Wall time of one checkpointed batch, by stage.",
    ["stage"],
    buckets=_BATCH_BUCKETS,
)
QUARANTINED = Counter(
    "data_mash_quarantined_records_total",
    "Records set aside instead of processed, by reason.",
    ["reason"],
)
GATE_FAILURES = Counter(
    "data_mash_gate_failures_total", "Quality-gate checks that failed, by gate.", ["gate"]
)
SYNC_CONFLICTS = Counter(
    "data_mash_sync_conflict_decisions_total",
    "Fields both coexistence sides changed, by how they were settled (policy or queued).",
    ["resolution"],
)
COMPENSATIONS = Counter("data_mash_compensations_total", "Saga steps undone, by stage.", ["stage"])
RECONCILIATION_MISMATCHES = Counter(
    "data_mash_reconciliation_mismatches_total",
    "Policies that source and target disagree on after a wave, by kind.",
    ["kind"],
)
ERRORS = Counter(
    "data_mash_errors_total",
    "Failed operations, by operation and error class (transient or permanent).",
    ["operation", "error_class"],
)
RETRIES = Counter(
    "data_mash_retries_total",
    "Retries of transient failures, by operation.",
    ["operation"],
)
EMBEDDING_CALLS = Counter(
    "data_mash_embedding_requests_total",
    "Requests to a remote embedding endpoint, by outcome.",
    ["outcome"],
)
EMBEDDING_COST = Counter(
    "data_mash_embedding_cost_usd_total", "Spend on remote embeddings, by tenant.", ["tenant"]
)
EMBEDDING_BUDGET_LEFT = Gauge(
    "data_mash_embedding_budget_left_usd",
    "Remote embedding budget left, by tenant (as of its last request).",
    ["tenant"],
)
MAPPING_CONFIDENCE = Histogram(
    "data_mash_mapping_confidence_ratio",
    "Confidence of proposed field mappings (0-1).",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
TOOL_CALLS = Counter(
    "data_mash_tool_calls_total", "MCP tool calls, by tool and outcome.", ["tool", "outcome"]
)
TOOL_SECONDS = Histogram(
    "data_mash_tool_call_duration_seconds", "Wall time of MCP tool calls, by tool.", ["tool"]
)
HTTP_REQUESTS = Counter(
    "data_mash_http_requests_total",
    "HTTP requests to the REST API, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "data_mash_http_request_duration_seconds",
    "Wall time of HTTP requests to the REST API, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def enabled() -> bool:
    """``DATA_MASH_METRICS=off`` turns the counting off (the overhead benchmark's baseline)."""
    return os.environ.get("DATA_MASH_METRICS", "on").lower() not in ("off", "0", "false")


def observe_batch(stage: str, rows: int, seconds: float) -> None:
    """One committed batch of ``stage``: its records and its wall time."""
    if enabled():
        RECORDS.labels(stage).inc(rows)
        BATCH_SECONDS.labels(stage).observe(seconds)


def count(counter: Counter, amount: float = 1, **labels: str) -> None:
    """Add ``amount`` to ``counter`` (with ``labels``) unless metrics are off or it is zero."""
    if amount and enabled():
        (counter.labels(**labels) if labels else counter).inc(amount)


def count_confidence(confidence: float) -> None:
    """One proposed field mapping's confidence."""
    if enabled():
        MAPPING_CONFIDENCE.observe(confidence)


_DATA_IN_REASON = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


def reason_label(reason: str) -> str:
    """A bounded label for a free-text reason: quoted values and numbers (data) removed."""
    shape = " ".join(_DATA_IN_REASON.sub("", reason).split())
    return shape[:60] or "unknown"


# The stores this process opened, by URL without password (the newest engine of a URL wins):
# their pools are reported here, their contents by collectors that know the tables.
_STORES: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def watch_store(engine: Any) -> None:
    """Report ``engine``'s connection pool (and, where installed, its queues) on /metrics."""
    _STORES[engine.url.render_as_string(hide_password=True)] = engine


def watched_stores() -> list[Any]:
    """The live store engines of this process."""
    return list(_STORES.values())


class _PoolCollector(Collector):
    """DB pool usage, read from the pools at scrape time (nothing counted on the hot path)."""

    def collect(self) -> Iterator[Metric]:
        if not enabled():
            return
        size = GaugeMetricFamily(
            "data_mash_db_pool_size_connections",
            "Connections the store's pool keeps open at most without overflow, by backend.",
            labels=["backend"],
        )
        usage = GaugeMetricFamily(
            "data_mash_db_pool_connections",
            "Store connections by state: checked_out (in use), idle (in the pool), overflow "
            "(opened beyond the pool size), by backend.",
            labels=["backend", "state"],
        )
        sizes: dict[str, int] = defaultdict(int)
        states: dict[tuple[str, str], int] = defaultdict(int)
        for engine in watched_stores():
            pool, backend = engine.pool, engine.dialect.name
            if not hasattr(pool, "checkedout"):  # NullPool / StaticPool keep nothing
                continue
            sizes[backend] += pool.size()
            states[backend, "checked_out"] += pool.checkedout()
            states[backend, "idle"] += pool.checkedin()
            states[backend, "overflow"] += max(0, pool.overflow())
        for backend, value in sizes.items():
            size.add_metric([backend], value)
        for (backend, state), value in states.items():
            usage.add_metric([backend, state], value)
        yield size
        yield usage


REGISTRY.register(_PoolCollector())


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric of this process, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_metrics(port: int, host: str = "127.0.0.1") -> Any:
    """Expose /metrics on ``host:port`` from a background thread; returns the server to
    ``shutdown()``. Loopback by default: metrics say what is being migrated."""
    server, _thread = start_http_server(port, addr=host)
    return server
