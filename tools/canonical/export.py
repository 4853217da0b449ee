"""Exports for a downstream migration engine: the mapping spec and the canonical records.

Formats: `json` and `yaml` (the mapping spec), `sql` (CREATE TABLE + INSERT statements),
`jsonl` and `parquet` (canonical records), and always a manifest with counts and sha256 checksums.
Every file is written under a temporary name and renamed into place only when all of them are
complete; on any failure the temporary files are removed, so nothing half-written remains.
An existing file is refused unless `overwrite=True`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TextIO

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from sqlalchemy import Engine

from core.errors import InputError
from core.settings import Settings
from knowledge.canonical import arrow_schema, arrow_to_records
from tools.audit import AuditLog
from tools.canonical.contracts import ExportedFile, ExportResult
from tools.canonical.output import (
    canonical_parts,
    output_dir,
    read_canonical,
    require_complete_run,
)
from tools.canonical.repository import NAMESPACE, get_mapping
from tools.canonical.spec import MappingInfo
from tools.canonical.sqlgen import create_statements, insert_statements

ExportFormat = Literal["json", "yaml", "sql", "jsonl", "parquet"]
ALL_FORMATS: tuple[ExportFormat, ...] = ("json", "yaml", "sql", "jsonl", "parquet")
_DATA_FORMATS = {"sql", "jsonl", "parquet"}


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact, as pydantic's JSON mode writes decimals
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _spec(info: MappingInfo) -> dict[str, Any]:
    return {
        "mapping_id": info.mapping_id,
        "version": info.version,
        "status": info.status.value,
        "source_id": info.source_id,
        "canonical": info.canonical,
        "min_confidence": info.min_confidence,
        "rules": [r.model_dump(mode="json") for r in info.rules],
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _Staging:
    """Temporary files beside their targets, renamed into place together at the end."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.pending: list[tuple[Path, Path]] = []
        self.tag = uuid.uuid4().hex[:8]

    def temp_for(self, name: str) -> tuple[Path, Path]:
        final = self.out_dir / name
        temp = self.out_dir / f".{name}.{self.tag}.tmp"
        self.pending.append((temp, final))
        return temp, final

    def commit(self) -> None:
        for temp, final in self.pending:
            os.replace(temp, final)
        self.pending = []

    def discard(self) -> None:
        for temp, _ in self.pending:
            temp.unlink(missing_ok=True)


def _write_text(temp: Path, writer: Callable[[TextIO], int | None]) -> int | None:
    with temp.open("w", encoding="utf-8", newline="\n") as handle:
        count = writer(handle)
        handle.flush()
        os.fsync(handle.fileno())
    return count


def _records_writer(settings: Settings, info: MappingInfo, kind: str) -> Callable[[TextIO], int]:
    def write(handle: TextIO) -> int:
        count = 0
        if kind == "sql":
            handle.write(
                f"-- canonical {info.canonical} records of mapping {info.mapping_id} "
                f"v{info.version}\n"
            )
            handle.write("\n\n".join(create_statements(info.canonical)) + "\n\n")
        for batch in read_canonical(settings, info.mapping_id, info.version, tenant=info.tenant):
            if kind == "sql":
                for statement in insert_statements(batch, count + 1, info.canonical):
                    handle.write(statement)
            else:
                for record in arrow_to_records(pa.Table.from_batches([batch]), info.canonical):
                    handle.write(json.dumps(record, default=_json_default) + "\n")
            count += batch.num_rows
        return count

    return write


def _write_parquet(settings: Settings, info: MappingInfo, temp: Path) -> int:
    count = 0
    with pq.ParquetWriter(temp, arrow_schema(info.canonical), compression="zstd") as writer:
        for batch in read_canonical(settings, info.mapping_id, info.version, tenant=info.tenant):
            writer.write_batch(batch)
            count += batch.num_rows
    return count


def export_mapping(
    engine: Engine,
    settings: Settings,
    mapping_id: str,
    out_dir: Path,
    *,
    formats: Sequence[str] = ALL_FORMATS,
    tenant: str | None = None,
    version: int | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export a mapping version and its canonical records.

    Args:
        engine: the store.
        settings: the workspace.
        mapping_id: the mapping.
        out_dir: folder to write into (created).
        formats: any of json, yaml, sql, jsonl, parquet.
        tenant: the tenant.
        version: the version; the approved one (else the latest) when None.
        overwrite: replace existing files instead of refusing.

    Returns:
        The files written with their counts and checksums, and the manifest path.

    Raises:
        InputError: unknown format, an existing file without overwrite, or data formats asked
            for a version that has not been mapped yet.
    """
    tenant = tenant or settings.tenant
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown or not formats:
        raise InputError(
            f"unknown export format(s): {', '.join(unknown) or 'none given'}",
            where="--format",
            fix=f"use any of: {', '.join(ALL_FORMATS)}",
        )
    latest = get_mapping(engine, mapping_id, tenant=tenant)
    info = get_mapping(
        engine,
        mapping_id,
        tenant=tenant,
        version=version or latest.approved_version or latest.version,
    )
    records_dir = output_dir(settings, tenant, mapping_id, info.version)
    if _DATA_FORMATS & set(formats) and not canonical_parts(records_dir):
        raise InputError(
            f"mapping '{mapping_id}' v{info.version} has no canonical records yet",
            where="export",
            fix=f"run map_to_canonical for {mapping_id} first, or export only json,yaml",
        )
    if _DATA_FORMATS & set(formats):
        require_complete_run(records_dir, mapping_id, info.version)  # before writing anything
    stem = f"{mapping_id}.v{info.version}"
    names = {
        "json": f"{stem}.mapping.json",
        "yaml": f"{stem}.mapping.yaml",
        "sql": f"{stem}.canonical.sql",
        "jsonl": f"{stem}.canonical.jsonl",
        "parquet": f"{stem}.canonical.parquet",
    }
    wanted = [f for f in ALL_FORMATS if f in formats]
    targets = [out_dir / names[f] for f in wanted] + [out_dir / f"{stem}.manifest.json"]
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise InputError(
            "the export file already exists",
            where=str(existing[0]),
            fix="choose another folder or pass overwrite=True (--overwrite)",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    audit = AuditLog(engine, tenant=tenant)
    staging = _Staging(out_dir)
    payload = {"version": info.version, "formats": wanted, "out_dir": str(out_dir.resolve())}
    with audit.operation(NAMESPACE, "export_mapping", target=mapping_id, payload=payload) as op:
        try:
            files = [_export_one(settings, info, fmt, staging, names[fmt]) for fmt in wanted]
            manifest = {
                "mapping_id": mapping_id,
                "version": info.version,
                "canonical": info.canonical,
                "source_id": info.source_id,
                "tenant": tenant,
                "exported_at": dt.datetime.now(dt.UTC).isoformat(),
                "files": [f.model_dump() for f in files],
                "counts": {
                    "records": next((f.records for f in files if f.records is not None), None),
                    "rules": len(info.rules),
                    "mapped_fields": len(info.fields),
                },
            }
            temp, final = staging.temp_for(f"{stem}.manifest.json")
            _write_text(temp, lambda h: h.write(json.dumps(manifest, indent=2)))
            staging.commit()
        except BaseException:
            staging.discard()
            raise
        op.outcome = {"files": [f.path for f in files], "manifest": str(final)}
    return ExportResult(
        mapping_id=mapping_id, version=info.version, files=files, manifest=str(final)
    )


def _export_one(
    settings: Settings, info: MappingInfo, fmt: str, staging: _Staging, name: str
) -> ExportedFile:
    temp, final = staging.temp_for(name)
    records: int | None = None
    if fmt == "json":
        _write_text(temp, lambda h: h.write(json.dumps(_spec(info), indent=2)))
    elif fmt == "yaml":
        _write_text(temp, lambda h: h.write(yaml.safe_dump(_spec(info), sort_keys=False)))
    elif fmt == "parquet":
        records = _write_parquet(settings, info, temp)
    else:
        records = _write_text(temp, _records_writer(settings, info, fmt))
    return ExportedFile(
        path=str(final),
        format=fmt,
        records=records,
        bytes=temp.stat().st_size,
        sha256=_sha256(temp),
    )
