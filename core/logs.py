"""Structured logs: structlog over the standard library, JSON or console, secrets scrubbed.

Every data-mash module logs through ``get_logger(__name__)`` with events named ``noun_verb`` and
data as fields. Libraries' records (alembic, uvicorn, mcp, httpx) go through the same handler, so
one format, one level and one redaction apply to every line. Lines go to stderr: stdout belongs to
``--json`` documents and to the stdio MCP transport.

A correlation id (one per CLI command, one per MCP tool call) is bound in a context variable; it
is on every log line and on every audit entry written while it is bound.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from structlog.contextvars import bind_contextvars, get_contextvars, reset_contextvars

from core.tracing import trace_ids

LogFormat = Literal["console", "json"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Keys whose values are secrets whatever they hold (token_id, llm_token_budget are not).
_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|pwd|secret|token|api_key|apikey|authorization|credentials?)$", re.I
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never print ``value``: it is replaced by ``***`` wherever it appears in a log line."""
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with registered secrets and URL passwords masked."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _scrub_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if _SECRET_KEY.search(key):
        return "***"
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(key, v) for v in value]
    if isinstance(value, BaseException):
        return scrub(str(value))
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: mask secrets by key, by registered value and in URLs."""
    for key, value in list(event.items()):
        event[key] = _scrub_value(key, value)
    return event


class _CurrentStderr(io.TextIOBase):
    """Whatever ``sys.stderr`` is at write time (pytest and servers swap it)."""

    def write(self, text: str) -> int:
        sys.stderr.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        sys.stderr.flush()


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
    trace_ids,
    redact,
]


def resolve_level(verbose: int = 0, quiet: bool = False, *, default: str = "WARNING") -> str:
    """-q: errors only; -v: INFO; -vv: DEBUG; else DATA_MASH_LOG_LEVEL, else ``default``."""
    if quiet:
        return "ERROR"
    if verbose:
        return "DEBUG" if verbose > 1 else "INFO"
    env = os.environ.get("DATA_MASH_LOG_LEVEL", "").strip().upper()
    return env if env in LEVELS else default


def configure_logging(*, fmt: LogFormat = "console", level: str = "WARNING") -> None:
    """Send every log record (ours and libraries') to stderr in ``fmt`` at ``level``.

    Calling it again replaces the previous set-up (one handler, never stacked).
    """
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
    handler.set_name("data-mash")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "data-mash"]:
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    # Libraries' INFO chatter (alembic's "Context impl ...", uvicorn's access lines) only on -vv.
    quiet_below = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in ("alembic", "uvicorn.access", "httpx", "mcp", "chromadb"):
        logging.getLogger(name).setLevel(quiet_below)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger for a module; before any set-up, records go to the standard library
    (stderr, WARNING and up), never to stdout."""
    if not structlog.is_configured():
        structlog.configure(
            processors=[*_SHARED, structlog.processors.KeyValueRenderer()],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=False,
        )
    return structlog.get_logger(name)


def new_correlation_id() -> str:
    """A fresh correlation id (16 hex digits)."""
    return uuid.uuid4().hex[:16]


def current_correlation_id() -> str | None:
    """The correlation id bound for the running command or request, if any."""
    return get_contextvars().get("correlation_id")


def current_actor() -> str | None:
    """Who the running request acts as, when a door bound one (the REST API binds the token's
    id, label and role); audit entries written meanwhile name it as their actor."""
    actor = get_contextvars().get("actor")
    return actor if isinstance(actor, str) and actor else None


def bind_correlation_id(value: str | None = None) -> str:
    """Bind a correlation id for the rest of this context (a CLI command); return it."""
    value = value or new_correlation_id()
    bind_contextvars(correlation_id=value)
    return value


@contextmanager
def correlation(value: str | None = None, **fields: Any) -> Iterator[str]:
    """Bind a correlation id (and fields) for the block, restoring the previous ones after."""
    value = value or new_correlation_id()
    tokens = bind_contextvars(correlation_id=value, **fields)
    try:
        yield value
    finally:
        reset_contextvars(**tokens)
