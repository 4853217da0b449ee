"""What the SQL targets (new_platform, data_quality_queue) share: URL checks, engines, batching.

SQLite gets the store's pragmas (WAL, busy timeout, synchronous=NORMAL) so a wave run and a
read-back in another process can share the file. Decimals and dates are TEXT on SQLite (its
NUMERIC affinity would turn amounts into floats) and native NUMERIC/DATE on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Engine,
    MetaData,
    Numeric,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.types import TypeEngine

from core.errors import ConfigError, InputError
from tools.waves.targets.base import TargetHealth

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 16_384
DELETE_CHUNK = 500  # ids per DELETE ... IN (...): well under SQLite's parameter limit
T = TypeVar("T")


def parse_url(config: Mapping[str, Any], target: str) -> URL:
    """The `url` setting of a SQL target, checked: SQLite file or PostgreSQL.

    Raises:
        InputError: missing, malformed, unsupported backend, or an in-memory SQLite database.
    """
    raw = config.get("url")
    where = f"target {target}: url"
    fix = "use sqlite:////path/to/target.sqlite or postgresql+psycopg://user@host:5432/db"
    if not isinstance(raw, str) or not raw.strip():
        raise InputError("the url setting is missing", where=where, fix=fix)
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise InputError("is not a database URL", where=where, fix=fix) from None
    backend = url.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise InputError(f"unsupported database {backend!r}", where=where, fix=fix)
    if backend == "sqlite" and (not url.database or url.database == ":memory:"):
        raise InputError(
            "an in-memory SQLite database vanishes with the process",
            where=where,
            fix="give a file path: sqlite:////path/to/target.sqlite",
        )
    if backend == "postgresql" and url.drivername not in {"postgresql", "postgresql+psycopg"}:
        raise InputError(
            f"driver {url.drivername!r} is not installed",
            where=where,
            fix="use postgresql+psycopg://... (psycopg 3)",
        )
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Bounded per connection (KiB): the pool keeps connections, and a 64 MiB cache filled by a
    # 350k-policy wave stayed resident in each of them (the read-back opens two).
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute("PRAGMA mmap_size=0")  # mapped pages would count as the process's memory
    cursor.execute("PRAGMA foreign_keys=ON")  # the platform's child tables reference policy
    cursor.close()


def make_engine(url: URL, target: str) -> Engine:
    """Create (not connect) the engine; the SQLite file's folder is created if missing."""
    try:
        if url.get_backend_name() == "sqlite":
            Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the database folder: {exc.strerror}",
            where=f"target {target}: url",
            fix="use a writable path",
        ) from None
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"no driver for this URL: {exc}",
            where=f"target {target}: url",
            fix="use postgresql+psycopg://...",
        ) from None


def column_type(arrow_type: pa.DataType, dialect: str) -> TypeEngine[Any]:
    """Storage type of a flat column on `dialect` (lists are JSON)."""
    if pa.types.is_list(arrow_type):
        return JSONB() if dialect == "postgresql" else Text()
    if dialect != "postgresql":
        return Text()
    if pa.types.is_decimal(arrow_type):
        return Numeric(arrow_type.precision, arrow_type.scale, asdecimal=True)
    if pa.types.is_date(arrow_type):
        return Date()
    if pa.types.is_integer(arrow_type):
        return BigInteger()
    if pa.types.is_boolean(arrow_type):
        return Boolean()
    return Text()


def timestamp_type(dialect: str) -> TypeEngine[Any]:
    """written_at / queued_at: ISO text on SQLite, timestamptz on PostgreSQL."""
    return DateTime(timezone=True) if dialect == "postgresql" else Text()


def reason(exc: SQLAlchemyError) -> str:
    """The first line of a driver error, without SQL or parameters."""
    orig = getattr(exc, "orig", None)
    return (str(orig) if orig else str(exc)).strip().splitlines()[0]


def ensure_schema(engine: Engine, metadata: MetaData, table: Table) -> None:
    """Create the table if it is absent; refuse an existing table lacking our columns.

    Raises:
        ConfigError: cannot connect, or a same-named table has another layout.
    """
    try:
        metadata.create_all(engine, checkfirst=True)
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"cannot prepare table {table.name!r}: {reason(exc)}",
            where=f"target url {engine.url.render_as_string(hide_password=True)}",
            fix="check that the database runs and the user may create tables",
        ) from None
    missing = [c.name for c in table.columns if c.name not in present]
    if missing:
        raise ConfigError(
            f"table {table.name!r} exists with another layout; lacks {', '.join(missing[:5])}",
            where=f"table {table.name}",
            fix="point the target at another table (setting `table`) or drop it",
        )


def health_of(engine: Engine, metadata: MetaData, table: Table) -> TargetHealth:
    """Connect, ensure the schema, report; never raises."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        ensure_schema(engine, metadata, table)
    except ConfigError as exc:
        return TargetHealth(ok=False, detail=exc.message)
    except SQLAlchemyError as exc:
        return TargetHealth(ok=False, detail=f"cannot connect: {reason(exc)}")
    except Exception as exc:  # noqa: BLE001 - health must report, not raise
        return TargetHealth(ok=False, detail=f"{type(exc).__name__}: {exc}")
    backend = engine.url.get_backend_name()
    return TargetHealth(ok=True, detail=f"table {table.name} ready on {backend}")


class TableTarget:
    """What a SQL target that owns one table shares: a lazy engine, the schema created on first
    use, a health check that creates it too, and close. Subclasses set ``name``, ``url``,
    ``metadata`` and ``table`` in ``__init__``."""

    name: ClassVar[str]
    url: URL
    metadata: MetaData
    table: Table
    _engine: Engine | None = None
    _ready: bool = False

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            self._engine = make_engine(self.url, self.name)
        return self._engine

    def _prepare(self) -> None:
        if not self._ready:
            ensure_schema(self.engine, self.metadata, self.table)
            self._ready = True

    def close(self) -> None:
        """Release pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def health(self) -> TargetHealth:
        """Connect and create the table if needed; never raises."""
        status = health_of(self.engine, self.metadata, self.table)
        self._ready = status.ok
        return status


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def table_name(config: Mapping[str, Any], default: str, target: str) -> str:
    """The optional `table` setting, checked to be a plain identifier."""
    name = config.get("table", default)
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 63:
        raise InputError(
            f"table name {name!r} is not a plain identifier",
            where=f"target {target}: table",
            fix="use letters, digits and '_' (at most 63 characters)",
        )
    return name.lower()
