"""Every assembly of a tenant at a glance: its spec's shape, whether it ran, and its last result.

What the console's assemblies page and ``GET /api/v1/assemblies`` show. The run result is the
outcome the run committed to the audit log (``run_assembly``), so it is the same document
``data-mash assembly run --json`` printed, and a run that stopped part-way shows as incomplete.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, select

from core.settings import Settings
from core.statuses import AssemblyStatus
from core.store.models import AssemblyRow, AuditEntry, table_of
from tools.assembly.contracts import AssemblyRunResult, AssemblySpec
from tools.assembly.output import run_dir
from tools.assembly.relationships import NAMESPACE
from tools.audit import AuditStatus
from tools.canonical.output import run_state

ASSEMBLY = table_of(AssemblyRow)
ENTRY = table_of(AuditEntry)

RunState = Literal["not run", "incomplete", "complete"]


class AssemblySummary(BaseModel):
    """One assembly: root, components, status, and how its run stands."""

    assembly_id: str
    version: int
    status: AssemblyStatus = Field(description="Only approved assemblies run.")
    root: str
    root_name: str
    components: list[str] = Field(description="Source names of the non-root components.")
    run: RunState = Field(description="not run, incomplete (stopped part-way) or complete.")
    result: AssemblyRunResult | None = Field(
        None, description="The last finished run's counts (as `assembly run --json`)."
    )


def list_assemblies(engine: Engine, settings: Settings, *, tenant: str) -> list[AssemblySummary]:
    """The tenant's assemblies, newest first, each with its run state and last result."""
    with engine.connect() as conn:
        specs = conn.execute(
            select(ASSEMBLY.c.spec)
            .where(ASSEMBLY.c.tenant == tenant)
            .order_by(ASSEMBLY.c.id.desc())
        ).scalars()
        rows = [AssemblySpec.model_validate(spec) for spec in specs]
        outcomes = dict(
            conn.execute(
                select(ENTRY.c.target, ENTRY.c.outcome)
                .where(
                    and_(
                        ENTRY.c.tenant == tenant,
                        ENTRY.c.namespace == NAMESPACE,
                        ENTRY.c.operation == "run_assembly",
                        ENTRY.c.status == AuditStatus.OK,
                    )
                )
                .order_by(ENTRY.c.id)
            ).all()
        )
    found = []
    for spec in rows:
        state = run_state(run_dir(settings, tenant, spec.assembly_id))
        run: RunState = "not run"
        if state:
            run = "complete" if state.get("complete") is True else "incomplete"
        outcome = outcomes.get(spec.assembly_id)
        found.append(
            AssemblySummary(
                assembly_id=spec.assembly_id,
                version=spec.version,
                status=spec.status,
                root=spec.root,
                root_name=spec.root_name,
                components=[c.source_name for c in spec.components],
                run=run,
                result=AssemblyRunResult.model_validate(outcome)
                if outcome and run == "complete"
                else None,
            )
        )
    return found
