"""Test helpers for waves: canonical records, a fake target, registered sources, wave_context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from core.settings import Settings
from core.store.models import SourceRow, utcnow
from knowledge.canonical.arrow import arrow_schema
from tools.waves.context import WaveContext
from tools.waves.reconcile import reconcile
from tools.waves.targets.base import POLICY_ID, TargetHealth

TYPES = ["auto", "homeowners", "life"]
STATES = ["NY", "CA", "TX"]


def canonical_table(n: int, *, prefix: str = "P", seed: int = 7, bad_every: int = 0) -> pa.Table:
    """``n`` canonical policies; every ``bad_every``-th has a non-positive premium."""
    rng = np.random.default_rng(seed)
    schema = arrow_schema("policy_v1")
    eff = [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)]
    premium = [
        Decimal("0.00") if bad_every and i % bad_every == 0 else Decimal(f"{100 + i % 900}.50")
        for i in range(n)
    ]
    cov_type = schema.field("coverage_sections").type
    coverages = [
        [{"coverage_id": f"C{i}-{k}", "coverage_type": "property"} for k in range(i % 5)]
        for i in range(n)
    ]
    data = {
        POLICY_ID: [f"{prefix}{i:06d}" for i in range(n)],
        "policy_core.status": ["active"] * n,
        "policy_core.effective_date": eff,
        "policy_core.expiration_date": [d + dt.timedelta(days=365) for d in eff],
        "policy_core.policy_type": [TYPES[i % 3] for i in range(n)],
        "policy_core.insured_party.address.state": [STATES[(i // 3) % 3] for i in range(n)],
        "policy_core.insured_party.name": [f"Insured {i}" for i in range(n)],
        "coverage_sections": pa.array(coverages, cov_type),
        "rating_components.premium_amount": pa.array(
            premium, schema.field("rating_components.premium_amount").type
        ),
    }
    columns = {
        name: pa.array(v, schema.field(name).type) if not isinstance(v, pa.Array) else v
        for name, v in data.items()
    }
    return pa.table(columns)


class FakeTarget:
    """An in-memory MigrationTarget: upserts keyed by (policy_id, wave_id)."""

    name: ClassVar[str] = "new_platform"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.healthy = True
        self.fail_after_writes: int | None = None
        self.writes = 0

    def health(self) -> TargetHealth:
        return TargetHealth(ok=self.healthy, detail="fake ok" if self.healthy else "fake down")

    def write(self, wave_id: str, records: pa.Table) -> int:
        if self.fail_after_writes is not None and self.writes >= self.fail_after_writes:
            raise RuntimeError("injected target failure")
        self.writes += 1
        for row in records.to_pylist():
            self.rows[(row[POLICY_ID], wave_id)] = row
        return records.num_rows

    def delete(self, wave_id: str, policy_ids: Sequence[str] | None = None) -> int:
        doomed = [
            k for k in self.rows if k[1] == wave_id and (policy_ids is None or k[0] in policy_ids)
        ]
        for key in doomed:
            del self.rows[key]
        return len(doomed)

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        rows = [r for k, r in sorted(self.rows.items()) if k[1] == wave_id]
        if rows:
            yield pa.RecordBatch.from_pylist(rows)

    def count(self, wave_id: str) -> int:
        return sum(1 for k in self.rows if k[1] == wave_id)


class IdReport:
    """A minimal reconciliation report: the same policies once on each side."""

    def __init__(self, source: list[str], target: list[str]) -> None:
        self.source_count, self.target_count = len(source), len(target)
        self.missing = sorted(set(source) - set(target))
        self.extra = sorted(set(target) - set(source))
        self.duplicates = len(target) - len(set(target))
        self.passed = (
            not (self.missing or self.extra or self.duplicates)
            and self.source_count == self.target_count
        )

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        return {
            "passed": self.passed,
            "source_count": self.source_count,
            "target_count": self.target_count,
            "missing": self.missing[:10],
            "extra": self.extra[:10],
            "duplicates": self.duplicates,
        }


def id_reconciler(source: Any, target: Any) -> IdReport:
    ids = [str(v) for b in source for v in b.column(POLICY_ID).to_pylist()]
    got = [str(v) for b in target for v in b.column(POLICY_ID).to_pylist()]
    return IdReport(ids, got)


def register_source(
    engine: Engine,
    settings: Settings,
    source_id: str,
    records: int,
    *,
    tenant: str = "default",
    system: str = "policy_master",
) -> Path:
    """A staged source row (the saga's ingest milestone checks it) and its staging folder."""
    staging = settings.path("staging", tenant, source_id)
    staging.mkdir(parents=True, exist_ok=True)
    with engine.begin() as conn:
        conn.execute(
            SourceRow.__table__.insert().values(
                tenant=tenant,
                source_id=source_id,
                name=source_id,
                system=system,
                path=f"/legacy/{source_id}.dat",
                format="csv",
                options={},
                content_sha256="0" * 64,
                size_bytes=1,
                records=records,
                bad_records=0,
                columns=[],
                staging_dir=str(staging),
                created_at=utcnow(),
            )
        )
    return staging


def write_parts(folder: Path, table: pa.Table, rows_per_part: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, start in enumerate(range(0, table.num_rows, rows_per_part)):
        pq.write_table(table.slice(start, rows_per_part), folder / f"part-{n:05d}.parquet")
    return folder


def stage_two_sources(
    engine: Engine, settings: Settings, base: Path, *, bad_every: int = 0
) -> dict[str, Path]:
    """Two staged sources with canonical Parquet under ``base``: 'src-a' (450 policies, parts of
    200) and 'src-b' (150 billing policies, parts of 100; every ``bad_every``-th one invalid)."""
    folders = {
        "src-a": write_parts(base / "canon-a", canonical_table(450, prefix="A"), 200),
        "src-b": write_parts(
            base / "canon-b", canonical_table(150, prefix="B", bad_every=bad_every), 100
        ),
    }
    register_source(engine, settings, "src-a", 450)
    register_source(engine, settings, "src-b", 150, system="billing")
    return folders


def parquet_source(folders: Mapping[str, Path], batch_size: int):  # noqa: ANN201
    import pyarrow.dataset as ds

    def batches(source_id: str) -> Iterator[pa.RecordBatch]:
        parts = sorted(folders[source_id].glob("*.parquet"))
        dataset = ds.dataset([str(p) for p in parts], format="parquet")
        yield from dataset.scanner(batch_size=batch_size, use_threads=False).to_batches()

    return batches


def make_context(
    engine: Engine,
    settings: Settings,
    folders: Mapping[str, Path],
    *,
    target: Any = None,
    batch_size: int = 100,
    confidences: dict[str, float] | None = None,
) -> WaveContext:
    """Services over Parquet canonical sources; ``target`` None means the real new_platform.

    Reconciliation is the real one (tools.waves.reconcile).
    """
    factory: Any = (lambda name, config: target) if target is not None else None
    kwargs: dict[str, Any] = {"target_factory": factory} if factory else {}
    return WaveContext(
        engine=engine,
        settings=settings,
        tenant="default",
        canonical_source=parquet_source(folders, batch_size),
        confidence_source=lambda sid: dict(confidences or {"policy_core.policy_id": 0.99}),
        reconciler=reconcile,
        **kwargs,
    )
