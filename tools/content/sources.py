"""The registry of ingested sources: what was staged, from which file, with which options."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, field_validator
from sqlalchemy import Engine, and_, select

from core.errors import NotFoundError
from core.store.models import SourceRow, as_utc, table_of
from tools.content.contracts import SourceSummary

SOURCE = table_of(SourceRow)


class SourceInfo(BaseModel):
    """An ingested source as the rest of data-mash sees it."""

    source_id: str
    tenant: str
    name: str
    system: str | None
    path: str
    format: str
    options: dict[str, Any]
    content_sha256: str
    size_bytes: int
    records: int
    bad_records: int
    columns: list[dict[str, Any]]
    staging_dir: str
    layout_fingerprint: str | None
    quality_score: float | None
    entry_id: int | None
    created_at: datetime

    _utc = field_validator("created_at")(as_utc)

    @property
    def records_path(self) -> Path:
        return Path(self.staging_dir) / "records"

    @property
    def quarantine_path(self) -> Path:
        return Path(self.staging_dir) / "quarantine.parquet"

    @property
    def profile_path(self) -> Path:
        return Path(self.staging_dir) / "profile.json"

    def summary(self) -> SourceSummary:
        """This source as a listing shows it."""
        return SourceSummary.model_validate(
            {
                "source_id": self.source_id,
                "name": self.name,
                "system": self.system,
                "format": self.format,
                "path": self.path,
                "records": self.records,
                "bad_records": self.bad_records,
                "columns": len(self.columns),
                "quality_score": self.quality_score,
                "created_at": self.created_at.isoformat(),
            }
        )


class SourceRegistry:
    """Read access to one tenant's sources."""

    def __init__(self, engine: Engine, *, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant

    def find(self, source_id: str) -> SourceInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SOURCE).where(
                    and_(SOURCE.c.tenant == self.tenant, SOURCE.c.source_id == source_id)
                )
            ).first()
        return SourceInfo.model_validate(dict(row._mapping)) if row else None

    def get(self, source_id: str) -> SourceInfo:
        found = self.find(source_id)
        if found is None:
            raise NotFoundError(
                f"no source '{source_id}' for tenant '{self.tenant}'",
                fix="list them with: data-mash sources",
            )
        return found

    def list(self) -> list[SourceInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(SOURCE).where(SOURCE.c.tenant == self.tenant).order_by(SOURCE.c.id)
            ).all()
        return [SourceInfo.model_validate(dict(r._mapping)) for r in rows]
