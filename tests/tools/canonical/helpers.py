"""Helpers for the canonical mapping tests: staged sources from Arrow tables, sample policies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from core.settings import Settings
from core.store.models import utcnow
from tools.content.sources import SOURCE

MakeSource = Callable[..., str]


def stage_source(
    engine: Engine,
    settings: Settings,
    table: pa.Table,
    *,
    name: str = "src",
    tenant: str = "default",
    part_rows: int | None = None,
) -> str:
    """Stage `table` as an ingested source (Parquet parts + source row); returns its id."""
    digest = hashlib.sha256(f"{tenant}|{name}|{table.num_rows}".encode()).hexdigest()[:12]
    source_id = f"src_{digest}"
    folder = settings.path("staging", tenant, source_id)
    records = folder / "records"
    records.mkdir(parents=True, exist_ok=True)
    step = part_rows or max(table.num_rows, 1)
    for number, start in enumerate(range(0, max(table.num_rows, 1), step)):
        pq.write_table(table.slice(start, step), records / f"part-{number:05d}.parquet")
    with engine.begin() as conn:
        conn.execute(
            SOURCE.insert().values(
                tenant=tenant,
                source_id=source_id,
                name=name,
                system=name,
                path=str(folder),
                format="parquet",
                options={},
                content_sha256=digest,
                size_bytes=0,
                records=table.num_rows,
                bad_records=0,
                columns=[{"name": f.name, "type": str(f.type)} for f in table.schema],
                staging_dir=str(folder.resolve()),
                layout_fingerprint=None,
                quality_score=None,
                entry_id=None,
                created_at=utcnow(),
            )
        )
    return source_id


def policy_table(rows: int, *, bad_every: int = 0) -> pa.Table:
    """A small policy extract; every `bad_every`-th row carries a bad premium and a bad status."""
    data: dict[str, list[object]] = {
        "POL_NO": [],
        "STAT": [],
        "EFF_DT": [],
        "EXP_DT": [],
        "PREM_CENTS": [],
        "INSD_NM": [],
        "ST": [],
        "LOB": [],
    }
    for i in range(rows):
        bad = bool(bad_every) and i % bad_every == bad_every - 1
        data["POL_NO"].append(f"P{i:07d}")
        data["STAT"].append("ZZ" if bad else ["A", "C", "E"][i % 3])
        data["EFF_DT"].append(f"{1 + i % 12:02d}/{1 + i % 28:02d}/2020")
        data["EXP_DT"].append(f"{1 + i % 12:02d}/{1 + i % 28:02d}/2021")
        data["PREM_CENTS"].append(-500 if bad else 10_000 + i)
        data["INSD_NM"].append(f"Ann{i} Lee")
        data["ST"].append("California" if i % 2 else "NY")
        data["LOB"].append("HO" if i % 2 else "AUTO")
    return pa.table(data)


BASE_RULES: list[dict[str, object]] = [
    {"source": "POL_NO", "target": "policy_core.policy_id", "confidence": 0.99},
    {
        "source": "STAT",
        "target": "policy_core.status",
        "confidence": 0.9,
        "transform": {"kind": "code", "table": "policy_status"},
    },
    {
        "source": "EFF_DT",
        "target": "policy_core.effective_date",
        "confidence": 0.6,
        "transform": {"kind": "date", "format": "MM/DD/YYYY"},
    },
    {
        "source": "EXP_DT",
        "target": "policy_core.expiration_date",
        "confidence": 0.8,
        "transform": {"kind": "date", "format": "MM/DD/YYYY"},
    },
    {
        "source": "PREM_CENTS",
        "target": "rating_components.premium_amount",
        "confidence": 0.4,
        "transform": {"kind": "money", "cents": True},
    },
    {"source": "INSD_NM", "target": "policy_core.insured_party.name", "confidence": 0.9},
    {
        "source": "ST",
        "target": "policy_core.insured_party.address.state",
        "confidence": 0.9,
        "transform": {"kind": "code", "table": "us_state"},
    },
    {
        "source": "LOB",
        "target": "coverage_sections[].coverage_type",
        "confidence": 0.9,
        "transform": {"kind": "code", "table": "line_of_business"},
    },
]
