"""Readiness checks: store, schema, workspace, vector index, migration targets, LLM endpoint.

Liveness (``/livez``) checks nothing: a process that answers is alive, and restarting it because
a dependency is down would not help (restart storms). Readiness (``/readyz``) and ``doctor`` run
these. Every check reports, none raises.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text

from core.errors import DataMashError
from core.logs import get_logger, scrub
from core.settings import Settings
from core.store.engine import create_store_engine
from core.store.migrate import current_revision, head_revision
from core.targets import TargetName
from tools.health.contracts import CheckResult, HealthReport, HealthStatus
from tools.waves.context import WaveContext

_log = get_logger(__name__)
LLM_TIMEOUT_S = 3.0


def _result(
    status: HealthStatus,
    *,
    kind: str,
    value: Any = None,
    unit: str | None = None,
    output: str | None = None,
) -> CheckResult:
    return CheckResult(
        status=status,
        component_type=kind,
        observed_value=value,
        observed_unit=unit,
        time=datetime.now(UTC),
        output=scrub(output) if output else None,
    )


def _timed(check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001  (a check reports, it never raises)
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return _result(HealthStatus.FAIL, kind="component", output=str(message))


def check_store(settings: Settings, engine: Any = None) -> dict[str, list[CheckResult]]:
    """The store answers and its schema is at the newest migration."""

    def connectivity() -> CheckResult:
        own = engine or create_store_engine(settings)
        try:
            started = time.perf_counter()
            with own.connect() as conn:
                conn.execute(text("SELECT 1"))
            elapsed = round((time.perf_counter() - started) * 1000, 2)
            revision = current_revision(own)
        finally:
            if engine is None:
                own.dispose()
        if revision != head_revision():
            return _result(
                HealthStatus.WARN,
                kind="datastore",
                value=revision,
                output=f"schema at revision {revision}, newest is {head_revision()} "
                "(any data-mash command migrates it)",
            )
        return _result(HealthStatus.PASS, kind="datastore", value=elapsed, unit="ms")

    return {"store:connectivity": [_timed(connectivity)]}


def check_workspace(settings: Settings) -> dict[str, list[CheckResult]]:
    def writable() -> CheckResult:
        home = settings.home
        if home.exists() and os.access(home, os.W_OK | os.X_OK):
            return _result(HealthStatus.PASS, kind="system", value=str(home.resolve()))
        if not home.exists() and os.access(home.resolve().parent, os.W_OK):
            return _result(
                HealthStatus.PASS,
                kind="system",
                value=str(home.resolve()),
                output="created on first use",
            )
        return _result(
            HealthStatus.FAIL,
            kind="system",
            value=str(home),
            output="the workspace is not writable (DATA_MASH_HOME)",
        )

    return {"workspace:writable": [_timed(writable)]}


def check_vector_index(settings: Settings) -> dict[str, list[CheckResult]]:
    def available() -> CheckResult:
        if settings.embedding_provider == "none":
            return _result(
                HealthStatus.PASS,
                kind="component",
                value="disabled",
                output="semantic search is off (DATA_MASH_EMBEDDING_PROVIDER=none)",
            )
        path = settings.path("index")
        if not path.exists():
            return _result(
                HealthStatus.PASS,
                kind="component",
                value="empty",
                output="no index yet; ingest builds it",
            )
        # Imported here: chromadb takes seconds to import; only the index needs it.
        import chromadb  # noqa: PLC0415
        from chromadb.config import Settings as ChromaSettings  # noqa: PLC0415

        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        return _result(
            HealthStatus.PASS,
            kind="component",
            value=len(client.list_collections()),
            unit="collections",
        )

    return {"vector_index:availability": [_timed(available)]}


def check_targets(settings: Settings, engine: Any = None) -> dict[str, list[CheckResult]]:
    """Each built-in target's own health check, with its default configuration."""

    results: dict[str, list[CheckResult]] = {}
    services = WaveContext.default(engine, settings) if engine is not None else None
    for name in (t.value for t in TargetName):

        def one(name: str = name) -> CheckResult:
            if services is None:
                return _result(HealthStatus.WARN, kind="component", output="store not available")
            try:
                target = services.target(name)
            except DataMashError as exc:
                # Targets other than the workspace's platform are configured per plan.
                return _result(
                    HealthStatus.PASS, kind="component", value="not configured", output=exc.what
                )
            health = target.health()
            return _result(
                HealthStatus.PASS if health.ok else HealthStatus.WARN,
                kind="component",
                output=None if health.ok else health.detail,
            )

        results[f"target:{name}"] = [_timed(one)]
    return results


def check_llm(settings: Settings) -> dict[str, list[CheckResult]]:
    """When an LLM endpoint is configured: does it answer /models (no prompt is sent)."""

    def reachable() -> CheckResult:
        if not settings.llm_configured:
            return _result(
                HealthStatus.PASS,
                kind="component",
                value="not configured",
                output="journeys run as guided wizards (set OPENAI_API_KEY)",
            )

        base = (settings.openai_base_url or "https://api.openai.com/v1").rstrip("/")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        started = time.perf_counter()
        try:
            answer = httpx.get(
                f"{base}/models", headers={"authorization": f"Bearer {key}"}, timeout=LLM_TIMEOUT_S
            )
        except httpx.HTTPError as exc:
            return _result(
                HealthStatus.WARN,
                kind="component",
                output=f"LLM endpoint {base} unreachable: {type(exc).__name__}",
            )
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        if answer.status_code >= 400:
            return _result(
                HealthStatus.WARN,
                kind="component",
                value=answer.status_code,
                output=f"LLM endpoint {base} answered HTTP {answer.status_code}",
            )
        return _result(HealthStatus.PASS, kind="component", value=elapsed, unit="ms")

    return {"llm:reachability": [_timed(reachable)]}


def readiness(settings: Settings, engine: Any = None) -> HealthReport:
    """Every readiness check; the worst decides the overall status."""
    checks: dict[str, list[CheckResult]] = {}
    checks |= check_workspace(settings)
    checks |= check_store(settings, engine)
    checks |= check_vector_index(settings)
    checks |= check_targets(settings, engine)
    checks |= check_llm(settings)
    report = HealthReport.of(checks)
    _log.info(
        "health_checked",
        status=report.status,
        failing=[k for k, v in checks.items() if v[0].status != HealthStatus.PASS],
    )
    return report


def liveness() -> HealthReport:
    """Alive: the process answers. No dependency is checked here, on purpose."""
    return HealthReport(status=HealthStatus.PASS)
