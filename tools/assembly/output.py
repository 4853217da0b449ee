"""Where an assembly run's documents live, and how to read them back.

``<home>/assemblies/<tenant>/<assembly_id>/`` holds

- ``stage/``: each contributing source mapped and joined to the root's policy positions,
  sorted by position (built once, atomically, and reused by a resumed run);
- ``run/part-NNNNN.parquet``: the valid assembled policies in the canonical Arrow schema
  (``knowledge.canonical.arrow_schema``), one row per policy, sorted by the root's policy key;
  part numbers are batch numbers, so a re-run of a batch replaces its part;
- ``run/provenance/part-NNNNN.parquet``: per policy, the source rows that fed it and the source
  that won each contested field (side files the canonical readers never open);
- ``run/conflicts/``, ``run/quarantine/``: per batch, conflicts and quarantined policies;
- ``run/_run.json``: whether every batch is written (consumers refuse an unfinished run).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, and_, select

from core.errors import InputError, NotFoundError
from core.ids import tenant_path
from core.settings import Settings
from core.statuses import AssemblyStatus
from core.store.models import AssemblyRow, table_of
from knowledge.canonical import CanonicalPolicyV1, arrow_to_records
from tools.assembly.contracts import (
    ConflictList,
    ConflictRecord,
    DuplicateRecord,
    FieldProvenance,
    PolicyDocument,
    SourceCompleteness,
)
from tools.assembly.provenance import expand
from tools.canonical.output import run_state

STAGE = "stage"
RUN = "run"
PROVENANCE = "provenance"
CONFLICTS = "conflicts"
QUARANTINE = "quarantine"
ASSEMBLY = table_of(AssemblyRow)


def assembly_dir(settings: Settings, tenant: str, assembly_id: str) -> Path:
    """``<home>/assemblies/<tenant>/<assembly_id>``."""
    return tenant_path(settings.path("assemblies"), tenant, assembly_id)


def run_dir(settings: Settings, tenant: str, assembly_id: str) -> Path:
    """The folder of an assembly run's canonical parts."""
    return assembly_dir(settings, tenant, assembly_id) / RUN


def _require_run(settings: Settings, tenant: str, assembly_id: str) -> Path:
    folder = run_dir(settings, tenant, assembly_id)
    state = run_state(folder)
    if not state:
        raise NotFoundError(
            f"assembly '{assembly_id}' has not been run",
            where=str(folder),
            fix=f"run `data-mash assembly run {assembly_id}` first",
        )
    if state.get("complete") is not True:
        raise InputError(
            f"the run of assembly '{assembly_id}' is incomplete (it stopped part-way, or is "
            "still running); its documents cannot be used yet",
            where=str(folder),
            fix=f"resume it with: data-mash assembly run {assembly_id}",
        )
    return folder


def assembled_parts(settings: Settings, tenant: str, assembly_id: str) -> list[Path]:
    """The canonical parts of a finished run, in policy-key order.

    Raises:
        NotFoundError: the assembly has not been run.
        InputError: its run did not finish.
    """
    folder = _require_run(settings, tenant, assembly_id)
    return sorted(folder.glob("part-*.parquet"))


def assembled_batches(
    settings: Settings, tenant: str, assembly_id: str, *, batch_size: int = 10_000
) -> Iterator[pa.RecordBatch]:
    """Stream a finished run's assembled policies (canonical Arrow schema), sorted by policy key.

    Raises:
        NotFoundError: the assembly has not been run (fix: ``data-mash assembly run ID``).
        InputError: its run did not finish.
    """
    for part in assembled_parts(settings, tenant, assembly_id):
        yield from pq.ParquetFile(part).iter_batches(batch_size=batch_size)


def side_table(settings: Settings, tenant: str, assembly_id: str, kind: str) -> pa.Table | None:
    """All per-batch side files of one kind (conflicts, quarantine, provenance), or None."""
    folder = _require_run(settings, tenant, assembly_id) / kind
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        return None
    return pa.concat_tables([pq.read_table(p) for p in parts])


def _find(parts: list[Path], policy_id: str, column: str) -> tuple[Path, pa.Table] | None:
    for part in parts:
        table = pq.read_table(part, filters=[(column, "=", policy_id)])
        if table.num_rows:
            return part, table
    return None


def policy_document(
    engine: Engine, settings: Settings, tenant: str, assembly_id: str, policy_id: str
) -> tuple[dict[str, Any], list[FieldProvenance], dict[str, SourceCompleteness]]:
    """One assembled policy: its canonical document, per-field provenance and completeness.

    Raises:
        NotFoundError: the assembly has not been run, or holds no such (valid) policy.
    """
    parts = assembled_parts(settings, tenant, assembly_id)
    found = _find(parts, policy_id, "policy_core.policy_id")
    if found is None:
        raise NotFoundError(
            f"policy '{policy_id}' is not among the assembled policies of {assembly_id}",
            where=f"assembly {assembly_id}",
            fix="check the id (as the root system writes it), or look for it in "
            f"`data-mash assembly conflicts {assembly_id}` and the run's quarantine",
        )
    part, table = found
    document = next(iter(arrow_to_records(table.slice(0, 1))))
    prov = pq.read_table(
        part.parent / PROVENANCE / part.name, filters=[("policy_id", "=", policy_id)]
    )
    row = prov.slice(0, 1).to_pylist()[0] if prov.num_rows else {}
    provenance, completeness = expand(engine, tenant, assembly_id, row)
    return document, provenance, completeness


def policy_ids(table: pa.Table) -> list[str]:
    """The non-null policy ids of a canonical table."""
    ids = table.column("policy_core.policy_id")
    return [v for v in pc.drop_null(ids).to_pylist() if v]


def list_conflicts(
    settings: Settings, tenant: str, assembly_id: str, *, limit: int = 100, offset: int = 0
) -> ConflictList:
    """A finished run's conflicts (both values, both sources) and dropped duplicates, paged.

    Raises:
        NotFoundError: the assembly has not been run.
    """
    folder = _require_run(settings, tenant, assembly_id)
    conflicts = side_table(settings, tenant, assembly_id, CONFLICTS)
    rows = conflicts.slice(offset, limit).to_pylist() if conflicts is not None else []
    dups_path = folder.parent / STAGE / "duplicates.parquet"
    dups = pq.read_table(dups_path) if dups_path.is_file() else None
    ids = _ids_by_pos(folder)
    duplicates = []
    if dups is not None:
        for d in dups.slice(offset, limit).to_pylist():
            duplicates.append(
                DuplicateRecord(
                    source=d["source"],
                    key=d["key"],
                    policy_id=ids.get(d["pos"]) if d["pos"] is not None else None,
                    kept_row=int(d["kept"]),
                    dropped_row=int(d["row"]),
                )
            )
    return ConflictList(
        assembly_id=assembly_id,
        total=conflicts.num_rows if conflicts is not None else 0,
        conflicts=[ConflictRecord(**r) for r in rows],
        duplicates_total=dups.num_rows if dups is not None else 0,
        duplicates=duplicates,
        offset=offset,
        limit=limit,
    )


def _ids_by_pos(folder: Path) -> dict[int, str]:
    """Policy position -> policy id, from the provenance side files (one int and id each)."""
    out: dict[int, str] = {}
    for part in sorted((folder / PROVENANCE).glob("part-*.parquet")):
        table = pq.read_table(part, columns=["pos", "policy_id"])
        out.update(
            zip(table.column("pos").to_pylist(), table.column("policy_id").to_pylist(), strict=True)
        )
    return out


def _assemblies(engine: Engine, tenant: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ASSEMBLY.c.assembly_id)
            .where(and_(ASSEMBLY.c.tenant == tenant, ASSEMBLY.c.status == AssemblyStatus.APPROVED))
            .order_by(ASSEMBLY.c.id.desc())
        ).fetchall()
    return [r[0] for r in rows]


def show_policy(
    engine: Engine, settings: Settings, tenant: str, policy_id: str, assembly_id: str | None
) -> PolicyDocument:
    """``policy show``: the document of ``policy_id`` in the given (or newest holding) assembly.

    Raises:
        NotFoundError: no run of an assembly holds the policy (or the assembly was not run).
    """
    if assembly_id is not None:
        candidates = [assembly_id]
    else:
        candidates = [
            a for a in _assemblies(engine, tenant) if run_state(run_dir(settings, tenant, a))
        ]
        if not candidates:
            raise NotFoundError(
                "no assembly has been run",
                where=f"tenant {tenant}",
                fix="run `data-mash assembly run ASSEMBLY_ID` first",
            )
    for candidate in candidates:
        try:
            document, provenance, completeness = policy_document(
                engine, settings, tenant, candidate, policy_id
            )
        except NotFoundError:
            if assembly_id is not None:
                raise
            continue
        return PolicyDocument(
            policy_id=policy_id,
            assembly_id=candidate,
            policy=CanonicalPolicyV1.model_validate(document),
            provenance=provenance,
            completeness=completeness,
        )
    raise NotFoundError(
        f"policy '{policy_id}' is in no assembled run",
        where=f"assemblies {', '.join(candidates[:5])}",
        fix="check the id as the root system writes it, or pass --assembly",
    )
