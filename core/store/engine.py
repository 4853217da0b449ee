"""Opening the store: one engine per process, SQLite in the workspace or PostgreSQL by URL.

SQLite runs in WAL mode with a busy timeout so several processes (a CLI command, an MCP server,
a wave run) can share one file; foreign keys are switched on, as PostgreSQL always has them.
The schema is brought to the newest Alembic revision on open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic_core import from_json
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from core.errors import ConfigError, InputError
from core.file_lock import file_lock
from core.metrics import watch_store
from core.retry import retry_call
from core.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# JSON columns (audit payloads and outcomes, wave steps) are decoded with pydantic-core's parser:
# the same values as json.loads (NaN included) in half the time, which is a quarter of serving
# one audit page.
# pg_advisory_lock key held while the schema is created or migrated ("data-mash" in ASCII).
SCHEMA_LOCK_KEY = 0x646174612D6D6173


def _prepare_workspace(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the workspace: {exc.strerror}",
            where=f"DATA_MASH_HOME={home}",
            fix="point DATA_MASH_HOME at a writable folder",
        ) from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(
            "the workspace is not writable",
            where=f"DATA_MASH_HOME={home}",
            fix="point DATA_MASH_HOME at a writable folder or fix its permissions",
        )


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _too_long_is_input_error(context: ExceptionContext) -> None:
    """PostgreSQL refuses a value wider than its column (SQLite stores it): one clear error.

    Doors check the ids they take (tenant, source, mapping...); this catches any other text a
    user chose (a source name, a reason) that is longer than the column holding it.
    """
    original = context.original_exception
    if getattr(original, "sqlstate", None) != "22001":  # string_data_right_truncation
        return
    detail = str(original).strip().splitlines()[0]
    raise InputError(
        f"a value is too long for the store ({detail})",
        where="DATA_MASH_DB_URL",
        fix="shorten it: tenants and ids take at most 64 characters, names at most 256",
    ) from None


def create_store_engine(settings: Settings) -> Engine:
    """An engine for the configured store, without touching the schema."""
    raw_url = settings.store_url
    where = "DATA_MASH_DB_URL" if settings.db_url else "store"
    try:
        url = make_url(raw_url)
    except ArgumentError:
        raise ConfigError(
            "is not a database URL",
            where=f"{where}={settings.redacted()['db_url']}",
            fix="use sqlite:///path/to/file.sqlite or postgresql+psycopg://user@host:5432/db",
        ) from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"unsupported database '{url.get_backend_name()}'",
            where=where,
            fix="use SQLite (default) or postgresql+psycopg://...",
        )
    if url.get_backend_name() == "sqlite":
        if settings.db_url is None:
            _prepare_workspace(settings.home)
        elif url.database and url.database != ":memory:":
            _prepare_workspace(Path(url.database).parent)
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                json_deserializer=from_json,
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(
                url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_recycle=settings.db_pool_recycle_seconds,
                pool_pre_ping=settings.db_pool_pre_ping,
                json_deserializer=from_json,
            )
            event.listen(engine, "handle_error", _too_long_is_input_error)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"no driver for this URL: {exc}",
            where=where,
            fix="use postgresql+psycopg://... (psycopg 3 is installed)",
        ) from None
    return engine


def open_store(settings: Settings) -> Engine:
    """Connect to the store, bring its schema to the newest revision, and return the engine.

    Raises:
        ConfigError: the workspace is unwritable, the URL is malformed, or the server unreachable.
    """
    # Imported here: Alembic takes seconds to import and only opening a store needs it (the
    # tables and the engine are imported far more often, e.g. by every server at start-up).
    from core.store.migrate import current_revision, head_revision, upgrade_to_head  # noqa: PLC0415

    engine = create_store_engine(settings)

    def ping() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        # A server restarting or briefly out of connections is worth a few short retries.
        retry_call("store_connect", ping, attempts=3, initial_wait=0.2, max_wait=1.0)
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(
            f"cannot connect to the store: {reason}",
            where="DATA_MASH_DB_URL" if settings.db_url else f"DATA_MASH_HOME={settings.home}",
            fix="check the URL, that the server runs, and the credentials",
        ) from None

    if current_revision(engine) != head_revision():
        # Two commands started at once on a brand-new workspace would both create the tables;
        # the loser would fail with "table audit_entry already exists". One migrates, the other
        # waits for it and then finds the schema current.
        with schema_lock(engine):
            upgrade_to_head(engine)
    watch_store(engine)
    return engine


@contextmanager
def reading(engine: Engine, conn: Connection | None = None) -> Iterator[Connection]:
    """The caller's connection when it passes one, else one of ``engine``'s for the block.

    Point reads that a request makes together (the policy tracker's location, moves, waves and
    trail) share one: a pool checkout and its return cost more than such a read.
    """
    if conn is not None:
        yield conn
        return
    with engine.connect() as own:
        yield own


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Exclude other processes while the schema is created or migrated.

    SQLite: a file lock beside the database file. PostgreSQL: a session advisory lock, held on a
    connection of its own for the duration (released by the server if this process dies).
    """
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with file_lock(Path(database).with_name(Path(database).name + ".schema.lock")):
            yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})
            conn.commit()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())
