"""The audit log's own writes retry transient store failures, and only where a retry cannot write
twice: the keyed intent and the outcome; an unkeyed intent fails at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from core.metrics import RETRIES
from tools.audit import AuditLog
from tools.audit.log import ENTRY


@contextmanager
def flaky(engine: Engine, statement: str, failures: int) -> Iterator[list[str]]:
    """The next ``failures`` statements starting with ``statement`` fail as a locked database."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.lstrip().upper().startswith(statement) and "audit_entry" in sql:
            seen.append(sql)
            if len(seen) <= failures:
                raise OperationalError(sql, {}, sqlite3.OperationalError("database is locked"))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ENTRY)).scalar_one())


def test_a_keyed_intent_is_retried_and_written_once(store: Engine) -> None:
    log = AuditLog(store)
    retries = RETRIES.labels("audit_intent")._value.get()
    with flaky(store, "INSERT", failures=2) as seen:
        with log.operation("waves", "migrate.batch", idempotency_key="k-1") as op:
            op.outcome = {"rows": 10}
    assert len(seen) == 3
    assert RETRIES.labels("audit_intent")._value.get() - retries == 2
    assert _entries(store) == 1
    (entry,) = log.replay("waves")
    assert entry.status == "ok" and entry.outcome == {"rows": 10}


def test_an_unkeyed_intent_is_not_retried(store: Engine) -> None:
    log = AuditLog(store)
    ran: list[int] = []
    with flaky(store, "INSERT", failures=1) as seen:
        with pytest.raises(OperationalError, match="database is locked"):
            with log.operation("waves", "note"):
                ran.append(1)
    assert len(seen) == 1 and not ran and _entries(store) == 0


def test_the_outcome_is_retried(store: Engine) -> None:
    log = AuditLog(store)
    retries = RETRIES.labels("audit_outcome")._value.get()
    with flaky(store, "UPDATE", failures=1):
        with log.operation("waves", "migrate.batch", idempotency_key="k-2") as op:
            op.outcome = {"rows": 5}
    assert RETRIES.labels("audit_outcome")._value.get() - retries == 1
    (entry,) = log.replay("waves")
    assert entry.status == "ok" and entry.outcome == {"rows": 5}
