"""The new policy-admin platform: a SQL database whose `policy` table follows the canonical model.

Layout: one column per scalar canonical leaf (`policy_core__policy_id`, `rating_components__
premium_amount`, ...), one JSON column per list component (`coverage_sections`), plus `wave_id`
and `written_at`. The primary key is the policy id, so a policy lives on the platform once; the
unique (policy id, wave id) constraint is the upsert key, so a retried batch of the same wave
updates in place, while a policy already migrated by another wave is refused (the whole batch
rolls back and the error names the policies and their wave).

Writes are one transaction per batch of driver executemany upserts, never one ORM object per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Column, MetaData, Table, Text, UniqueConstraint, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core.errors import ConfigError, InputError
from tools.waves.targets import sql
from tools.waves.targets.base import POLICY_ID
from tools.waves.targets.codec import conform, decode, encode, flat_columns, sanitise

POLICY_KEY = sanitise(POLICY_ID)
DECODE_ROWS = 10_000


class NewPlatformTarget(sql.TableTarget):
    """Upserts canonical policies into a SQL `policy` table (SQLite file or PostgreSQL).

    Config:
        url: `sqlite:////abs/path.sqlite` or `postgresql+psycopg://user@host:5432/db` (required).
        table: table name (default `policy`).
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
        self.columns = flat_columns(self.version)
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
                for c in self.columns
            ),
            Column("wave_id", Text(), nullable=False),
            Column("written_at", sql.timestamp_type(self.dialect), nullable=False),
        )
        # (wave_id, policy id) rather than the reverse: the same index then serves every
        # per-wave query (count, read-back, delete), so no separate wave index is maintained.
        self.table.append_constraint(
            UniqueConstraint("wave_id", POLICY_KEY, name=f"uq_{self.table.name}_wave_policy")
        )

    # -- plumbing -------------------------------------------------------------------------------
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
        names = [quote(c.name) for c in self.table.columns]
        keys = (quote("wave_id"), quote(POLICY_KEY))
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
        return (
            f"INSERT INTO {quote(self.table.name)} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )

    # -- MigrationTarget ------------------------------------------------------------------------
    def write(self, wave_id: str, records: pa.Table) -> int:
        """Upsert a batch in one transaction; returns the number of policies written.

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
        stamp: Any = now if native else now.isoformat()
        values = encode(table, self.version, text=not native)
        try:
            with self.engine.begin() as conn:
                if native:  # SQLAlchemy batches these into multi-row VALUES for psycopg
                    names = [c.name for c in self.columns]
                    conn.execute(
                        self._upsert_statement(),
                        [
                            {
                                **dict(zip(names, row, strict=True)),
                                "wave_id": wave_id,
                                "written_at": stamp,
                            }
                            for row in zip(*values, strict=True)
                        ],
                    )
                else:  # the driver's executemany on positional tuples: no per-row dicts
                    conn.exec_driver_sql(
                        self._sqlite_upsert(),
                        [(*row, wave_id, stamp) for row in zip(*values, strict=True)],
                    )
        except IntegrityError as exc:
            owned = self._owned_elsewhere(wave_id, table.column(POLICY_ID).to_pylist())
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

    def _owned_elsewhere(self, wave_id: str, ids: list[str]) -> list[tuple[str, str]]:
        key, found = self.table.c[POLICY_KEY], list[tuple[str, str]]()
        with self.engine.connect() as conn:
            for part in sql.chunks(ids, sql.DELETE_CHUNK):
                query = select(key, self.table.c.wave_id).where(
                    key.in_(part), self.table.c.wave_id != wave_id
                )
                found.extend((r[0], r[1]) for r in conn.execute(query))
        return sorted(found)

    def delete(self, wave_id: str, policy_ids: Sequence[str] | None = None) -> int:
        """Delete the wave's rows (all, or those policies) in one transaction; idempotent."""
        self._prepare()
        wave = self.table.c.wave_id == wave_id
        removed = 0
        with self.engine.begin() as conn:
            if policy_ids is None:
                return int(conn.execute(self.table.delete().where(wave)).rowcount or 0)
            for part in sql.chunks(list(policy_ids), sql.DELETE_CHUNK):
                result = conn.execute(
                    self.table.delete().where(wave, self.table.c[POLICY_KEY].in_(part))
                )
                removed += int(result.rowcount or 0)
        return removed

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        """Stream the wave's policies in policy-id order as canonical record batches.

        Rows are fetched and decoded at most DECODE_ROWS at a time (Python row tuples and parsed
        JSON are the memory peak), so batches may be smaller than `batch_rows`.
        """
        self._prepare()
        names = [c.name for c in self.columns]
        query = (
            select(*(self.table.c[n] for n in names))
            .where(self.table.c.wave_id == wave_id)
            .order_by(self.table.c[POLICY_KEY])
        )
        native = self.dialect == "postgresql"
        with self.engine.connect() as conn:
            step = max(1, min(batch_rows, DECODE_ROWS))
            streaming = conn.execution_options(stream_results=True, yield_per=step)
            result = streaming.execute(query)
            for part in result.partitions(step):
                columns = list(zip(*part, strict=True))
                yield decode(dict(zip(names, columns, strict=True)), self.version, text=not native)

    def count(self, wave_id: str) -> int:
        """How many policies the platform holds for the wave."""
        self._prepare()
        query = select(func.count()).select_from(self.table).where(self.table.c.wave_id == wave_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


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
