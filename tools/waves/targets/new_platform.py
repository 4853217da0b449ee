"""The new policy-admin platform: a SQL database holding whole canonical policies.

Layout: a ``policy`` table with one column per scalar canonical leaf (`policy_core__policy_id`,
`rating_components__premium_amount`, ...), one item-count column per list component
(`coverage_sections__items`: null when the policy has no such list), `wave_id` and `written_at`;
and one child table per list component (``coverage``, ``payment``, ``endorsement``,
``document``, ``communication``, ``notice``, ``claim_link``, ``rating_factor``,
``calculation``; :mod:`tools.waves.targets.components`) whose rows reference the policy by a
foreign key with ``ON DELETE CASCADE``. The primary key of ``policy`` is the policy id, so a
policy lives on the platform once; the unique (wave id, policy id) constraint is the upsert key,
so a retried batch of the same wave updates in place (its children are replaced), while a policy
already migrated by another wave is refused (the whole batch rolls back and the error names the
policies and their wave).

Writes are one transaction per batch of driver executemany statements, never one ORM object per
row. Deletes remove the children first, then the policies, so they also work where foreign keys
are not enforced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core.errors import ConfigError, InputError
from tools.waves.targets import components as parts
from tools.waves.targets import sql
from tools.waves.targets.base import POLICY_ID, TargetHealth
from tools.waves.targets.codec import conform, decode, flat_columns, sanitise

POLICY_KEY = sanitise(POLICY_ID)
DECODE_ROWS = 10_000


class NewPlatformTarget(sql.TableTarget):
    """Upserts whole canonical policies into SQL tables (SQLite file or PostgreSQL).

    Config:
        url: `sqlite:////abs/path.sqlite` or `postgresql+psycopg://user@host:5432/db` (required).
        table: name of the policy table (default `policy`; child tables beside a non-default
            name are prefixed with it, e.g. `pol_coverage`).
        canonical_version: canonical model version of the records (default `policy_v1`).
    """

    name: ClassVar[str] = "new_platform"

    def __init__(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise InputError(
                "the target config must be a mapping",
                where=f"target {self.name}",
                fix="pass {url: ...}",
            )
        self.url = sql.parse_url(config, self.name)
        self.version = str(config.get("canonical_version", "policy_v1"))
        self.dialect = self.url.get_backend_name()
        self.scalars = tuple(c for c in flat_columns(self.version) if not c.is_list)
        self.metadata = MetaData()
        self.table = Table(
            sql.table_name(config, "policy", self.name),
            self.metadata,
            *(
                Column(
                    c.name,
                    sql.column_type(c.type, self.dialect),
                    primary_key=c.path == POLICY_ID,
                    nullable=c.path != POLICY_ID,
                )
                for c in self.scalars
            ),
            *parts.count_columns(self.version),
            Column("wave_id", Text(), nullable=False),
            Column("written_at", sql.timestamp_type(self.dialect), nullable=False),
        )
        # (wave_id, policy id) rather than the reverse: the same index then serves every
        # per-wave query (count, read-back, delete), so no separate wave index is maintained.
        self.table.append_constraint(
            UniqueConstraint("wave_id", POLICY_KEY, name=f"uq_{self.table.name}_wave_policy")
        )
        self.components = parts.component_tables(
            self.metadata, self.table, POLICY_KEY, self.dialect, self.version
        )

    # -- plumbing -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        if not self._ready:
            for table in (self.table, *(c.table for c in self.components)):
                sql.ensure_schema(self.engine, self.metadata, table)
            self._ready = True

    def health(self) -> TargetHealth:
        """Connect and create the policy and child tables if needed; never raises."""
        status = sql.health_of(self.engine, self.metadata, self.table)
        if status.ok:
            for component in self.components:
                child = sql.health_of(self.engine, self.metadata, component.table)
                if not child.ok:
                    return child
            status = TargetHealth(
                ok=True,
                detail=f"{status.detail}, with {len(self.components)} component tables",
            )
        self._ready = status.ok
        return status

    def _column_names(self) -> list[str]:
        return [c.name for c in self.table.columns]

    def _upsert_statement(self) -> Any:
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = insert(self.table)
        updated = {
            c.name: stmt.excluded[c.name]
            for c in self.table.columns
            if c.name not in (POLICY_KEY, "wave_id")
        }
        return stmt.on_conflict_do_update(index_elements=["wave_id", POLICY_KEY], set_=updated)

    def _sqlite_upsert(self) -> str:
        quote = self.engine.dialect.identifier_preparer.quote
        names = [quote(c) for c in self._column_names()]
        keys = (quote("wave_id"), quote(POLICY_KEY))
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
        return (
            f"INSERT INTO {quote(self.table.name)} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )

    def _policy_rows(self, table: pa.Table, wave_id: str, stamp: Any, text: bool) -> list[Any]:
        columns: list[list[Any]] = []
        for flat in self.scalars:
            column = table.column(flat.path)
            if text and not pa.types.is_string(flat.type):
                column = column.cast(pa.string())
            columns.append(column.to_pylist())
        columns.extend(parts.item_counts(table, c.path) for c in self.components)
        return [(*row, wave_id, stamp) for row in zip(*columns, strict=True)]

    def _replace_children(
        self, conn: Connection, table: pa.Table, wave_id: str, ids: list[str], text: bool
    ) -> None:
        quote = self.engine.dialect.identifier_preparer.quote
        for component in self.components:
            child = component.table
            for part in sql.chunks(ids, sql.DELETE_CHUNK):
                conn.execute(
                    child.delete().where(
                        and_(child.c.wave_id == wave_id, child.c[parts.PARENT_KEY].in_(part))
                    )
                )
            rows = parts.child_rows(table, component, wave_id, text=text)
            if rows:
                conn.exec_driver_sql(parts.child_insert_sql(component, quote, self.dialect), rows)

    # -- MigrationTarget ------------------------------------------------------------------------
    def write(self, wave_id: str, records: pa.Table, *, within: Connection | None = None) -> int:
        """Upsert a batch of whole policies in one transaction; returns the policies written.

        ``within``: a connection to this same database whose open transaction the write joins
        (the caller commits or rolls back; sync writes a policy with its outbox row so).

        Raises:
            InputError: bad records, duplicate ids in the batch, or policies owned by another wave.
            ConfigError: the database refused the write (the batch is rolled back).
        """
        table = conform(records, self.version)
        if table.num_rows == 0:
            return 0
        _refuse_duplicates(table)
        self._prepare()
        native = self.dialect == "postgresql"
        now = dt.datetime.now(dt.UTC)
        rows = self._policy_rows(table, wave_id, now if native else now.isoformat(), not native)
        ids = table.column(POLICY_ID).to_pylist()
        try:
            with self._transaction(within) as conn:
                if native:  # SQLAlchemy batches these into multi-row VALUES for psycopg
                    names = self._column_names()
                    conn.execute(
                        self._upsert_statement(), [dict(zip(names, r, strict=True)) for r in rows]
                    )
                else:  # the driver's executemany on positional tuples: no per-row dicts
                    conn.exec_driver_sql(self._sqlite_upsert(), rows)
                self._replace_children(conn, table, wave_id, ids, not native)
        except IntegrityError as exc:
            owned = self._owned_elsewhere(wave_id, ids)
            if owned:
                sample = ", ".join(f"{pid} (wave {w})" for pid, w in owned[:5])
                raise InputError(
                    f"{len(owned)} policies are already on the platform from another wave: "
                    f"{sample}",
                    where=f"wave {wave_id}",
                    fix="roll that wave back first, or drop these policies from this wave",
                ) from None
            raise ConfigError(
                f"the platform refused the batch: {sql.reason(exc)}",
                where=f"table {self.table.name}",
                fix="check the records",
            ) from None
        except SQLAlchemyError as exc:
            raise ConfigError(
                f"cannot write to the platform: {sql.reason(exc)}",
                where=f"table {self.table.name}",
                fix="check the database; the batch was rolled back",
            ) from None
        return table.num_rows

    def _transaction(self, within: Connection | None) -> AbstractContextManager[Connection]:
        """The caller's open transaction on this database, or one of our own."""
        return nullcontext(within) if within is not None else self.engine.begin()

    def _owned_elsewhere(self, wave_id: str, ids: list[str]) -> list[tuple[str, str]]:
        key, found = self.table.c[POLICY_KEY], list[tuple[str, str]]()
        with self.engine.connect() as conn:
            for part in sql.chunks(ids, sql.DELETE_CHUNK):
                query = select(key, self.table.c.wave_id).where(
                    key.in_(part), self.table.c.wave_id != wave_id
                )
                found.extend((r[0], r[1]) for r in conn.execute(query))
        return sorted(found)

    def delete(
        self,
        wave_id: str,
        policy_ids: Sequence[str] | None = None,
        *,
        within: Connection | None = None,
    ) -> int:
        """Delete the wave's whole policies (all, or those) in one transaction; idempotent.

        Children go first (the foreign keys cascade too, where they are enforced).
        ``within``: as for :meth:`write`. Returns the number of policies removed.
        """
        self._prepare()
        removed = 0
        with self._transaction(within) as conn:
            if policy_ids is None:
                for component in self.components:
                    child = component.table
                    conn.execute(child.delete().where(child.c.wave_id == wave_id))
                wave = self.table.c.wave_id == wave_id
                return int(conn.execute(self.table.delete().where(wave)).rowcount or 0)
            for part in sql.chunks(list(policy_ids), sql.DELETE_CHUNK):
                for component in self.components:
                    child = component.table
                    conn.execute(
                        child.delete().where(
                            and_(child.c.wave_id == wave_id, child.c[parts.PARENT_KEY].in_(part))
                        )
                    )
                result = conn.execute(
                    self.table.delete().where(
                        self.table.c.wave_id == wave_id, self.table.c[POLICY_KEY].in_(part)
                    )
                )
                removed += int(result.rowcount or 0)
        return removed

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        """Stream the wave's whole policies in policy-id order as canonical record batches.

        Policy rows are fetched and decoded at most DECODE_ROWS at a time; each such slice reads
        its children by policy-id range, one query per component table (on a second connection,
        so the streaming cursor stays open). Batches may be smaller than `batch_rows`.
        """
        self._prepare()
        names = [c.name for c in self.scalars]
        counts = [c.count_column for c in self.components]
        query = (
            select(*(self.table.c[n] for n in [*names, *counts]))
            .where(self.table.c.wave_id == wave_id)
            .order_by(self.table.c[POLICY_KEY])
        )
        native = self.dialect == "postgresql"
        step = max(1, min(batch_rows, DECODE_ROWS))
        with self.engine.connect() as conn, self.engine.connect() as children:
            streaming = conn.execution_options(stream_results=True, yield_per=step)
            result = streaming.execute(query)
            for part in result.partitions(step):
                columns = list(zip(*part, strict=True))
                scalars = dict(zip(names, columns[: len(names)], strict=True))
                batch = decode(scalars, self.version, text=not native)
                ids = list(columns[names.index(POLICY_KEY)])
                stored = dict(zip(counts, columns[len(names) :], strict=True))
                yield self._with_components(children, batch, wave_id, ids, stored, native)

    def _with_components(
        self,
        conn: Connection,
        batch: pa.RecordBatch,
        wave_id: str,
        ids: list[str],
        counts: Mapping[str, Sequence[Any]],
        native: bool,
    ) -> pa.RecordBatch:
        arrays = list(batch.columns)
        # The slice came in the database's own order (its collation): first and last bound it.
        low, high = ids[0], ids[-1]
        for component in self.components:
            child = component.table
            query = select(
                child.c[parts.PARENT_KEY],
                child.c[parts.ITEM_NO],
                *(child.c[n] for n in parts.member_names(component)),
            ).where(
                and_(
                    child.c.wave_id == wave_id,
                    child.c[parts.PARENT_KEY] >= low,
                    child.c[parts.PARENT_KEY] <= high,
                )
            )
            rows = conn.execute(query).all()
            index = batch.schema.get_field_index(component.path)
            arrays[index] = parts.lists_from_rows(
                component, ids, counts[component.count_column], rows, text=not native
            )
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)

    def count(self, wave_id: str) -> int:
        """How many policies the platform holds for the wave."""
        self._prepare()
        query = select(func.count()).select_from(self.table).where(self.table.c.wave_id == wave_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def children(self, wave_id: str) -> dict[str, int]:
        """Child rows the platform holds for the wave, per child table."""
        self._prepare()
        out = {}
        with self.engine.connect() as conn:
            for component in self.components:
                child = component.table
                query = select(func.count()).select_from(child).where(child.c.wave_id == wave_id)
                out[child.name] = int(conn.execute(query).scalar_one())
        return out


def _refuse_duplicates(table: pa.Table) -> None:
    ids = table.column(POLICY_ID)
    if pc.count_distinct(ids).as_py() == len(ids):
        return
    counts = pc.value_counts(ids)
    dup = [v["values"] for v in counts.to_pylist() if v["counts"] > 1]
    raise InputError(
        f"{len(dup)} policy ids occur more than once in the batch: {', '.join(map(str, dup[:5]))}",
        where=f"records, {POLICY_ID}",
        fix="deduplicate the batch (one record per policy)",
    )
