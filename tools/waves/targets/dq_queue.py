"""The data-quality queue: policies held back for a person to fix, with the reasons why.

One row per (policy id, wave id) - the primary key and the upsert key - holding the reasons as a
JSON list, the canonical record as JSON (nested like the canonical model, decimals as strings,
dates ISO; records here are often invalid, so they are not forced through the pydantic model),
and `queued_at`. Reasons come from an optional `dq_reasons` column of the written table
(list<string> or string); a policy without one is queued with an empty list.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa
from sqlalchemy import Column, MetaData, Table, Text, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ConfigError
from knowledge.canonical import arrow_to_records, records_to_arrow
from tools.waves.targets import sql
from tools.waves.targets.codec import conform, to_json_value
from tools.waves.targets.new_platform import _refuse_duplicates

REASONS_COLUMN = "dq_reasons"


class DataQualityQueueTarget(sql.TableTarget):
    """Queues policies and their data-quality reasons in a SQL table.

    Config:
        url: `sqlite:////abs/path.sqlite` or `postgresql+psycopg://...` (required).
        table: table name (default `data_quality_queue`).
        reasons_column: the records column holding reasons (default `dq_reasons`).
        canonical_version: default `policy_v1`.
    """

    name: ClassVar[str] = "data_quality_queue"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.url = sql.parse_url(config, self.name)
        self.version = str(config.get("canonical_version", "policy_v1"))
        self.reasons_column = str(config.get("reasons_column", REASONS_COLUMN))
        self.dialect = self.url.get_backend_name()
        json_type = sql.column_type(pa.list_(pa.string()), self.dialect)
        self.metadata = MetaData()
        self.table = Table(
            sql.table_name(config, "data_quality_queue", self.name),
            self.metadata,
            Column("policy_id", Text(), primary_key=True),
            Column("wave_id", Text(), primary_key=True),
            Column("reasons", json_type, nullable=False),
            Column("record", json_type, nullable=False),
            Column("queued_at", sql.timestamp_type(self.dialect), nullable=False),
        )

    def _reasons(self, records: pa.Table) -> list[list[str]]:
        if self.reasons_column not in records.column_names:
            return [[] for _ in range(records.num_rows)]
        out: list[list[str]] = []
        for value in records.column(self.reasons_column).to_pylist():
            if value is None:
                out.append([])
            elif isinstance(value, str):
                out.append([value])
            else:
                out.append([str(v) for v in value if v is not None])
        return out

    def write(self, wave_id: str, records: pa.Table) -> int:
        """Queue (upsert) a batch in one transaction; returns how many policies were queued."""
        table = conform(records, self.version)
        if table.num_rows == 0:
            return 0
        _refuse_duplicates(table)
        self._prepare()
        native = self.dialect == "postgresql"
        now = dt.datetime.now(dt.UTC)
        rows = []
        for record, reasons in zip(
            arrow_to_records(table, self.version), self._reasons(records), strict=True
        ):
            body = (
                json.loads(json.dumps(record, default=to_json_value))
                if native
                else json.dumps(record, default=to_json_value, separators=(",", ":"))
            )
            rows.append(
                {
                    "policy_id": record["policy_core"]["policy_id"],
                    "wave_id": wave_id,
                    "reasons": reasons if native else json.dumps(reasons),
                    "record": body,
                    "queued_at": now if native else now.isoformat(),
                }
            )
        insert = postgresql.insert if native else sqlite.insert
        stmt = insert(self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["policy_id", "wave_id"],
            set_={c: stmt.excluded[c] for c in ("reasons", "record", "queued_at")},
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt, rows)
        except SQLAlchemyError as exc:
            raise ConfigError(
                f"cannot write to the data-quality queue: {sql.reason(exc)}",
                where=f"table {self.table.name}",
                fix="check the database; the batch was rolled back",
            ) from None
        return len(rows)

    def delete(self, wave_id: str, policy_ids: Sequence[str] | None = None) -> int:
        """Remove the wave's queue entries (all, or those policies); idempotent."""
        self._prepare()
        wave = self.table.c.wave_id == wave_id
        with self.engine.begin() as conn:
            if policy_ids is None:
                return int(conn.execute(self.table.delete().where(wave)).rowcount or 0)
            return sum(
                int(
                    conn.execute(
                        self.table.delete().where(wave, self.table.c.policy_id.in_(part))
                    ).rowcount
                    or 0
                )
                for part in sql.chunks(list(policy_ids), sql.DELETE_CHUNK)
            )

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        """Stream the wave's queued records (policy-id order) as canonical record batches."""
        self._prepare()
        query = (
            select(self.table.c.record)
            .where(self.table.c.wave_id == wave_id)
            .order_by(self.table.c.policy_id)
        )
        with self.engine.connect() as conn:
            streaming = conn.execution_options(stream_results=True, yield_per=batch_rows)
            result = streaming.execute(query)
            for part in result.partitions(batch_rows):
                records = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in part]
                yield from records_to_arrow(records, self.version).to_batches()

    def reasons(self, wave_id: str) -> dict[str, list[str]]:
        """Policy id -> reasons queued for the wave (what the data-quality inbox shows)."""
        self._prepare()
        query = select(self.table.c.policy_id, self.table.c.reasons).where(
            self.table.c.wave_id == wave_id
        )
        with self.engine.connect() as conn:
            return {
                pid: json.loads(r) if isinstance(r, str) else list(r)
                for pid, r in conn.execute(query)
            }

    def count(self, wave_id: str) -> int:
        """How many policies are queued for the wave."""
        self._prepare()
        query = select(func.count()).select_from(self.table).where(self.table.c.wave_id == wave_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


__all__ = ["REASONS_COLUMN", "DataQualityQueueTarget"]
