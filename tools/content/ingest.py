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
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.errors import InputError
from core.settings import Settings
from core.store.models import utcnow
from tools.audit import AuditLog
from tools.content.contracts import IngestResult, QuarantinedRecord
from tools.content.readers.base import DEFAULT_BATCH_ROWS
from tools.content.sources import SOURCE, SourceInfo, SourceRegistry
from tools.content.staging import PartWriter, QuarantineWriter

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
NAMESPACE = "content"


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
) -> IngestResult:
    """Decode ``path`` with the ``fmt`` reader and stage it as a source (see module docstring).

    Raises:
        InputError: missing/empty file, unknown format, bad options, or a file-level decode error.
    """
    from tools.content.readers.registry import reader_for

    tenant = tenant or settings.tenant
    options = dict(options or {})
    path = _check_file(Path(path))
    reader_cls = reader_for(fmt)
    sha = file_sha256(path)
    source_id = source_id_for(tenant, sha, fmt, options)
    registry = SourceRegistry(engine, tenant=tenant)
    existing = registry.find(source_id)
    if existing is not None:
        return _result(existing, reused=True)

    reader = reader_cls(path, options)  # validates options before anything is written
    root = settings.path("staging", tenant)
    final = root / source_id
    partial = root / f".{source_id}.partial-{uuid.uuid4().hex[:8]}"
    audit = AuditLog(engine, tenant=tenant)
    payload = {
        "path": str(path),
        "format": fmt,
        "options": options,
        "sha256": sha,
        "name": name or path.name,
        "system": system,
    }
    with audit.operation(
        NAMESPACE,
        "ingest",
        target=source_id,
        payload=payload,
        idempotency_key=f"ingest:{source_id}",
    ) as op:
        if op.completed:
            return _result(registry.get(source_id), reused=True)
        try:
            info = _stage(reader, partial, path, progress, batch_rows=settings.batch_size)
            records, bad, columns, sample = info
            if records == 0 and bad == 0:
                raise InputError(
                    "contains no records",
                    where=str(path),
                    fix="check the format and options (header, record element...)",
                )
            profile_summary = _profile(partial, columns)
            if final.exists():  # left by a crash after the rename but before the commit
                shutil.rmtree(final)
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        row = {
            "tenant": tenant,
            "source_id": source_id,
            "name": name or path.stem,
            "system": system,
            "path": str(path),
            "format": fmt,
            "options": options,
            "content_sha256": sha,
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
    _index(settings, info)
    result = _result(info, reused=False)
    result.errors = [_bad_json(b) for b in sample]
    return result


def _index(settings: Settings, info: SourceInfo) -> None:
    """Index the columns for semantic search (derived data: rebuildable, so not audited)."""
    from tools.content.indexing import index_source
    from tools.content.profiling import load_profile

    index_source(settings, info, load_profile(info))


def _stage(
    reader: Any, folder: Path, path: Path, progress: Progress | None, *, batch_rows: int
) -> tuple[int, int, list[dict[str, Any]], list[Any]]:
    total = path.stat().st_size
    parts = PartWriter(folder / "records")
    quarantine = QuarantineWriter(folder / "quarantine.parquet")
    columns: dict[str, str] = {}
    try:
        for batch in reader.batches(min(batch_rows, DEFAULT_BATCH_ROWS)):
            parts.write(batch.records)
            for field in batch.records.schema:
                columns.setdefault(field.name, str(field.type))
                if columns[field.name] == "null" and str(field.type) != "null":
                    columns[field.name] = str(field.type)
            quarantine.add(batch.bad)
            if progress is not None:
                progress(min(batch.bytes_read, total), total)
    finally:
        parts.close()
        quarantine.close()
    return (
        parts.rows,
        quarantine.count,
        [{"name": k, "type": v} for k, v in columns.items()],
        quarantine.sample,
    )


def _profile(folder: Path, columns: list[dict[str, Any]]) -> dict[str, Any]:
    """Profile the staged records and keep the profile beside them."""
    from tools.content.profiling import profile_staged

    profile = profile_staged(folder / "records")
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
    from sqlalchemy import and_, delete

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
    shutil.rmtree(info.staging_dir, ignore_errors=True)
    from tools.content.indexing import unindex_source

    unindex_source(settings, tenant, source_id)
    return True
