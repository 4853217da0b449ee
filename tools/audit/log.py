"""The write-ahead audit log (ARCHITECTURE section 5).

Every state change runs inside :meth:`AuditLog.operation`::

    with audit.operation("content", "ingest", target=path, idempotency_key=key) as op:
        if op.completed:          # the same key already succeeded: return its outcome
            return op.outcome
        ...do the work...
        op.outcome = {"records": n}

The intent (status ``pending``) is committed before the block runs; the outcome (``ok`` or
``failed`` with the error) is committed under the same id after it. A process killed in between
leaves a ``pending`` entry that :meth:`replay` reports as incomplete; re-running with the same
idempotency key takes that entry over instead of writing a second one.

Bulk work names the policies a batch covers (``policy_ids=``): they are written with the intent in
one transaction (group commit), one row per policy, never one transaction per record.

The log's own writes retry transient store failures (lock contention, a dropped connection) via
:func:`core.retry.retry_call`: the intent when it has an idempotency key (a retry after an
ambiguous commit finds its entry by key and takes it over, so nothing is written twice), and the
outcome (an update of one row, the same whatever the number of tries). The block's own work is
the caller's and is not retried here.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import from_json, to_json
from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError

from core.logs import current_actor, current_correlation_id
from core.retry import retry_call
from core.settings import DEFAULT_TENANT
from core.store import reading
from core.store.bulk import bulk_insert
from core.store.models import AuditEntry, AuditPolicy, table_of, utcnow
from tools.audit.contracts import AuditRecord, AuditStatus

ENTRY = table_of(AuditEntry)
ENTRY_POLICY = table_of(AuditPolicy)

PENDING, OK, FAILED, COMPENSATED = (
    AuditStatus.PENDING,
    AuditStatus.OK,
    AuditStatus.FAILED,
    AuditStatus.COMPENSATED,
)
STATUSES = tuple(AuditStatus)
_ERROR_LIMIT = 2000
# A policy's trail (the console's locate reads it on every request), built once. The ids come
# from a UNION of the two indexed look-ups (the batches that name the policy, the entries whose
# target it is): written as ``id IN (...) OR target = ?`` SQLite walked every entry of the
# tenant instead (0.76 against 0.05 ms CPU at 350,000 policies).
_BY_TARGET = ENTRY.alias("by_target")
_TRAIL = (
    select(ENTRY)
    .where(
        and_(
            ENTRY.c.tenant == bindparam("tenant"),
            ENTRY.c.id.in_(
                union(
                    select(ENTRY_POLICY.c.entry_id).where(
                        and_(
                            ENTRY_POLICY.c.tenant == bindparam("tenant"),
                            ENTRY_POLICY.c.policy_id == bindparam("policy_id"),
                        )
                    ),
                    select(_BY_TARGET.c.id).where(
                        and_(
                            _BY_TARGET.c.tenant == bindparam("tenant"),
                            _BY_TARGET.c.target == bindparam("policy_id"),
                        )
                    ),
                )
            ),
        )
    )
    .order_by(ENTRY.c.id)
)
#: A listing of entries (a replay page, a policy's trail in locate) shows an entry's payload or
#: outcome whole when its JSON is at most this many characters. A longer one (a mapping's rules,
#: a batch's policy ids, per-field error counts: up to tens of KB each, 200 KB for a page of 50)
#: is shortened to the small top-level items that open it, and the entry says so in
#: ``shortened``; the whole entry is one read by id away (:meth:`AuditLog.get`). The store hands
#: back only this many characters and the length, so a long value is never read whole.
PREVIEW_BYTES = 1024
#: The largest top-level item (as JSON) a shortened payload or outcome keeps.
PREVIEW_ITEM_BYTES = 256
_LONG = ("payload", "outcome")
_ENTRY_NAMES = tuple(column.name for column in ENTRY.c)
#: What a preview row holds, in the record's field order: each long value's opening is
#: followed by its size (``payload``, ``payload_size``), which :func:`_preview_values` drops.
_PREVIEW_NAMES = tuple(
    label
    for name in _ENTRY_NAMES
    for label in ((name, f"{name}_size") if name in _LONG else (name,))
)
#: Validates a listing's entries in one call (not one ``model_validate`` per row).
_RECORDS = TypeAdapter(list[AuditRecord])


def _opening(column: Any, dialect: str) -> list[Any]:
    """The first :data:`PREVIEW_BYTES` characters of a JSON column and its length."""
    if dialect == "sqlite":
        # As a BLOB: SQLite then cuts and measures bytes without walking characters (a page of
        # 50 reads in half the time). The same numbers: the stored JSON is ASCII (json.dumps
        # escapes everything else).
        raw = cast(column, LargeBinary)
        return [func.substr(raw, 1, PREVIEW_BYTES), func.length(raw)]
    text = cast(column, Text)
    return [func.substr(text, 1, PREVIEW_BYTES), func.length(text)]


@cache
def _columns(dialect: str, preview: bool) -> tuple[Any, ...]:
    """What a listing selects: every column, or with ``preview`` the openings of the long ones
    (in place, each followed by its length: see :data:`_PREVIEW_NAMES`)."""
    if not preview:
        return (ENTRY,)
    return tuple(
        part
        for column in ENTRY.c
        for part in (_opening(column, dialect) if column.name in _LONG else (column,))
    )


@cache
def _trail_statement(dialect: str, preview: bool) -> Any:
    return _TRAIL.with_only_columns(*_columns(dialect, preview)) if preview else _TRAIL


def _range_of(namespace: bool, since: bool, until: bool) -> Any:
    """The conditions of a range, with its values as bound parameters (one statement per
    shape of range, built once: building a statement and its cache key costs more than an
    indexed page)."""
    conditions = [ENTRY.c.tenant == bindparam("tenant")]
    if namespace:
        conditions.append(ENTRY.c.namespace == bindparam("namespace"))
    if since:
        conditions.append(ENTRY.c.created_at >= bindparam("since"))
    if until:
        conditions.append(ENTRY.c.created_at <= bindparam("until"))
    return and_(*conditions)


@cache
def _page_statement(dialect: str, preview: bool, *shape: bool) -> Any:
    return (
        select(*_columns(dialect, preview))
        .where(_range_of(*shape))
        .order_by(ENTRY.c.id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


@cache
def _count_statement(*shape: bool) -> Any:
    return select(func.count()).select_from(ENTRY).where(_range_of(*shape))


def default_actor() -> str:
    """The actor of new audit entries: the one bound for the running request (an API token),
    else DATA_MASH_ACTOR, else ``user@host`` of this process."""
    bound = current_actor()
    if bound:
        return bound
    user = os.environ.get("DATA_MASH_ACTOR")
    if user:
        return user
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass
class Operation:
    """A running audited operation, handed to the block of :meth:`AuditLog.operation`."""

    entry_id: int
    completed: bool  # True when the idempotency key already succeeded; do not redo the work
    outcome: dict[str, Any] | None = None
    attempts: int = 1
    _log: AuditLog | None = field(default=None, repr=False)
    _finished: bool = field(default=False, repr=False)

    @contextmanager
    def atomic(self) -> Iterator[Connection]:
        """A transaction that commits the work together with the ``ok`` outcome.

        Use it when the work is itself a database write: the state change and its outcome are then
        one commit, so a crash leaves either both or neither.
        """
        assert self._log is not None
        with self._log.engine.begin() as conn:
            yield conn
            self._log._finish(conn, self.entry_id, OK, self.outcome, None)
        self._finished = True


class AuditLog:
    """Write-ahead audit log of one tenant in one store."""

    def __init__(self, engine: Engine, *, tenant: str = DEFAULT_TENANT, actor: str | None = None):
        self.engine = engine
        self.tenant = tenant
        self.actor = actor or default_actor()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def operation(
        self,
        namespace: str,
        operation: str,
        *,
        target: str | None = None,
        payload: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        policy_ids: Sequence[str] = (),
        parent_id: int | None = None,
    ) -> Iterator[Operation]:
        """Commit the intent, run the block, commit its outcome under the same entry id."""

        def begin() -> Operation:
            return self._begin(
                namespace, operation, target, payload or {}, idempotency_key, policy_ids, parent_id
            )

        # Without a key a retried insert after an ambiguous commit could log the intent twice.
        op = retry_call("audit_intent", begin) if idempotency_key is not None else begin()
        if op.completed:
            yield op
            return
        try:
            yield op
        except BaseException as exc:
            if not op._finished:
                self._finish_own(op, FAILED, _describe(exc))
            raise
        if not op._finished:
            self._finish_own(op, OK, None)

    def _finish_own(self, op: Operation, status: str, error: str | None) -> None:
        """Commit an outcome in a transaction of its own, retrying transient failures."""

        def finish() -> None:
            with self.engine.begin() as conn:
                self._finish(conn, op.entry_id, status, op.outcome, error)

        retry_call("audit_outcome", finish)

    def record(self, namespace: str, operation: str, **kwargs: Any) -> int:
        """Log an operation whose work is already inside the caller's control (intent + ok)."""
        outcome = kwargs.pop("outcome", None)
        with self.operation(namespace, operation, **kwargs) as op:
            op.outcome = outcome if not op.completed else op.outcome
        return op.entry_id

    def mark_compensated(self, entry_id: int, *, conn: Connection | None = None) -> None:
        """Mark a completed entry as undone (the compensation itself is logged separately)."""
        stmt = (
            update(ENTRY)
            .where(and_(ENTRY.c.id == entry_id, ENTRY.c.tenant == self.tenant))
            .values(status=COMPENSATED, finished_at=utcnow())
        )
        if conn is not None:
            conn.execute(stmt)
            return
        with self.engine.begin() as own:
            own.execute(stmt)

    def _begin(
        self,
        namespace: str,
        operation: str,
        target: str | None,
        payload: dict[str, Any],
        key: str | None,
        policy_ids: Sequence[str],
        parent_id: int | None,
    ) -> Operation:
        for _attempt in range(3):
            if key is not None:
                existing = self._by_key(key)
                if existing is not None:
                    return self._take_over(existing)
            try:
                with self.engine.begin() as conn:
                    entry_id = conn.execute(
                        insert(ENTRY)
                        .values(
                            tenant=self.tenant,
                            namespace=namespace,
                            operation=operation,
                            target=target,
                            payload=payload,
                            idempotency_key=key,
                            actor=self.actor,
                            status=PENDING,
                            parent_id=parent_id,
                            attempts=1,
                            policy_count=len(policy_ids),
                            created_at=utcnow(),
                            correlation_id=current_correlation_id(),
                        )
                        .returning(ENTRY.c.id)
                    ).scalar_one()
                    self._insert_policies(conn, entry_id, policy_ids)
                return Operation(entry_id=entry_id, completed=False, _log=self)
            except IntegrityError:
                if key is None:
                    raise
                # Another process registered the same key between our read and our insert.
                continue
        raise RuntimeError(f"could not register idempotency key {key!r}")

    def _by_key(self, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(ENTRY.c.id, ENTRY.c.status, ENTRY.c.outcome, ENTRY.c.attempts).where(
                    and_(ENTRY.c.tenant == self.tenant, ENTRY.c.idempotency_key == key)
                )
            ).first()

    def _take_over(self, existing: Any) -> Operation:
        if existing.status == OK:
            return Operation(
                entry_id=existing.id,
                completed=True,
                outcome=existing.outcome,
                attempts=existing.attempts,
                _log=self,
            )
        # pending (crashed), failed or compensated: this attempt redoes the work under the same id.
        with self.engine.begin() as conn:
            conn.execute(
                update(ENTRY)
                .where(ENTRY.c.id == existing.id)
                .values(
                    status=PENDING, attempts=existing.attempts + 1, error=None, finished_at=None
                )
            )
        return Operation(
            entry_id=existing.id, completed=False, attempts=existing.attempts + 1, _log=self
        )

    def _insert_policies(self, conn: Connection, entry_id: int, policy_ids: Sequence[str]) -> None:
        if policy_ids and conn.dialect.name == "sqlite":
            # One statement over a JSON array: no Python tuple per policy (a 20,000-policy batch
            # of an assembly inserts 2.4x faster than executemany).
            conn.exec_driver_sql(
                "INSERT INTO audit_policy (entry_id, tenant, policy_id) "
                "SELECT ?, ?, value FROM json_each(?)",
                (entry_id, self.tenant, json.dumps([str(p) for p in policy_ids])),
            )
            return
        # COPY / driver executemany: an ORM object or statement per policy would cost 10x.
        bulk_insert(
            conn,
            "audit_policy",
            ("entry_id", "tenant", "policy_id"),
            [(entry_id, self.tenant, str(pid)) for pid in policy_ids],
        )

    def _finish(
        self,
        conn: Connection,
        entry_id: int,
        status: str,
        outcome: dict[str, Any] | None,
        error: str | None,
    ) -> None:
        conn.execute(
            update(ENTRY)
            .where(ENTRY.c.id == entry_id)
            .values(status=status, outcome=outcome, error=error, finished_at=utcnow())
        )

    # -- reading ---------------------------------------------------------------------------

    def replay(
        self,
        namespace: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        batch: int = 1000,
    ) -> Iterator[AuditRecord]:
        """Entries in commit order (by id), optionally by namespace and time range.

        Read-only: replaying twice yields the same entries and changes nothing. Entries still
        ``pending`` are reported with ``incomplete=True``: their process stopped mid-operation.
        """
        shape, values = self._range(namespace, since, until)
        statement = (
            select(ENTRY)
            .where(and_(_range_of(*shape), ENTRY.c.id > bindparam("after")))
            .order_by(ENTRY.c.id)
            .limit(batch)
        )
        last_id = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(statement, {**values, "after": last_id}).all()
            if not rows:
                return
            for row in rows:
                yield AuditRecord.from_row(row)
            last_id = rows[-1].id

    def _range(
        self, namespace: str | None, since: datetime | None, until: datetime | None
    ) -> tuple[tuple[bool, bool, bool], dict[str, Any]]:
        """The shape of a range (for :func:`_range_of`) and the values of its parameters."""
        shape = (bool(namespace), bool(since), bool(until))
        values = {"tenant": self.tenant, "namespace": namespace, "since": since, "until": until}
        return shape, values

    def replay_page(
        self,
        namespace: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        offset: int = 0,
        limit: int = 100,
        preview: bool = False,
    ) -> tuple[list[AuditRecord], int]:
        """One page of :meth:`replay` and how many entries the range holds in all.

        Two indexed queries (the page, then a count) instead of walking the whole range, so a
        page costs the same at the start of a long log as at its end of a short one. With
        ``preview``, long payloads and outcomes are shortened (see :data:`PREVIEW_BYTES`).
        """
        values, total = self.replay_page_values(
            namespace, since, until, offset=offset, limit=limit, preview=preview
        )
        return _RECORDS.validate_python(values), total

    def replay_page_values(
        self,
        namespace: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        offset: int = 0,
        limit: int = 100,
        preview: bool = False,
    ) -> tuple[list[dict[str, Any]], int]:
        """:meth:`replay_page` as each entry's field values, in the record's field order, not
        validated (rows of this log): for a door that writes the page's JSON itself
        (:func:`tools.audit.contracts.audit_page_json`)."""
        shape, values = self._range(namespace, since, until)
        with self.engine.connect() as conn:
            statement = _page_statement(conn.dialect.name, preview, *shape)
            rows = conn.execute(statement, {**values, "offset": offset, "limit": limit}).all()
            if offset == 0 and len(rows) < limit:
                total = len(rows)
            else:
                total = conn.execute(_count_statement(*shape), values).scalar_one()
        return _values(rows, preview), int(total)

    def namespaces(self) -> dict[str, int]:
        """Each namespace the tenant's log holds, with its number of entries."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ENTRY.c.namespace, func.count())
                .where(ENTRY.c.tenant == self.tenant)
                .group_by(ENTRY.c.namespace)
                .order_by(ENTRY.c.namespace)
            ).all()
        return {str(name): int(n) for name, n in rows}

    def trail(
        self, policy_id: str, *, preview: bool = False, conn: Connection | None = None
    ) -> list[AuditRecord]:
        """Every entry that touched one policy, oldest first; with ``preview``, long payloads
        and outcomes shortened (a batch entry names every policy of its batch). On ``conn``
        when given."""
        with reading(self.engine, conn) as read:
            statement = _trail_statement(read.dialect.name, preview)
            rows = read.execute(statement, {"tenant": self.tenant, "policy_id": policy_id}).all()
        return _records(rows, preview)

    def get(self, entry_id: int) -> AuditRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ENTRY).where(and_(ENTRY.c.id == entry_id, ENTRY.c.tenant == self.tenant))
            ).first()
        return AuditRecord.from_row(row) if row else None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_ERROR_LIMIT]


def _small(item: Any) -> bool:
    if item is None or isinstance(item, bool | int | float):
        return True
    if isinstance(item, str):
        return len(item) <= PREVIEW_ITEM_BYTES
    return len(to_json(item)) <= PREVIEW_ITEM_BYTES


def _shortened(
    opening: str | bytes | None, size: int | None, name: str, shortened: list[str]
) -> Any:
    """A payload or outcome from its opening characters (see :data:`PREVIEW_BYTES`): decoded
    whole when that is all of it, else its small top-level items before the cut."""
    if opening is None:
        return None
    if size is None or size <= PREVIEW_BYTES:
        return from_json(opening)
    shortened.append(name)
    try:
        value = from_json(opening, allow_partial=True)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    complete = list(value.items())[:-1]  # the item at the cut may be short of its end
    return {key: item for key, item in complete if _small(item)}


def _preview_values(row: Any) -> dict[str, Any]:
    """The fields of an entry read with :func:`_columns` (preview), long values shortened."""
    values = dict(zip(_PREVIEW_NAMES, row, strict=True))
    shortened: list[str] = []
    for name in _LONG:
        values[name] = _shortened(values[name], values.pop(f"{name}_size"), name, shortened)
    values["shortened"] = shortened
    return values


def _values(rows: Sequence[Any], preview: bool) -> list[dict[str, Any]]:
    """The field values of a listing's entries (rows of our own store: plain tuples)."""
    if preview:
        return [_preview_values(row) for row in rows]
    return [{**dict(zip(_ENTRY_NAMES, row, strict=True)), "shortened": []} for row in rows]


def _records(rows: Sequence[Any], preview: bool) -> list[AuditRecord]:
    """Entries of a listing, validated in one call (not one ``model_validate`` per row)."""
    return _RECORDS.validate_python(_values(rows, preview))
