"""Where routing reads its input: the canonical records of a source's latest approved mapping.

The mapping engine (``tools/canonical``) writes validated canonical records as Parquet parts under
``<home>/canonical/<tenant>/<mapping_id>/v<version>/`` with the canonical Arrow schema. This
module finds the source's latest approved mapping and streams those parts in a fixed order, in
batches of at most ``settings.batch_size`` rows: the same data always yields the same batch
boundaries, which is what makes the per-batch idempotency keys of a routing run resumable.

Routing code itself only sees an iterable of Arrow batches; this adapter is the one place that
knows about the mapping store (``tools.canonical.repository``). The mapping run writes valid
records only (invalid ones go to its quarantine) and no per-record score, so
``data_quality_score`` is computed by :mod:`tools.routing.derived`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import Engine, and_, select

from core.errors import NotFoundError
from core.settings import Settings
from core.store.models import WavePlanRow, WavePolicyRow, WaveRow, table_of
from tools.canonical import map_to_canonical
from tools.canonical.output import output_dir, require_complete_run
from tools.canonical.repository import list_mappings
from tools.content.sources import SourceRegistry
from tools.routing.derived import WaveLookup


@dataclass(frozen=True)
class ApprovedMapping:
    """The mapping whose canonical output routing reads."""

    mapping_id: str
    version: int


@dataclass
class CanonicalBatches:
    """An iterable of canonical batches that knows its row count (for progress bars)."""

    dataset: ds.Dataset
    batch_size: int
    system: str | None
    mapping: ApprovedMapping | None = None
    wave_lookup: WaveLookup | None = None  # planned waves, when a plan includes the source

    @property
    def total_rows(self) -> int:
        return self.dataset.count_rows()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        # One thread, files in name order: batch boundaries must not vary between runs. File by
        # file: a dataset scan reads ahead of a slow consumer and memory grows with the source.
        schema = self.dataset.schema
        for path in sorted(self.dataset.files):
            for batch in pq.ParquetFile(path).iter_batches(
                batch_size=self.batch_size, use_threads=False
            ):
                if batch.num_rows:
                    yield batch if batch.schema.equals(schema) else batch.cast(schema)


def latest_approved_mapping(engine: Engine, tenant: str, source_id: str) -> ApprovedMapping | None:
    """The source's newest mapping that has an approved version, with that version."""

    approved = [
        m
        for m in list_mappings(engine, tenant=tenant, source_id=source_id)
        if m.approved_version is not None
    ]
    if not approved:
        return None
    newest = approved[-1]  # list_mappings is oldest first
    return ApprovedMapping(newest.mapping_id, int(newest.approved_version or 0))


def require_approved_mapping(engine: Engine, tenant: str, source_id: str) -> ApprovedMapping:
    """:func:`latest_approved_mapping`, or a NotFoundError saying how to get one."""
    mapping = latest_approved_mapping(engine, tenant, source_id)
    if mapping is None:
        raise NotFoundError(
            f"source '{source_id}' has no approved mapping",
            fix=f"run data-mash map-to-canonical {source_id}, then "
            "data-mash approve-mapping MAPPING_ID",
        )
    return mapping


def canonical_dir(settings: Settings, tenant: str, mapping: ApprovedMapping) -> Path:
    """``<home>/canonical/<tenant>/<mapping_id>/v<version>`` (the mapping engine's layout)."""

    return output_dir(settings, tenant, mapping.mapping_id, mapping.version)


def open_canonical_parts(
    folder: Path, *, batch_size: int, system: str | None, mapping: ApprovedMapping | None = None
) -> CanonicalBatches:
    """Stream the Parquet parts of one folder (name order) as canonical batches."""
    parts = sorted(folder.glob("part-*.parquet"))  # part numbers are batch numbers
    if not parts:
        mapping_id = mapping.mapping_id if mapping else "MAPPING_ID"
        raise NotFoundError(
            "no canonical records written yet",
            where=str(folder),
            fix=f"write them with: data-mash mapping run {mapping_id} "
            "(MCP: map_to_canonical); data-mash route runs it for you when not a dry run",
        )
    return CanonicalBatches(
        ds.dataset([str(p) for p in parts], format="parquet"), batch_size, system, mapping
    )


def ensure_canonical_records(
    engine: Engine,
    settings: Settings,
    source_id: str,
    tenant: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Any | None:
    """Run the source's approved mapping when it has written no canonical records yet.

    Routing reads canonical records; a person who approved a mapping expects to route next, so
    the mapping run (batched, audited, resumable) happens here instead of failing with a hint.

    Returns:
        The mapping run's result (``MapRunResult``), or None when the records already exist.

    Raises:
        NotFoundError: the source is unknown or has no approved mapping.
    """
    SourceRegistry(engine, tenant=tenant).get(source_id)
    mapping = require_approved_mapping(engine, tenant, source_id)
    if any(canonical_dir(settings, tenant, mapping).glob("part-*.parquet")):
        return None

    return map_to_canonical(
        engine,
        settings,
        mapping.mapping_id,
        tenant=tenant,
        version=mapping.version,
        progress=progress,
    )


def canonical_batches_for_source(
    engine: Engine, settings: Settings, source_id: str, tenant: str
) -> CanonicalBatches:
    """Canonical records of a source's latest approved mapping, as streamed Arrow batches.

    The result also carries the source's ``system`` and its planned-wave lookup, which
    :func:`tools.routing.decisions.route_source` uses for the derived fields.

    Raises:
        NotFoundError: the source is unknown, has no approved mapping, or its canonical records
            have not been written.
        InputError: the mapping run that writes them stopped part-way (or is still running).
    """
    source = SourceRegistry(engine, tenant=tenant).get(source_id)
    mapping = require_approved_mapping(engine, tenant, source_id)

    folder = canonical_dir(settings, tenant, mapping)
    require_complete_run(folder, mapping.mapping_id, mapping.version)  # never a partial run
    batches = open_canonical_parts(
        folder,
        batch_size=settings.batch_size,
        system=source.system,
        mapping=mapping,
    )
    batches.wave_lookup = planned_wave_lookup(engine, tenant, source_id)
    return batches


def planned_wave_lookup(engine: Engine, tenant: str, source_id: str) -> WaveLookup | None:
    """Wave numbers of a source's policies in the newest wave plan that includes the source.

    Returns None when no plan places any policy of the source (``wave`` then stays null). The
    lookup queries per batch, so memory does not grow with the size of the plan.
    """

    plan, wave, member = table_of(WavePlanRow), table_of(WaveRow), table_of(WavePolicyRow)
    with engine.connect() as conn:
        plan_id = conn.execute(
            select(plan.c.plan_id)
            .where(
                and_(
                    plan.c.tenant == tenant,
                    select(member.c.rowid)
                    .where(
                        and_(
                            member.c.tenant == tenant,
                            member.c.plan_id == plan.c.plan_id,
                            member.c.source_id == source_id,
                        )
                    )
                    .exists(),
                )
            )
            .order_by(plan.c.updated_at.desc(), plan.c.id.desc())
            .limit(1)
        ).scalar()
    if plan_id is None:
        return None

    def lookup(policy_ids: pa.Array) -> pa.Array:
        ids = policy_ids.to_pylist()
        numbers: dict[str, int] = {}
        with engine.connect() as conn:
            for start in range(0, len(ids), 900):  # SQLite's bound-parameter cap
                rows = conn.execute(
                    select(member.c.policy_id, wave.c.number)
                    .join(
                        wave,
                        and_(wave.c.tenant == member.c.tenant, wave.c.wave_id == member.c.wave_id),
                    )
                    .where(
                        and_(
                            member.c.tenant == tenant,
                            member.c.plan_id == plan_id,
                            member.c.policy_id.in_(ids[start : start + 900]),
                        )
                    )
                )
                numbers.update({row.policy_id: row.number for row in rows})
        return pa.array([numbers.get(pid) for pid in ids], pa.int32())

    return lookup
