"""Change capture from the legacy side: a later extract diffed against the last synced snapshot.

Mainframe extracts carry no reliable updated-at, so changes are found by content: every row of
an extract is hashed per canonical component (the columns a feed maps into ``policy_core``,
``coverage_sections``...), the row hashes are folded per policy, and the policy's component
hashes are compared with those of the previous snapshot of the same feed. A policy that appears
is an insert, one that disappears a delete, one whose component hashes differ an update naming
the components. Hashing, folding and the comparison run in DuckDB over the staged Parquet (any
format the ingest reads), with a memory limit and spilling, so memory does not grow with the
extract; only the changed policies' rows reach Python, a batch at a time.

Durability follows Singer's rule (never save state before the data is durable): each batch of
changes is committed under its own audit entry, with ``INSERT .. ON CONFLICT DO NOTHING`` on a
key made of feed, snapshot number, extract and policy; the feed's bookmark (snapshot number,
extract, snapshot file) moves only afterwards, in the commit of the capture's audit outcome. A
process killed in between re-runs the same capture: the same keys, so nothing is lost and
nothing is recorded twice.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import InputError, NotFoundError
from core.ids import tenant_path
from core.settings import Settings
from core.store.models import SyncChangeRow, SyncFeedRow, table_of, utcnow
from tools.audit import AuditLog
from tools.content.sources import SourceInfo, SourceRegistry
from tools.sync.clock import unsaved_clock
from tools.sync.contracts import CaptureResult, ChangeState
from tools.sync.paths import ITEM_KEYS, delta_of
from tools.sync.policy import known_paths

FEED = table_of(SyncFeedRow)
CHANGE = table_of(SyncChangeRow)
NAMESPACE = "sync"
POLICY_KEY = "policy_core.policy_id"
BATCH = 2_000
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
    # \x00 for null keeps "" and NULL apart; \x1f separates columns (neither occurs in text).
    return f"coalesce(CAST({_q(column)} AS VARCHAR), chr(0))"


class _Layout:
    """A feed's columns grouped by canonical component."""

    def __init__(self, columns: Mapping[str, str]) -> None:
        self.columns = dict(columns)
        self.key = next(c for c, p in columns.items() if p == POLICY_KEY)
        groups: dict[str, list[str]] = {}
        for column, path in sorted(columns.items()):
            groups.setdefault(component_of(path), []).append(column)
        self.components = groups

    def rows_sql(self, parts: list[Path]) -> str:
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in parts)
        hashes = ", ".join(
            f"md5(concat_ws(chr(31), {', '.join(_text(c) for c in cols)})) AS {_q('h_' + comp)}"
            for comp, cols in self.components.items()
        )
        wanted = ", ".join(_q(c) for c in sorted(self.columns))
        return (
            f"SELECT trim(CAST({_q(self.key)} AS VARCHAR)) AS policy_id, {hashes}, "
            f"struct_pack({wanted}) AS row "
            f"FROM read_parquet([{files}], union_by_name = true)"
        )

    def snapshot_sql(self, rows: str) -> str:
        folds = ", ".join(
            f"md5(string_agg({_q('h_' + c)}, ',' ORDER BY {_q('h_' + c)})) AS {_q('h_' + c)}"
            for c in self.components
        )
        return (
            f"SELECT policy_id, {folds} FROM ({rows}) "
            "WHERE policy_id IS NOT NULL AND policy_id <> '' GROUP BY policy_id"
        )

    def diff_sql(self, new: str, old: str | None) -> str:
        comps = list(self.components)
        if old is None:
            return (
                f"SELECT policy_id, 'insert' AS op, {_list(comps)} AS components "
                f"FROM read_parquet('{new}')"
            )
        differs = [f"n.{_q('h_' + c)} IS DISTINCT FROM o.{_q('h_' + c)}" for c in comps]
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
            f"FROM read_parquet('{new}') n FULL OUTER JOIN read_parquet('{old}') o "
            "ON n.policy_id = o.policy_id "
            f"WHERE o.policy_id IS NULL OR n.policy_id IS NULL OR {' OR '.join(differs)}"
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
        self, feed: str, source_id: str, columns: Mapping[str, str] | None = None
    ) -> CaptureResult:
        """Record the changes of extract ``source_id`` against the feed's last snapshot.

        Args:
            feed: The feed's name (one per legacy system and extract kind).
            source_id: An ingested extract (``data-mash ingest``), any format.
            columns: Extract column -> canonical path; required on a feed's first capture,
                and must equal the feed's map afterwards.

        Raises:
            InputError: a bad or changed column map, or an extract of the wrong layout
                (a mapped column missing); nothing is written.
            NotFoundError: no such source.
        """
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
        number = (row.snapshot_no if row else 0) + 1
        layout = _Layout(layout_map)
        folder = feed_dir(self.settings, self.tenant, feed)
        folder.mkdir(parents=True, exist_ok=True)
        old_source = (
            SourceRegistry(self.engine, tenant=self.tenant).get(row.source_id)
            if row is not None and row.source_id
            else None
        )
        with self.audit.operation(
            NAMESPACE,
            "capture",
            target=feed,
            payload={"source_id": source_id, "snapshot": number, "columns": layout_map},
            idempotency_key=f"sync:capture:{self.tenant}:{feed}:{number}:{source_id}",
        ) as op:
            if op.completed and op.outcome is not None:
                return CaptureResult(**op.outcome)
            counts = {"insert": 0, "update": 0, "delete": 0}
            snapshot = folder / f"snapshot-{number:06d}-{source_id}.parquet"
            with _duck(folder) as con:
                _write_snapshot(con, layout, source, snapshot)
                old = Path(row.snapshot_path) if row is not None and row.snapshot_path else None
                if old is not None and not old.is_file():
                    raise InputError(
                        "the feed's last snapshot file is missing",
                        where=str(old),
                        fix="restore the workspace's sync folder, or start a new feed",
                    )
                clock, marks = unsaved_clock(
                    self.engine, tenant=self.tenant, node=f"legacy:{feed}"[:64]
                )
                for batch_no, changes in enumerate(
                    _changes(con, layout, source, old_source, snapshot, old, self.batch)
                ):
                    keys = [f"{feed}:{number}:{source_id}:{c['policy_id']}" for c in changes]
                    self._record(
                        op.entry_id, feed, number, source_id, batch_no, changes, keys, clock, marks
                    )
                    for change in changes:
                        counts[change["op"]] += 1
                    if self._after_batch is not None:
                        self._after_batch(batch_no)
            result = CaptureResult(
                feed=feed,
                source_id=source_id,
                snapshot=number,
                inserts=counts["insert"],
                updates=counts["update"],
                deletes=counts["delete"],
            )
            result.receipts = self._receipts(feed, op.entry_id)
            op.outcome = result.model_dump(mode="json")
            with op.atomic() as conn:
                _advance(
                    conn, self.tenant, feed, layout_map, number, source_id, snapshot, op.entry_id
                )
        return result

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


def insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert change rows; a change key already there (a redelivery) is skipped."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(CHANGE).on_conflict_do_nothing(index_elements=["tenant", "change_key"])
    return int(conn.execute(stmt, rows).rowcount or 0)


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


def _write_snapshot(
    con: duckdb.DuckDBPyConnection, layout: _Layout, source: SourceInfo, target: Path
) -> None:
    if target.is_file():
        return  # built by an earlier attempt of this very capture (renamed only when whole)
    partial = target.with_suffix(".partial")
    rows = layout.rows_sql(_parts(source))
    con.execute(
        f"COPY ({layout.snapshot_sql(rows)} ORDER BY policy_id) TO '{partial}' (FORMAT parquet)"
    )
    partial.replace(target)


def _changes(
    con: duckdb.DuckDBPyConnection,
    layout: _Layout,
    source: SourceInfo,
    old_source: SourceInfo | None,
    snapshot: Path,
    old: Path | None,
    batch: int,
) -> Iterator[list[dict[str, Any]]]:
    """The diff, in policy id order, ``batch`` policies at a time, with each one's delta."""
    diff = layout.diff_sql(str(snapshot), str(old) if old else None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE diff AS {diff}")
    new_rows = layout.rows_sql(_parts(source))
    joined = (
        "SELECT d.policy_id, d.op, d.components, n.rows AS after"
        + (", o.rows AS before" if old_source is not None else ", NULL AS before")
        + f" FROM diff d LEFT JOIN (SELECT policy_id, list(row) AS rows FROM ({new_rows}) "
        "WHERE policy_id IN (SELECT policy_id FROM diff) GROUP BY policy_id) n USING (policy_id)"
    )
    if old_source is not None:
        old_rows = layout.rows_sql(_parts(old_source))
        joined += (
            f" LEFT JOIN (SELECT policy_id, list(row) AS rows FROM ({old_rows}) "
            "WHERE policy_id IN (SELECT policy_id FROM diff) GROUP BY policy_id) o "
            "USING (policy_id)"
        )
    reader = con.sql(joined + " ORDER BY d.policy_id").to_arrow_reader(batch)
    pending: list[dict[str, Any]] = []
    for record_batch in reader:
        for item in record_batch.to_pylist():
            before = rows_to_document(item["before"], layout.columns)
            after = rows_to_document(item["after"], layout.columns)
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
