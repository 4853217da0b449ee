"""What a plan reads its policies from: ingested sources, or assemblies of whole policies.

A plan's inputs (``Plan.source_ids``, one ``wave_policy.source_id`` per policy) are either
source ids (``src_...``: the canonical records of the source's approved mapping, one source's
view of a policy) or assembly ids (``asm-...``: the documents of a finished assembly run, one
whole policy each, its coverages, payments, endorsements, letters and claims joined from every
system; :func:`tools.assembly.output.assembled_batches`). Waves run the same saga on both; an
assembly's documents carry every list component, so the new platform stores each policy with
its child rows and the validate milestone reconciles per component.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Engine, and_, select

from core.errors import InputError, NotFoundError
from core.settings import Settings
from core.statuses import AssemblyStatus
from core.store.models import AssemblyRow, table_of
from tools.assembly.contracts import AssemblySpec
from tools.assembly.output import assembled_batches, assembled_parts
from tools.assembly.spec import get_assembly
from tools.assembly.stage import contributors
from tools.content.sources import SourceRegistry

#: Assembly ids are ``asm-<hex>``; source ids ``src_<hex>``: the prefix tells them apart.
ASSEMBLY_PREFIX = "asm-"
ASSEMBLY = table_of(AssemblyRow)


def is_assembly(ref: str) -> bool:
    """True when a plan input names an assembly rather than a source."""
    return ref.startswith(ASSEMBLY_PREFIX)


def ready_assembly(
    engine: Engine, settings: Settings, tenant: str, assembly_id: str
) -> AssemblySpec:
    """The approved assembly whose run finished (what a plan or a wave may read).

    Raises:
        NotFoundError: no such assembly, or it has not been run.
        InputError: it is not approved, or its run stopped part-way.
    """
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    if spec.status != AssemblyStatus.APPROVED:
        raise InputError(
            f"assembly '{assembly_id}' is not approved",
            where=f"--assembly {assembly_id}",
            fix=f"review and approve it: data-mash assembly approve {assembly_id}, "
            f"then data-mash assembly run {assembly_id}",
        )
    assembled_parts(settings, tenant, assembly_id)  # raises: not run, or unfinished
    return spec


def assembly_records(
    engine: Engine, settings: Settings, tenant: str, assembly_id: str
) -> Iterator[pa.RecordBatch]:
    """The assembled policies of a finished run, sorted by policy id, in fixed batches.

    Raises:
        NotFoundError, InputError: see :func:`ready_assembly`.
    """
    ready_assembly(engine, settings, tenant, assembly_id)
    for batch in assembled_batches(settings, tenant, assembly_id, batch_size=settings.batch_size):
        if batch.num_rows:
            yield batch


def assembly_sources(engine: Engine, tenant: str, assembly_id: str) -> list[str]:
    """The sources an assembly reads: its root first, then its components."""
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    return [spec.root, *(c.source for c in spec.components)]


def check_staged(engine: Engine, settings: Settings, tenant: str, ref: str) -> int:
    """Check a plan input is still there to migrate from; its record count.

    A source must be staged; an assembly must be approved with a finished run, and every source
    it reads staged.

    Raises:
        NotFoundError: a source is not staged, or the assembly is gone or not run.
        InputError: the assembly is not approved or its run did not finish.
    """
    registry = SourceRegistry(engine, tenant=tenant)
    sources = [ref]
    if is_assembly(ref):
        ready_assembly(engine, settings, tenant, ref)
        sources = assembly_sources(engine, tenant, ref)
    records = 0
    for source_id in sources:
        info = registry.find(source_id)
        if info is None or not Path(info.staging_dir).exists():
            raise NotFoundError(
                f"source '{source_id}'{f' of assembly {ref}' if ref != source_id else ''} "
                "is not staged",
                where=source_id,
                fix="ingest it again with data-mash ingest PATH",
            )
        records += info.records
    return records


def root_system(engine: Engine, tenant: str, assembly_id: str) -> str | None:
    """The system of an assembly's root source (the system its policies are migrated from)."""
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    found = SourceRegistry(engine, tenant=tenant).find(spec.root)
    return found.system if found else None


def assembly_confidences(engine: Engine, tenant: str, assembly_id: str) -> dict[str, float]:
    """Field -> the lowest confidence of the rules (root's approved, components' frozen) that
    fill it in the assembly's documents."""
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    out: dict[str, float] = {}
    for part in contributors(engine, tenant, spec):
        for rule in part.rules:
            if rule.mapped:
                out[rule.target] = min(out.get(rule.target, 1.0), float(rule.confidence))
    return out


def assembly_confirmations(
    engine: Engine, tenant: str, assembly_id: str
) -> dict[str, dict[str, str]]:
    """Field -> who confirmed it: a person for the root's confirmed rules; the assembly's
    approval for the component rules frozen with it (approving an assembly approves them)."""
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    with engine.connect() as conn:
        approved_at = conn.execute(
            select(ASSEMBLY.c.approved_at).where(
                and_(ASSEMBLY.c.tenant == tenant, ASSEMBLY.c.assembly_id == assembly_id)
            )
        ).scalar()
    approval = {
        "by": f"approval of {assembly_id}",
        "at": approved_at.isoformat()[:19] if approved_at else "",
    }
    out: dict[str, dict[str, str]] = {}
    for part in contributors(engine, tenant, spec):
        for rule in part.rules:
            if not rule.mapped:
                continue
            if part.kind == "root":
                if rule.confirmed:
                    at = rule.confirmed_at.isoformat()[:19] if rule.confirmed_at else ""
                    out.setdefault(rule.target, {"by": rule.confirmed_by or "unknown", "at": at})
            else:
                out.setdefault(rule.target, dict(approval))
    return out
