"""Retention: archive the run state of finished waves to gzip JSONL and drop it from hot tables.

``gc`` takes waves that finished (``completed`` or ``compensated``) before the cut-off and moves
their checkpoints, gate results and membership rows to
``<home>/archive/<tenant>/<wave_id>.jsonl.gz`` (one JSON object per row, with its table), then
deletes those rows in the same transaction that records the outcome. The audit log is never
touched: it is the history. The wave and plan rows stay (they are small and the tracker reads
them); a wave's membership, once archived, is read from the archive.
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, and_, delete, func, select

from tools.audit import AuditLog
from tools.waves.context import WaveContext
from tools.waves.state import CHECKPOINT, GATE_RESULT, NAMESPACE, WAVE, WAVE_POLICY
from tools.waves.statuses import WaveState

ARCHIVED_TABLES = {
    "wave_checkpoint": CHECKPOINT,
    "wave_gate_result": GATE_RESULT,
    "wave_policy": WAVE_POLICY,
}
_PAGE = 20_000


class GcResult(BaseModel):
    """What ``gc`` archived."""

    cutoff: datetime
    waves: list[str]
    rows: dict[str, int]
    files: list[str]
    dry_run: bool = False


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def gc(context: WaveContext, *, older_than: timedelta, dry_run: bool = False) -> GcResult:
    """Archive and remove run state of waves finished more than ``older_than`` ago.

    With ``dry_run`` it only counts what would be archived (``files`` names the archives it
    would write) and changes nothing.
    """
    engine, who = context.engine, context.tenant
    cutoff = datetime.now(UTC) - older_than
    with engine.connect() as conn:
        waves = (
            conn.execute(
                select(WAVE.c.wave_id)
                .where(
                    and_(
                        WAVE.c.tenant == who,
                        WAVE.c.status.in_([WaveState.COMPLETED, WaveState.COMPENSATED]),
                        WAVE.c.finished_at.is_not(None),
                        WAVE.c.finished_at < cutoff,
                    )
                )
                .order_by(WAVE.c.id)
            )
            .scalars()
            .all()
        )
    folder = context.path("archive")
    rows = dict.fromkeys(ARCHIVED_TABLES, 0)
    files: list[str] = []
    archived: list[str] = []
    log = AuditLog(engine, tenant=who)
    for wave_id in waves:
        counts = _count(engine, who, wave_id)
        if not any(counts.values()):
            continue
        if dry_run:
            files.append(str(folder / f"{wave_id}.jsonl.gz"))
            archived.append(wave_id)
            for name, n in counts.items():
                rows[name] += n
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{wave_id}.jsonl.gz"
        with log.operation(
            NAMESPACE,
            "gc",
            target=wave_id,
            payload={"cutoff": cutoff.isoformat(), "file": str(path)},
        ) as op:
            _archive(engine, who, wave_id, path)
            op.outcome = {"rows": counts, "file": str(path)}
            with op.atomic() as conn:
                for table in ARCHIVED_TABLES.values():
                    conn.execute(
                        delete(table).where(and_(table.c.tenant == who, table.c.wave_id == wave_id))
                    )
        files.append(str(path))
        archived.append(wave_id)
        for name, n in counts.items():
            rows[name] += n
    return GcResult(cutoff=cutoff, waves=archived, rows=rows, files=files, dry_run=dry_run)


def _count(engine: Engine, tenant: str, wave_id: str) -> dict[str, int]:

    with engine.connect() as conn:
        return {
            name: int(
                conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(and_(table.c.tenant == tenant, table.c.wave_id == wave_id))
                ).scalar_one()
            )
            for name, table in ARCHIVED_TABLES.items()
        }


def _archive(engine: Engine, tenant: str, wave_id: str, path: Any) -> None:
    """Write every archived row of the wave, paged, then atomically put the file in place."""
    partial = path.with_suffix(".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as out, engine.connect() as conn:
        for name, table in ARCHIVED_TABLES.items():
            result = conn.execution_options(yield_per=_PAGE).execute(
                select(table).where(and_(table.c.tenant == tenant, table.c.wave_id == wave_id))
            )
            for row in result:
                record = {"table": name, **{k: _json(v) for k, v in row._mapping.items()}}
                out.write(json.dumps(record, default=str) + "\n")
    os.replace(partial, path)
