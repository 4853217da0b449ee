"""Ingest: decode one legacy file into a staged source, write-ahead audited, idempotent.

The same file (same bytes) with the same format and options always gets the same ``source_id``;
ingesting it again returns the existing source without decoding anything. Records that cannot be
decoded go to the source's quarantine with their position and reason, and the counts say so.
Nothing is half-written: the staging folder is built under a temporary name and renamed into
place only when complete, and the source row is committed with the audit outcome in one commit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, and_, delete

from core.errors import InputError
from core.executors import Executor, LocalExecutor, check_store_for, make_executor
from core.file_lock import file_lock, is_locked
from core.ids import check_tenant, tenant_path
from core.metrics import QUARANTINED, count, observe_batch, reason_label
from core.settings import Settings
from core.store.leases import hold_lease
from core.store.models import utcnow
from tools.audit import AuditLog
from tools.content import indexing
from tools.content.contracts import IngestResult, QuarantinedRecord
from tools.content.profiling import load_profile, profile_staged
from tools.content.readers.base import DEFAULT_BATCH_ROWS
from tools.content.readers.registry import reader_for
from tools.content.source_config import SourceEntry
from tools.content.sources import SOURCE, SourceInfo, SourceRegistry
from tools.content.staging import PartWriter, QuarantineWriter, bad_table

Progress = Callable[[int, int], None]  # (done, total) in the reader's progress_unit
Status = Callable[[str], None]  # what the ingest is doing when there is nothing to count


def progress_unit(fmt: str) -> str:
    """What ``progress`` counts for a format: ``bytes`` (the default) or ``records``."""

    return str(getattr(reader_for(fmt), "progress_unit", "bytes"))


NAMESPACE = "content"
NAME_MAX, SYSTEM_MAX = 256, 128  # the widths of source.name and source.system
INDEXED_MARKER = "indexed"  # written in the staged folder once its columns are indexed


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _canonical_options(options: Mapping[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, default=str, separators=(",", ":"))


def source_id_for(tenant: str, sha: str, fmt: str, options: Mapping[str, Any]) -> str:
    key = f"{tenant}|{sha}|{fmt}|{_canonical_options(options)}"
    return "src_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _check_file(path: Path) -> Path:
    if not path.exists():
        raise InputError("file not found", where=str(path), fix="check the path")
    if not path.is_file():
        raise InputError("is not a file", where=str(path), fix="give the path of one file")
    if path.stat().st_size == 0:
        raise InputError(
            "is empty (0 bytes)", where=str(path), fix="check the export that produced it"
        )
    return path.resolve()


def ingest_file(
    engine: Engine,
    settings: Settings,
    path: Path,
    *,
    fmt: str,
    options: Mapping[str, Any] | None = None,
    name: str | None = None,
    system: str | None = None,
    tenant: str | None = None,
    progress: Progress | None = None,
    status: Status | None = None,
    executor: Executor | None = None,
    index: bool = True,
) -> IngestResult:
    """Decode ``path`` with the ``fmt`` reader and stage it as a source (see module docstring).

    With ``index`` (the default) its columns are embedded for semantic search; without, it is
    staged and profiled only (a sync feed's extract, read through the feed's column map, needs
    no index and no embedding model): an ingest of the same file with ``index`` indexes it.

    Splittable files are decoded by record range, and every source is profiled by row range,
    on ``executor`` (default: the one the settings name, :mod:`core.executors`).

    ``progress(done, total)`` counts in :func:`progress_unit` and ends at ``total``; ``status``
    names the steps that have nothing to count (profiling, loading the embedding model).

    Raises:
        InputError: missing/empty file, unknown format, bad options, or a file-level decode error.
        ConfigError: a remote executor (DATA_MASH_RAY_ADDRESS) with a SQLite store.
    """

    tenant = check_tenant(tenant or settings.tenant)
    _check_label("name", name, NAME_MAX)
    _check_label("system", system, SYSTEM_MAX)
    options = dict(options or {})
    path = _check_file(Path(path))
    reader_cls = reader_for(fmt)
    sha = file_sha256(path)
    source_id = source_id_for(tenant, sha, fmt, options)
    registry = SourceRegistry(engine, tenant=tenant)
    existing = registry.find(source_id)
    if existing is not None and _is_staged(existing) and (_is_indexed(existing) or not index):
        return _result(existing, reused=True)

    reader = reader_cls(path, options)  # validates options before anything is written
    # Where ranges run; refuses a remote executor with a SQLite store before any work.
    own = executor is None
    executor = make_executor(settings) if executor is None else executor
    check_store_for(executor, settings.store_url)
    try:
        return _ingest(
            engine, settings, reader, path, fmt, options, name, system, tenant, source_id, sha,
            executor, progress, status, index,
        )  # fmt: skip
    finally:
        if own:
            executor.close()


def ingest_entry(
    engine: Engine, settings: Settings, entry: SourceEntry, **kwargs: Any
) -> IngestResult:
    """Ingest one source of a source config (``sources.yaml``) as :func:`ingest_file` does."""

    return ingest_file(
        engine,
        settings,
        entry.path,
        fmt=entry.format,
        options=entry.options,
        name=entry.name,
        system=entry.system,
        **kwargs,
    )


def _ingest(
    engine: Engine,
    settings: Settings,
    reader: Any,
    path: Path,
    fmt: str,
    options: dict[str, Any],
    name: str | None,
    system: str | None,
    tenant: str,
    source_id: str,
    sha: str,
    executor: Executor,
    progress: Progress | None,
    status: Status | None,
    index: bool = True,
) -> IngestResult:
    registry = SourceRegistry(engine, tenant=tenant)
    root = tenant_path(settings.path("staging"), tenant)
    # One ingest of a given source at a time, across processes: a second identical command
    # waits here, then finds the source complete and reuses it. The kernel drops the lock of a
    # killed process, so whoever holds it may remove any partial folder left for this source.
    # The store lease excludes an ingest of the same source from another host sharing the store
    # (the file lock only sees this workspace's processes): that one is refused naming the holder.
    with (
        file_lock(ingest_lock_path(settings, tenant, source_id)),
        hold_lease(engine, tenant, f"ingest:{source_id}", what=f"ingest of {path.name}"),
    ):
        _remove_stale_partials(settings, root, tenant, held=source_id)
        existing = registry.find(source_id)
        if existing is not None and not _is_staged(existing):
            delete_source(
                engine,
                settings,
                source_id,
                tenant=tenant,
                reason="its staged folder is missing or incomplete; staging it again",
            )
            existing = None
        if existing is not None:
            if index:
                _index(settings, existing)  # a crash while indexing: finish it now
            return _result(existing, reused=True)
        return _stage_source(
            engine,
            settings,
            reader,
            path,
            root=root,
            tenant=tenant,
            source_id=source_id,
            name=name or path.stem,
            payload={
                "path": str(path),
                "format": fmt,
                "options": options,
                "sha256": sha,
                "name": name or path.name,
                "system": system,
            },
            progress=progress,
            status=status,
            executor=executor,
            index=index,
        )


def _check_label(what: str, value: str | None, limit: int) -> None:
    """Refuse a source name or system longer than its column (PostgreSQL would refuse it late)."""
    if value is not None and len(value) > limit:
        raise InputError(
            f"the source {what} is {len(value):,} characters long (at most {limit})",
            where=f"--{what}",
            fix=f"give a shorter {what}",
        )


def ingest_lock_path(settings: Settings, tenant: str, source_id: str) -> Path:
    """The lock file held while ``source_id`` is being staged (outside the staging folder)."""
    return tenant_path(settings.path("locks", "ingest"), tenant, f"{source_id}.lock")


def _remove_stale_partials(settings: Settings, root: Path, tenant: str, *, held: str) -> None:
    """Remove partial staging folders whose ingest died (its lock is free).

    A live ingest holds its source's lock for as long as its partial folder exists, so a partial
    folder without a held lock belongs to a killed process and nothing else will ever remove it.
    ``held`` is the source whose lock the caller holds: its partials are all stale.
    """
    if not root.is_dir():
        return
    for folder in root.glob(".src_*.partial-*"):
        source_id = folder.name[1:].split(".partial-", 1)[0]
        if source_id == held or not is_locked(ingest_lock_path(settings, tenant, source_id)):
            shutil.rmtree(folder, ignore_errors=True)


def _is_staged(info: SourceInfo) -> bool:
    """True when the source's staged records and profile can be read back."""
    return info.records_path.is_dir() and info.profile_path.is_file()


def _is_indexed(info: SourceInfo) -> bool:
    return (Path(info.staging_dir) / INDEXED_MARKER).is_file()


def _stage_source(
    engine: Engine,
    settings: Settings,
    reader: Any,
    path: Path,
    *,
    root: Path,
    tenant: str,
    source_id: str,
    name: str,
    payload: dict[str, Any],
    progress: Progress | None,
    status: Status | None = None,
    executor: Executor | None = None,
    index: bool = True,
) -> IngestResult:
    """Decode, profile and register a source; the caller holds the source's ingest lock."""
    registry = SourceRegistry(engine, tenant=tenant)
    final = root / source_id
    partial = root / f".{source_id}.partial-{uuid.uuid4().hex[:8]}"
    audit = AuditLog(engine, tenant=tenant)
    with audit.operation(
        NAMESPACE,
        "ingest",
        target=source_id,
        payload=payload,
        idempotency_key=f"ingest:{source_id}",
    ) as op:
        if op.completed:
            return _result(registry.get(source_id), reused=True)
        if index:
            indexing.prepare_index(settings)  # the model loads while the file decodes
        try:
            records, bad, columns, sample = _stage(
                reader,
                partial,
                path,
                progress,
                batch_rows=settings.batch_size,
                executor=executor,
                task=DecodeRange(payload["format"], path, payload["options"], partial),
            )
            if records == 0 and bad == 0:
                raise InputError(
                    "contains no records",
                    where=str(path),
                    fix="check the format and options (header, record element...)",
                )
            if status is not None:
                status("profiling")
            profile_summary = _profile(partial, executor)
            if final.exists():  # left by a crash after the rename but before the commit
                shutil.rmtree(final)
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        row = {
            "tenant": tenant,
            "source_id": source_id,
            "name": name,
            "system": payload["system"],
            "path": str(path),
            "format": payload["format"],
            "options": payload["options"],
            "content_sha256": payload["sha256"],
            "size_bytes": path.stat().st_size,
            "records": records,
            "bad_records": bad,
            "columns": columns,
            "staging_dir": str(final.resolve()),
            "layout_fingerprint": profile_summary.get("layout_fingerprint"),
            "quality_score": profile_summary.get("quality_score"),
            "entry_id": op.entry_id,
            "created_at": utcnow(),
        }
        op.outcome = {"source_id": source_id, "records": records, "bad_records": bad}
        try:
            with op.atomic() as conn:
                conn.execute(SOURCE.insert().values(**row))
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
    info = registry.get(source_id)
    if index:
        if status is not None:
            status("loading the embedding model, indexing")
        _index(settings, info)
    result = _result(info, reused=False)
    result.errors = [_bad_json(b) for b in sample]
    return result


def _index(settings: Settings, info: SourceInfo) -> None:
    """Index the columns for semantic search (derived data: rebuildable, so not audited).

    A marker file records that indexing finished, so an ingest killed while indexing is not
    reused as complete: the next ingest of the same file indexes it.
    """
    if _is_indexed(info):
        return
    indexed = indexing.index_source(settings, info, load_profile(info))
    if indexed is not None:
        (Path(info.staging_dir) / INDEXED_MARKER).write_text(f"{indexed}\n")


def _stage(
    reader: Any,
    folder: Path,
    path: Path,
    progress: Progress | None,
    *,
    batch_rows: int,
    executor: Executor | None = None,
    task: DecodeRange | None = None,
) -> tuple[int, int, list[dict[str, Any]], list[Any]]:
    rows = min(batch_rows, DEFAULT_BATCH_ROWS)
    ranges = reader.record_ranges(rows) if hasattr(reader, "record_ranges") else None
    if task is not None and ranges is not None and len(ranges) > 1:
        executor = executor or LocalExecutor()
        return _stage_ranges(reader, ranges, folder, path, progress, executor, task)
    by_records = getattr(reader, "progress_unit", "bytes") == "records"
    # records: the reader's count, asked once its first batch is out (two-pass readers know
    # it by then); 0 while unknown
    counter = getattr(reader, "records_total", None) if by_records else None
    total = 0 if by_records else path.stat().st_size
    parts = PartWriter(folder / "records")
    quarantine = QuarantineWriter(folder / "quarantine.parquet")
    columns: dict[str, str] = {}
    try:
        started = time.perf_counter()  # decoding happens in the reader: time whole iterations
        for batch in reader.batches(min(batch_rows, DEFAULT_BATCH_ROWS)):
            parts.write(batch.records)
            _note_columns(columns, batch.records.schema)
            quarantine.add(batch.bad)
            now = time.perf_counter()
            observe_batch("decode", batch.records.num_rows, now - started)
            started = now
            for reason, n in Counter(reason_label(bad.reason) for bad in batch.bad).items():
                count(QUARANTINED, n, reason=reason)
            if progress is not None:
                if counter is not None and not total:
                    total = counter() or 0
                done = parts.rows + quarantine.count if by_records else batch.bytes_read
                # estimates (a sheet's dimension, compressed sizes) never run past 100 %
                progress(min(done, total) if total else done, total)
        if progress is not None:  # finished: the bar ends full whatever the estimate was
            final = (parts.rows + quarantine.count) if by_records else total
            progress(final, final)
    finally:
        parts.close()
        quarantine.close()
    return (
        parts.rows,
        quarantine.count,
        [{"name": k, "type": v} for k, v in columns.items()],
        quarantine.sample,
    )


class _RangeTask:
    """A reader of the file, made once per task object in the worker (never pickled)."""

    def __init__(self, fmt: str, path: Path, options: dict[str, Any]) -> None:
        self.fmt, self.path, self.options = fmt, path, options
        self._reader: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_reader": None}

    def reader(self) -> Any:
        if self._reader is None:  # the copybook parsed once per task object
            self._reader = reader_for(self.fmt)(self.path, self.options)
        return self._reader


class SurveyRange(_RangeTask):
    """The executor task of a reader's first pass over one range (:meth:`survey_range`:
    e.g. what a delimited file's columns hold, merged by the driver into column types)."""

    def __init__(self, fmt: str, path: Path, options: dict[str, Any], plan: dict[str, Any]) -> None:
        super().__init__(fmt, path, options)
        self.plan = plan

    def __call__(self, span: Any) -> Any:
        return self.reader().survey_range(span, self.plan)


class DecodeRange(_RangeTask):
    """The executor task of an ingest: decode one range of a file's records (a reader's
    ``record_ranges``) into the staging folder's ``part-<range>-NNNNN.parquet`` files.

    Returns the range's counts and column types (a small dict) and its bad records as the
    quarantine's Arrow table. Files are replaced whole, so a retried task leaves one copy.
    """

    def __init__(
        self,
        fmt: str,
        path: Path,
        options: dict[str, Any],
        folder: Path,
        plan: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(fmt, path, options)
        self.folder, self.plan = folder, plan

    def planned(self, plan: dict[str, Any]) -> DecodeRange:
        """The same task with what the reader decided for the whole file."""
        return DecodeRange(self.fmt, self.path, self.options, self.folder, plan)

    def __call__(
        self, task: tuple[int, Any], *, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> tuple[dict[str, Any], pa.Table]:
        k, span = task
        parts = PartWriter(self.folder / "records", prefix=f"part-{k:05d}-")
        columns: dict[str, str] = {}
        bad: list[Any] = []
        bytes_read = 0
        try:
            for batch in self.reader().range_batches(span, batch_rows, self.plan):
                parts.write(batch.records)
                _note_columns(columns, batch.records.schema)
                bad.extend(batch.bad)
                bytes_read = batch.bytes_read
        finally:
            parts.close()
        outcome = {"rows": parts.rows, "columns": columns, "bytes_read": bytes_read}
        return outcome, bad_table(bad)


def _note_columns(columns: dict[str, str], schema: pa.Schema) -> None:
    """Column types in first-seen order; a column null so far takes its first real type."""
    for field in schema:
        columns.setdefault(field.name, str(field.type))
        if columns[field.name] == "null" and str(field.type) != "null":
            columns[field.name] = str(field.type)


def _stage_ranges(  # noqa: PLR0913
    reader: Any,
    ranges: list[Any],
    folder: Path,
    path: Path,
    progress: Progress | None,
    executor: Executor,
    task: DecodeRange,
) -> tuple[int, int, list[dict[str, Any]], list[Any]]:
    """Decode a splittable file range by range on the executor; results come back in file
    order, so the quarantine and the column order are what one pass gives.

    A reader that decides something for the whole file first (a delimited file's column
    types, a document's columns) gets a plan, surveyed range by range on the executor too, in
    as many rounds as the reader asks (``survey_rounds``: an XML file's repeated tags, then
    its columns). A reader whose ranges number their bad records from the range's start has
    them shifted here by the records of the ranges before: index and line
    (``range_numbering = "relative"``), or the index only (``"relative_index"``: its lines are
    the file's).
    """
    (folder / "records").mkdir(parents=True, exist_ok=True)
    if hasattr(reader, "range_plan"):
        plan = reader.range_plan()
        for _ in range(getattr(reader, "survey_rounds", 0)):
            survey = SurveyRange(task.fmt, task.path, task.options, plan)
            plan = reader.plan_from_surveys(plan, executor.map(survey, ranges))
        task = task.planned(plan)
    numbering = getattr(reader, "range_numbering", "absolute")
    shifted = {"relative": ("record_index", "line"), "relative_index": ("record_index",)}.get(
        numbering, ()
    )
    quarantine = QuarantineWriter(folder / "quarantine.parquet")
    columns: dict[str, str] = {}
    rows = before = 0
    total = path.stat().st_size
    by_records = getattr(reader, "progress_unit", "bytes") == "records"
    try:
        started = time.perf_counter()
        for outcome, bad in executor.map(task, list(enumerate(ranges))):
            if shifted:
                bad = _shifted(bad, before, shifted)
                before += outcome["rows"] + bad.num_rows
            rows += outcome["rows"]
            for name, type_ in outcome["columns"].items():
                columns.setdefault(name, type_)
                if columns[name] == "null" and type_ != "null":
                    columns[name] = type_
            quarantine.add_table(bad)
            now = time.perf_counter()
            observe_batch("decode", outcome["rows"], now - started)
            started = now
            for reason, n in Counter(
                reason_label(r) for r in bad.column("reason").to_pylist()
            ).items():
                count(QUARANTINED, n, reason=reason)
            if progress is not None:
                if by_records:  # (the unit the bar shows: a workbook's bytes are compressed)
                    progress(rows + quarantine.count, 0)
                else:
                    progress(min(outcome["bytes_read"], total), total)
        if progress is not None:
            final = rows + quarantine.count if by_records else total
            progress(final, final)
    finally:
        quarantine.close()
        if hasattr(reader, "release"):  # what the reader kept for its ranges (a loaded sheet)
            reader.release()
    return (
        rows,
        quarantine.count,
        [{"name": k, "type": v} for k, v in columns.items()],
        quarantine.sample,
    )


def _shifted(
    bad: pa.Table, records: int, columns: tuple[str, ...] = ("record_index", "line")
) -> pa.Table:
    """Bad records numbered from their range's start, renumbered from the file's."""
    if not records or not bad.num_rows:
        return bad
    for name in columns:
        column = pc.add(bad.column(name), pa.scalar(records, pa.int64()))
        bad = bad.set_column(bad.schema.get_field_index(name), name, column)
    return bad


def _profile(folder: Path, executor: Executor | None) -> dict[str, Any]:
    """Profile the staged records (by ranges of rows, on the executor) and keep the profile
    beside them."""

    profile = profile_staged(folder / "records", executor=executor)
    (folder / "profile.json").write_text(json.dumps(profile, default=str, indent=1))
    return {
        "quality_score": profile.get("quality_score"),
        "layout_fingerprint": profile.get("layout_fingerprint"),
    }


def _bad_json(bad: Any) -> QuarantinedRecord:
    return QuarantinedRecord(
        record_index=bad.record_index,
        byte_offset=bad.byte_offset,
        line=bad.line,
        field=bad.field,
        reason=bad.reason,
    )


def _result(info: SourceInfo, *, reused: bool) -> IngestResult:
    return IngestResult(
        source_id=info.source_id,
        name=info.name,
        system=info.system,
        records=info.records,
        bad_records=info.bad_records,
        columns=info.columns,
        errors=[],
        reused=reused,
        quality_score=info.quality_score,
    )


def delete_source(
    engine: Engine,
    settings: Settings,
    source_id: str,
    *,
    tenant: str | None = None,
    reason: str = "",
) -> bool:
    """Remove a staged source (compensation of an ingest); idempotent, audited."""

    tenant = tenant or settings.tenant
    info = SourceRegistry(engine, tenant=tenant).find(source_id)
    if info is None:
        return False
    audit = AuditLog(engine, tenant=tenant)
    with audit.operation(
        NAMESPACE,
        "delete_source",
        target=source_id,
        payload={"reason": reason},
        parent_id=info.entry_id,
    ) as op:
        op.outcome = {"deleted": source_id}
        with op.atomic() as conn:
            conn.execute(
                delete(SOURCE).where(
                    and_(SOURCE.c.tenant == tenant, SOURCE.c.source_id == source_id)
                )
            )
            if info.entry_id is not None:
                # The ingest is undone: ingesting the same file again must stage it again,
                # not find its idempotency key completed and return a source that is gone.
                audit.mark_compensated(info.entry_id, conn=conn)
    shutil.rmtree(info.staging_dir, ignore_errors=True)
    indexing.unindex_source(settings, tenant, source_id)
    return True
