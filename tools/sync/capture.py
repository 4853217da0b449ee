"""Change capture from the legacy side: a later extract diffed against the last synced snapshot.

Mainframe extracts carry no reliable updated-at, so changes are found by content: every row of
an extract is hashed per canonical component (the columns a feed maps into ``policy_core``,
``coverage_sections``...), the row hashes are folded per policy, and the policy's component
hashes are compared with those of the previous snapshot of the same feed. A policy that appears
is an insert, one that disappears a delete, one whose component hashes differ an update naming
the components.

The fold is order-free: per policy and component, the sums modulo 2**64 of the two 64-bit halves
of its rows' md5 (a multiset hash: duplicate rows count, row order does not), so DuckDB folds
with plain sums instead of ordering each policy's rows. Memory is flat in the extract's size:
policies are cut into buckets of at most BUCKET_ROWS rows (as reconciliation's) by their
*slot*, the top 16 bits of the policy id's md5; one pass streams the extract's rows into one
Arrow file per bucket, then each bucket is folded, compared with the same slots of the last
snapshot and written as that bucket's Parquet file of the new snapshot (a folder). Only the
changed policies' rows reach Python, a batch at a time. A snapshot of the first format (one
file of ordered folds) is rebuilt once from its extract's staged records; if those are gone the
capture says so and how to go on.

A feed's first capture records every policy as an insert; with ``baseline`` it records the
extract as the feed's starting snapshot only (one audited operation, no change rows).

Durability follows Singer's rule (never save state before the data is durable): each batch of
changes is committed under its own audit entry, with ``INSERT .. ON CONFLICT DO NOTHING`` on a
key made of feed, snapshot number, extract and policy; the feed's bookmark (snapshot number,
extract, snapshot folder) moves only afterwards, in the commit of the capture's audit outcome. A
process killed in between re-runs the same capture: the same buckets and order, so nothing is
lost and nothing is recorded twice.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.dialects import sqlite

from core.errors import InputError, NotFoundError
from core.ids import tenant_path
from core.settings import Settings
from core.store.bulk import json_text
from core.store.models import SyncChangeRow, SyncFeedRow, table_of, utcnow
from tools.audit import AuditLog
from tools.content.sources import SourceInfo, SourceRegistry
from tools.sync.clock import unsaved_clock
from tools.sync.contracts import CaptureResult, ChangeState
from tools.sync.paths import ITEM_KEYS, delta_of
from tools.sync.policy import known_paths
from tools.waves.reconcile import BUCKET_ROWS, MAX_BUCKETS

FEED = table_of(SyncFeedRow)
CHANGE = table_of(SyncChangeRow)
NAMESPACE = "sync"
POLICY_KEY = "policy_core.policy_id"
#: A feed name's length bound (the store's column; the sync MCP server declares it too).
FEED_NAME_MAX = 128
BATCH = 2_000
#: A policy's slot: the top 16 bits of its id's md5 (stored in snapshots, stable across
#: DuckDB versions, unlike ``hash``); a bucket is a contiguous range of slots.
SLOTS = 65_536
SLOT_SQL = "CAST(md5_number(policy_id) >> 112 AS INTEGER)"
#: Rows per batch streamed out of DuckDB, and per row group of its Parquet writes (DuckDB's
#: defaults, 122,880 rows a group and five groups buffered, hold most of a 350,000-policy
#: extract before writing anything).
WRITE_ROWS = 10_000
TWO_64 = "18446744073709551616"
LOW_64 = "CAST(18446744073709551615 AS UHUGEINT)"
#: DuckDB's budget for hashing and diffing; it spills to the workspace beyond this.
DUCKDB_MEMORY = os.environ.get("DATA_MASH_SYNC_DUCKDB_MEMORY", "512MB")


def component_of(path: str) -> str:
    """``coverage_sections[].limits.aggregate`` -> ``coverage_sections``."""
    return path.split(".", 1)[0].split("[", 1)[0]


def check_columns(columns: Mapping[str, str], *, where: str) -> dict[str, str]:
    """Validate a feed's column map (source column -> canonical path)."""
    if not columns:
        raise InputError(
            "the feed maps no columns",
            where=where,
            fix="map each extract column to a canonical path "
            "(e.g. --map POLNO=policy_core.policy_id)",
        )
    known = known_paths()
    for column, path in columns.items():
        if path.removesuffix("[]") not in known:
            raise InputError(
                f"column {column!r} maps to unknown canonical path {path!r}",
                where=where,
                fix="name a policy_v1 path such as policy_core.status (see data-mash fields)",
            )
    keys = [c for c, p in columns.items() if p == POLICY_KEY]
    if len(keys) != 1:
        raise InputError(
            f"exactly one column must map to {POLICY_KEY} (found {len(keys)})",
            where=where,
            fix=f"map the extract's policy key column to {POLICY_KEY}",
        )
    return dict(columns)


def feed_dir(settings: Settings, tenant: str, feed: str) -> Path:
    return tenant_path(settings.path("sync"), tenant, feed)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(column: str) -> str:
    """A mapped column of ``row`` as text for hashing.

    \x00 for null keeps "" and NULL apart; \x1f separates columns (neither occurs in text).
    """
    return f"coalesce(CAST(row.{_q(column)} AS VARCHAR), chr(0))"


class _Layout:
    """A feed's columns grouped by canonical component, and the SQL over its extract's rows."""

    def __init__(self, columns: Mapping[str, str]) -> None:
        self.columns = dict(columns)
        self.key = next(c for c, p in columns.items() if p == POLICY_KEY)
        groups: dict[str, list[str]] = {}
        for column, path in sorted(columns.items()):
            groups.setdefault(component_of(path), []).append(column)
        self.components = groups

    def rows_sql(self, parts: list[Path]) -> str:
        """Each row with a policy id: ``policy_id``, its ``slot`` and the mapped ``row``."""
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in parts)
        wanted = ", ".join(_q(c) for c in sorted(self.columns))
        return (
            f"SELECT policy_id, {SLOT_SQL} AS slot, row FROM ("
            f"SELECT trim(CAST({_q(self.key)} AS VARCHAR)) AS policy_id, "
            f"struct_pack({wanted}) AS row "
            f"FROM read_parquet([{files}], union_by_name = true)) "
            "WHERE policy_id IS NOT NULL AND policy_id <> ''"
        )

    def folds_sql(self, rows: str) -> str:
        """Per policy and component, the order-free fold of its rows' md5 (see the module)."""
        digests = ", ".join(
            "md5_number(concat_ws(chr(31), "
            + ", ".join(_text(c) for c in cols)
            + f")) AS {_q('m_' + comp)}"
            for comp, cols in self.components.items()
        )
        folds = ", ".join(
            f"CAST(sum(CAST({_q('m_' + c)} >> 64 AS UBIGINT)) % {TWO_64} AS UBIGINT) "
            f"AS {_q('hi_' + c)}, "
            f"CAST(sum(CAST({_q('m_' + c)} & {LOW_64} AS UBIGINT)) % {TWO_64} AS UBIGINT) "
            f"AS {_q('lo_' + c)}"
            for c in self.components
        )
        return (
            f"SELECT policy_id, min(slot) AS slot, {folds} "
            f"FROM (SELECT policy_id, slot, {digests} FROM ({rows})) GROUP BY policy_id"
        )

    def diff_sql(self, new: str, old: str) -> str:
        """Inserts, deletes and updates (naming their components) between two fold sets."""
        comps = list(self.components)
        differs = [
            f"n.{_q('hi_' + c)} IS DISTINCT FROM o.{_q('hi_' + c)} "
            f"OR n.{_q('lo_' + c)} IS DISTINCT FROM o.{_q('lo_' + c)}"
            for c in comps
        ]
        changed = (
            "list_filter(["
            + ", ".join(
                f"CASE WHEN {d} THEN '{c}' END" for d, c in zip(differs, comps, strict=True)
            )
            + "], lambda x: x IS NOT NULL)"
        )
        return (
            "SELECT coalesce(n.policy_id, o.policy_id) AS policy_id, "
            "CASE WHEN o.policy_id IS NULL THEN 'insert' "
            "WHEN n.policy_id IS NULL THEN 'delete' ELSE 'update' END AS op, "
            f"CASE WHEN o.policy_id IS NULL OR n.policy_id IS NULL THEN {_list(comps)} "
            f"ELSE {changed} END AS components "
            f"FROM ({new}) n FULL OUTER JOIN ({old}) o ON n.policy_id = o.policy_id "
            f"WHERE o.policy_id IS NULL OR n.policy_id IS NULL OR "
            + " OR ".join(f"({d})" for d in differs)
        )


def _list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        return value.strip() or None
    return value


def rows_to_document(
    rows: list[dict[str, Any]] | None, columns: Mapping[str, str]
) -> dict[str, Any]:
    """A policy's extract rows as a flat canonical document (dotted paths, keyed list items).

    Scalar paths take the first non-empty value; ``x[].field`` paths become ``x[ID].field``,
    ID being the row's value of the list's item key (``coverage_id``...), so an edit of one
    coverage is a change of that coverage only.
    """
    flat: dict[str, Any] = {}
    if not rows:
        return flat
    lists: dict[str, str | None] = {}
    for path in columns.values():
        if "[]" in path:
            prefix = path.split("[]", 1)[0]
            mapped = {p for p in columns.values() if p.startswith(prefix + "[].")}
            lists[prefix] = next(
                (k for k in ITEM_KEYS if f"{prefix}[].{k}" in mapped), lists.get(prefix)
            )
    ordered = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    for row in ordered:
        for column, path in columns.items():
            value = _jsonable(row.get(column))
            if value is None:
                continue
            if "[]" not in path:
                flat.setdefault(path, value)
                continue
            prefix, _, field = path.partition("[].")
            key = lists.get(prefix)
            item = _jsonable(row.get(_column_for(columns, f"{prefix}[].{key}"))) if key else None
            if item is None:
                continue  # an item without its id cannot be told apart from the others
            flat[f"{prefix}[{item}].{field}"] = value
    return flat


def _column_for(columns: Mapping[str, str], path: str) -> str:
    return next(c for c, p in columns.items() if p == path)


class LegacyCapture:
    """Captures one feed's changes from a later extract."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        tenant: str,
        actor: str | None = None,
        batch: int = BATCH,
        after_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tenant = tenant
        self.audit = AuditLog(engine, tenant=tenant, actor=actor)
        self.batch = batch
        self._after_batch = after_batch  # tests: crash points between commits

    def _feed(self, feed: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(FEED).where(and_(FEED.c.tenant == self.tenant, FEED.c.feed == feed))
            ).first()

    def capture(
        self,
        feed: str,
        source_id: str,
        columns: Mapping[str, str] | None = None,
        *,
        baseline: bool = False,
    ) -> CaptureResult:
        """Record the changes of extract ``source_id`` against the feed's last snapshot.

        Args:
            feed: The feed's name (one per legacy system and extract kind).
            source_id: An ingested extract (``data-mash ingest``), any format.
            columns: Extract column -> canonical path; required on a feed's first capture,
                and must equal the feed's map afterwards.
            baseline: The feed's first capture only: record the extract as the starting
                snapshot without a change per policy (sync already knows these policies,
                e.g. from ``sync adopt``, or they are the agreed starting point); later
                captures report what changed since.

        Raises:
            InputError: a bad or changed column map, an extract of the wrong layout (a mapped
                column missing), a baseline for a feed that has a snapshot, or a last snapshot
                that cannot be read or rebuilt; nothing is written.
            NotFoundError: no such source.
        """
        if not feed.strip() or len(feed) > FEED_NAME_MAX:
            raise InputError(
                f"a feed needs a name of 1 to {FEED_NAME_MAX} characters, got {feed!r}",
                where="--feed",
                fix="name the legacy system and extract kind, e.g. --feed LIFE-PAS",
            )
        row = self._feed(feed)
        where = f"feed {feed}"
        if row is None and columns is None:
            raise InputError(
                "a new feed needs its column map",
                where=where,
                fix="pass --map COLUMN=canonical.path for each extract column",
            )
        layout_map = check_columns(columns or row.columns, where=where)
        if row is not None and columns is not None and dict(columns) != row.columns:
            raise InputError(
                "the column map differs from the feed's",
                where=where,
                fix="capture with the feed's own map (omit --map), or start a new feed",
            )
        source = SourceRegistry(self.engine, tenant=self.tenant).get(source_id)
        _check_layout(source, layout_map)
        if row is not None and row.source_id == source_id:
            return CaptureResult(
                feed=feed, source_id=source_id, snapshot=row.snapshot_no, unchanged=True
            )
        if baseline and row is not None:
            raise InputError(
                f"a starting snapshot is for a feed's first capture; {feed} is at snapshot "
                f"{row.snapshot_no} ({row.source_id})",
                where=where,
                fix="capture without --baseline to record what changed since, or start a new feed",
            )
        number = (row.snapshot_no if row else 0) + 1
        layout = _Layout(layout_map)
        folder = feed_dir(self.settings, self.tenant, feed)
        folder.mkdir(parents=True, exist_ok=True)
        old_source = (
            SourceRegistry(self.engine, tenant=self.tenant).get(row.source_id)
            if row is not None and row.source_id
            else None
        )
        old = Path(row.snapshot_path) if row is not None and row.snapshot_path else None
        if old is not None and not old.exists():
            raise InputError(
                "the feed's last snapshot is missing",
                where=str(old),
                fix="restore the workspace's sync folder, or start a new feed",
            )
        payload: dict[str, Any] = {"source_id": source_id, "snapshot": number}
        payload |= {"columns": layout_map} | ({"baseline": True} if baseline else {})
        with self.audit.operation(
            NAMESPACE,
            "capture",
            target=feed,
            payload=payload,
            idempotency_key=f"sync:capture:{self.tenant}:{feed}:{number}:{source_id}",
        ) as op:
            if op.completed and op.outcome is not None:
                return CaptureResult(**op.outcome)
            counts = {"insert": 0, "update": 0, "delete": 0}
            snapshot = folder / f"snapshot-{number:06d}-{source_id}"
            work = folder / f"work-{number:06d}"
            buckets = _bucket_count(source, old_source)
            try:
                with _duck(folder) as con:
                    if old is not None and old.is_file():
                        old = self._rebuild(con, layout, folder, row, old_source, work)
                    delta = _Delta(con, layout, work, buckets)
                    delta.partition("after", layout.rows_sql(_parts(source)))
                    delta.snapshot(snapshot, old, diff=not baseline)
                    if old_source is not None and not baseline:
                        delta.before(layout.rows_sql(_parts(old_source)))
                    clock, marks = unsaved_clock(
                        self.engine, tenant=self.tenant, node=f"legacy:{feed}"[:64]
                    )
                    changes = iter(()) if baseline else delta.changes(self.batch)
                    for batch_no, batch in enumerate(changes):
                        keys = [f"{feed}:{number}:{source_id}:{c['policy_id']}" for c in batch]
                        self._record(
                            op.entry_id,
                            feed,
                            number,
                            source_id,
                            batch_no,
                            batch,
                            keys,
                            clock,
                            marks,
                        )
                        for change in batch:
                            counts[change["op"]] += 1
                        if self._after_batch is not None:
                            self._after_batch(batch_no)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            result = CaptureResult(
                feed=feed,
                source_id=source_id,
                snapshot=number,
                inserts=counts["insert"],
                updates=counts["update"],
                deletes=counts["delete"],
                baseline=baseline,
            )
            result.receipts = self._receipts(feed, op.entry_id)
            op.outcome = result.model_dump(mode="json")
            with op.atomic() as conn:
                _advance(
                    conn, self.tenant, feed, layout_map, number, source_id, snapshot, op.entry_id
                )
        return result

    def _rebuild(
        self,
        con: duckdb.DuckDBPyConnection,
        layout: _Layout,
        folder: Path,
        row: Any,
        old_source: SourceInfo | None,
        work: Path,
    ) -> Path:
        """The last snapshot in today's format, rebuilt from its extract's staged records.

        Snapshots of the first format (one file of ordered per-policy md5 folds) cannot be
        compared with order-free folds; the extract they were taken from can be folded again.
        """
        parts = sorted(old_source.records_path.glob("part-*.parquet")) if old_source else []
        if not parts:
            raise InputError(
                f"the feed's last snapshot ({row.snapshot_path}) is in an older format, and "
                f"the staged records of its extract {row.source_id} are gone, so it cannot "
                "be rebuilt",
                where=f"feed {row.feed}",
                fix="ingest that extract again (data-mash ingest; then retry), or start a new "
                "feed whose first capture takes the current extract with --baseline",
            )
        target = folder / f"snapshot-{row.snapshot_no:06d}-{row.source_id}"
        delta = _Delta(con, layout, work, _bucket_count(old_source))
        delta.partition("after", layout.rows_sql(parts))
        delta.snapshot(target, None, diff=False)
        return target

    def _receipts(self, feed: str, parent: int) -> int:
        """Record that the legacy side loaded sync's corrections before this extract.

        A correction the extract does not show was rejected by the loader (the policy held
        another value: that edit is in the extract) or changed again before the extract (an
        edit the snapshot diff cannot see). Either way the extract's value is the legacy
        side's latest word: a receipt tells ``sync run`` to stop waiting for the correction
        to come back and to merge the legacy value as a change made after it.
        """
        folder = legacy_drop_dir(self.settings, self.tenant)
        files = sorted(folder.glob("corrections-*.jsonl.loaded")) if folder.is_dir() else []
        recorded = 0
        clock, marks = unsaved_clock(self.engine, tenant=self.tenant, node=f"legacy:{feed}"[:64])
        for file in files:
            rows = []
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines()):
                item = json.loads(line)
                rows.append(
                    {
                        "tenant": self.tenant,
                        "change_key": f"receipt:{file.name}:{number}"[:256],
                        "origin": "legacy",
                        "policy_id": item["policy_id"],
                        "op": "receipt",
                        "components": sorted((item.get("patch") or {}).get("set") or {}),
                        "delta": {},
                        "hlc": str(clock.now()),
                        "source": f"{feed}:{file.name}"[:256],
                        "state": ChangeState.PENDING.value,
                        "created_at": utcnow(),
                    }
                )
            with self.audit.operation(
                NAMESPACE,
                "capture.receipt",
                target=feed,
                payload={"file": file.name, "corrections": len(rows)},
                policy_ids=sorted({r["policy_id"] for r in rows}),
                parent_id=parent,
            ) as op:
                for row in rows:
                    row["entry_id"] = op.entry_id
                op.outcome = {"recorded": len(rows)}
                with op.atomic() as conn:
                    insert_ignoring_duplicates(conn, rows)
                    marks.save(clock.last, conn)
            file.replace(file.with_name(file.name.removesuffix(".loaded") + ".receipted"))
            recorded += len(rows)
        return recorded

    def _record(
        self,
        parent: int,
        feed: str,
        number: int,
        source_id: str,
        batch_no: int,
        changes: list[dict[str, Any]],
        keys: list[str],
        clock: Any,
        marks: Any,
    ) -> None:
        ids = [c["policy_id"] for c in changes]
        with self.audit.operation(
            NAMESPACE,
            "capture.batch",
            target=feed,
            payload={"snapshot": number, "batch": batch_no, "changes": len(changes)},
            idempotency_key=f"sync:capture:{self.tenant}:{feed}:{number}:{source_id}:{batch_no}",
            policy_ids=ids,
            parent_id=parent,
        ) as op:
            if op.completed:
                return
            now = utcnow()
            rows = [
                {
                    "tenant": self.tenant,
                    "change_key": key[:256],
                    "origin": "legacy",
                    "policy_id": change["policy_id"],
                    "op": change["op"],
                    "components": change["components"],
                    "delta": change["delta"],
                    "hlc": str(clock.now()),
                    "source": f"{feed}#{number}:{source_id}"[:256],
                    "state": ChangeState.PENDING.value,
                    "entry_id": op.entry_id,
                    "created_at": now,
                }
                for change, key in zip(changes, keys, strict=True)
            ]
            op.outcome = {"recorded": len(rows)}
            with op.atomic() as conn:
                insert_ignoring_duplicates(conn, rows)
                marks.save(clock.last, conn)


def legacy_drop_dir(settings: Settings, tenant: str) -> Path:
    """Where corrections for the legacy side are dropped (its batch loader picks them up).

    The loader renames each file it has applied to ``*.jsonl.loaded`` before the legacy
    system's next extract is taken; the capture of that extract turns the renamed files into
    receipts (see :meth:`LegacyCapture._receipts`).
    """
    return tenant_path(settings.path("sync"), tenant, "_legacy-out")


#: sync_change's columns a change row gives, with their PostgreSQL array types (default text).
_CHANGE_COLUMNS = (
    "tenant",
    "change_key",
    "origin",
    "policy_id",
    "op",
    "components",
    "delta",
    "hlc",
    "source",
    "state",
    "entry_id",
    "created_at",
)
_PG_TYPES = {
    "components": "json",
    "delta": "json",
    "entry_id": "bigint",
    "created_at": "timestamptz",
}


def insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert change rows; a change key already there (a redelivery) is skipped.

    On PostgreSQL one statement over column arrays (``unnest``): an executemany is one INSERT
    per row on the server, and the relay's lag under load was mostly those round trips' work.
    """
    if not rows:
        return 0
    if conn.dialect.name != "postgresql":
        stmt = sqlite.insert(CHANGE).on_conflict_do_nothing(index_elements=["tenant", "change_key"])
        return int(conn.execute(stmt, rows).rowcount or 0)
    arrays = tuple(
        [json_text(r[c]) for r in rows] if _PG_TYPES.get(c) == "json" else [r.get(c) for r in rows]
        for c in _CHANGE_COLUMNS
    )
    names = ", ".join(_CHANGE_COLUMNS)
    casts = ", ".join(f"%s::{_PG_TYPES.get(c, 'text')}[]" for c in _CHANGE_COLUMNS)
    done = conn.exec_driver_sql(
        f"INSERT INTO sync_change ({names}) SELECT * FROM unnest({casts}) "
        "ON CONFLICT (tenant, change_key) DO NOTHING",
        arrays,
    )
    return int(done.rowcount or 0)


def _check_layout(source: SourceInfo, columns: Mapping[str, str]) -> None:
    present = {str(c.get("name")) for c in source.columns}
    missing = sorted(set(columns) - present)
    if missing:
        raise InputError(
            f"extract of the wrong layout: it lacks the feed's column(s) {', '.join(missing)}",
            where=f"{source.path} (source {source.source_id})",
            fix="ingest the extract with the feed's layout (same copybook or header), "
            "or start a new feed for the new layout",
        )


class _duck:
    """A DuckDB connection with a memory limit that spills into the feed's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.con = duckdb.connect()
        spill = self.folder / "duckdb-tmp"
        self.con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
        self.con.execute(f"SET temp_directory = '{spill}'")
        self.con.execute("SET threads = 2")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET write_buffer_row_group_count = 1")
        self.con.execute("SET allocator_flush_threshold = '32MB'")  # freed memory goes back
        self.con.execute("SET enable_progress_bar = false")  # it would write into stdout
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def _parts(source: SourceInfo) -> list[Path]:
    parts = sorted(source.records_path.glob("part-*.parquet"))
    if not parts:
        raise NotFoundError(
            f"source {source.source_id} has no staged records",
            where=str(source.records_path),
            fix=f"ingest {source.path} again",
        )
    return parts


def _bucket_count(*sources: SourceInfo | None) -> int:
    """Buckets of at most BUCKET_ROWS policies (rows bound policies), as reconciliation's."""
    rows = max((s.records for s in sources if s is not None), default=0)
    return max(1, min(MAX_BUCKETS, -(-rows // BUCKET_ROWS)))


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class _Delta:
    """One capture's comparison, a bucket of policy slots at a time (see the module).

    Each extract read is one pass that writes its rows into one Parquet folder per bucket
    (``work/<name>/bucket=B``); a bucket's policies are folded, compared with the same slots of
    the last snapshot and written as that bucket's part of the new one, so DuckDB holds one
    bucket of policies at a time whatever the extract's size. The differing policies (``diff``,
    one small row each) are kept until their changes are read, bucket by bucket.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, layout: _Layout, work: Path, buckets: int
    ) -> None:
        self.con, self.layout, self.work, self.buckets = con, layout, work, buckets
        shutil.rmtree(work, ignore_errors=True)  # an earlier attempt's: rebuilt, same result
        work.mkdir(parents=True)
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE diff "
            "(bucket INTEGER, policy_id VARCHAR, op VARCHAR, components VARCHAR[])"
        )
        self.has_before = False
        self.schemas: dict[str, pa.Schema] = {}

    def slots(self, bucket: int) -> tuple[int, int]:
        """The slots ``[low, high)`` of a bucket (a contiguous range: snapshots are in order)."""
        return -(-bucket * SLOTS // self.buckets), -(-(bucket + 1) * SLOTS // self.buckets)

    def partition(self, name: str, rows: str) -> None:
        """One pass over an extract's rows, into one Arrow file per bucket.

        The rows stream out of DuckDB a batch at a time and each batch's rows are appended to
        their bucket's file (as reconciliation regroups its spilled keys): an Arrow file
        writer buffers nothing, where a Parquet one holds a row group per open file.
        """
        folder = self.work / name
        folder.mkdir()
        bucket_of = f"CAST(slot * {self.buckets} // {SLOTS} AS INTEGER)"
        query = f"SELECT {bucket_of} AS bucket, * FROM ({rows})"
        reader = self.con.sql(query).to_arrow_reader(WRITE_ROWS)
        self.schemas[name] = reader.schema
        writers: dict[int, Any] = {}
        try:
            for batch in reader:
                slots = batch.column(0).to_numpy()
                for bucket in np.unique(slots).tolist():
                    if bucket not in writers:
                        path = str(folder / f"bucket-{bucket:04d}.arrow")
                        writers[bucket] = pa.ipc.new_file(path, reader.schema)
                    writers[bucket].write_batch(batch.filter(pa.array(slots == bucket)))
        finally:
            for writer in writers.values():
                writer.close()

    def rows(self, name: str, bucket: int) -> str:
        """A bucket's rows of a partitioned extract, as a view named ``<name>_rows``."""
        path = self.work / name / f"bucket-{bucket:04d}.arrow"
        if path.is_file():
            with pa.OSFile(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
        else:
            table = self.schemas[name].empty_table()
        self.con.register(f"{name}_rows", table)
        return f"SELECT * FROM {name}_rows"

    def snapshot(self, target: Path, old: Path | None, *, diff: bool) -> None:
        """Fold the partitioned extract (``after``) into ``target``; with ``diff``, compare too.

        ``target`` is a folder of one Parquet file per bucket, each in policy id order, written
        whole under a ``.partial`` name first.
        """
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        for bucket in range(self.buckets):
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE folds AS "
                + self.layout.folds_sql(self.rows("after", bucket))
            )
            part = partial / f"bucket-{bucket:04d}.parquet"
            self.con.execute(
                f"COPY (SELECT * FROM folds ORDER BY policy_id) TO {_sql_path(part)} "
                f"(FORMAT parquet, ROW_GROUP_SIZE {WRITE_ROWS})"
            )
            if not diff:
                continue
            low, high = self.slots(bucket)
            before = (
                f"SELECT * FROM read_parquet({_sql_path(old / '*.parquet')}) "
                f"WHERE slot >= {low} AND slot < {high}"
                if old is not None
                else "SELECT * FROM folds LIMIT 0"
            )
            self.con.execute(
                f"INSERT INTO diff SELECT {bucket}, * FROM "
                f"({self.layout.diff_sql('SELECT * FROM folds', before)})"
            )
        shutil.rmtree(target, ignore_errors=True)
        partial.replace(target)

    def before(self, rows: str) -> None:
        """The previous extract's rows of the updated and deleted policies, by bucket."""
        self.has_before = True
        self.partition(
            "before",
            f"SELECT o.* FROM ({rows}) o SEMI JOIN "
            "(SELECT policy_id FROM diff WHERE op <> 'insert') d USING (policy_id)",
        )

    def changes(self, batch: int) -> Iterator[list[dict[str, Any]]]:
        """The diff, bucket by bucket in policy id order, ``batch`` policies at a time."""
        counts = dict(
            self.con.execute("SELECT bucket, count(*) FROM diff GROUP BY bucket").fetchall()
        )
        columns = self.layout.columns
        pending: list[dict[str, Any]] = []
        for bucket in range(self.buckets):
            if not counts.get(bucket):
                continue
            ids = f"SELECT policy_id FROM diff WHERE bucket = {bucket}"
            query = (
                "SELECT d.policy_id, d.op, d.components, n.rows AS after, "
                + ("o.rows AS before" if self.has_before else "NULL AS before")
                + f" FROM (SELECT * FROM diff WHERE bucket = {bucket}) d LEFT JOIN "
                f"(SELECT policy_id, list(row) AS rows FROM ({self.rows('after', bucket)}) "
                f"WHERE policy_id IN ({ids}) GROUP BY policy_id) n USING (policy_id)"
            )
            if self.has_before:
                query += (
                    " LEFT JOIN (SELECT policy_id, list(row) AS rows FROM "
                    f"({self.rows('before', bucket)}) GROUP BY policy_id) o USING (policy_id)"
                )
            reader = self.con.sql(query + " ORDER BY d.policy_id").to_arrow_reader(batch)
            for record_batch in reader:
                for item in record_batch.to_pylist():
                    before = rows_to_document(item["before"], columns)
                    after = rows_to_document(item["after"], columns)
                    pending.append(
                        {
                            "policy_id": item["policy_id"],
                            "op": item["op"],
                            "components": list(item["components"] or []),
                            "delta": after if item["op"] == "insert" else delta_of(before, after),
                        }
                    )
                    if len(pending) >= batch:
                        yield pending
                        pending = []
        if pending:
            yield pending


def _advance(
    conn: Connection,
    tenant: str,
    feed: str,
    columns: Mapping[str, str],
    number: int,
    source_id: str,
    snapshot: Path,
    entry_id: int,
) -> None:
    values = {
        "columns": dict(columns),
        "snapshot_no": number,
        "source_id": source_id,
        "snapshot_path": str(snapshot),
        "entry_id": entry_id,
        "captured_at": utcnow(),
    }
    done = conn.execute(
        update(FEED)
        .where(and_(FEED.c.tenant == tenant, FEED.c.feed == feed, FEED.c.snapshot_no == number - 1))
        .values(**values)
    )
    if done.rowcount == 0:
        if number != 1:
            raise InputError(
                f"feed {feed} moved on meanwhile (another capture ran)", fix="run it again"
            )
        conn.execute(FEED.insert().values(tenant=tenant, feed=feed, **values))
