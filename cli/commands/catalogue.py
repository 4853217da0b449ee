"""What exists, with the ids to pass on: mappings, plans, waves, canonical fields, columns."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cli.app import app
from cli.commands import waves as wave_commands
from cli.commands.mapping import mapping_app
from cli.commands.waves import wave_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from tools.canonical.contracts import CanonicalFieldList, MappingList
from tools.content.contracts import ColumnHits
from tools.waves.contracts import PlanList, WaveList

plan_app = typer.Typer(help="List wave plans.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


@mapping_app.command("list")
def mapping_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only mappings of this source.")] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """List mappings: id, source, versions, status (ids for approve-mapping, mapping run...)."""
    from tools.canonical import list_mappings

    state = state_for(ctx, json_out, tenant)
    found = list_mappings(state.engine, tenant=state.settings.tenant, source_id=source)
    emit(
        state,
        MappingList(mappings=found),
        lambda console: console.print(
            table(
                "Mappings"
                if found
                else "No mappings yet (propose one: data-mash map-to-canonical)",
                ["mapping", "source", "canonical", "latest", "approved", "status", "fields"],
                [
                    (
                        m.mapping_id,
                        m.source_id,
                        m.canonical,
                        m.latest_version,
                        m.approved_version or "-",
                        m.status,
                        m.mapped_fields,
                    )
                    for m in found
                ],
            )
        ),
    )


@plan_app.command("list")
def plan_list(
    ctx: typer.Context, json_out: JsonOption = False, tenant: TenantOption = None
) -> None:
    """List wave plans: id, target, sources, waves, policies."""
    from tools.waves.listing import list_plans

    state = state_for(ctx, json_out, tenant)
    found = list_plans(wave_commands._context(state))
    emit(
        state,
        PlanList(plans=found),
        lambda console: console.print(
            table(
                "Plans" if found else "No plans yet (make one: data-mash generate-plan)",
                ["plan", "version", "target", "sources", "waves", "policies", "created"],
                [
                    (
                        p.plan_id,
                        p.version,
                        p.target,
                        ", ".join(p.source_ids),
                        len(p.waves),
                        p.summary.get("policies", sum(w.policy_count for w in p.waves)),
                        p.created_at.isoformat()[:19],
                    )
                    for p in found
                ],
            )
        ),
    )


@wave_app.command("list")
def wave_list(
    ctx: typer.Context,
    plan: Annotated[str | None, typer.Option(help="Only waves of this plan.")] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """List waves: id, plan, status, policies, migrated (ids for wave run, gates...)."""
    from tools.waves.listing import list_waves

    state = state_for(ctx, json_out, tenant)
    found = list_waves(wave_commands._context(state), plan_id=plan)
    emit(
        state,
        WaveList(waves=found),
        lambda console: console.print(
            table(
                "Waves" if found else "No waves yet (make a plan: data-mash generate-plan)",
                ["wave", "plan", "label", "target", "status", "policies", "migrated", "failed"],
                [
                    (
                        w.wave_id,
                        w.plan_id,
                        w.label,
                        w.target,
                        w.status,
                        w.policy_count,
                        w.migrated,
                        w.failed,
                    )
                    for w in found
                ],
            )
        ),
    )


@app.command("fields")
def canonical_fields(
    ctx: typer.Context,
    canonical: Annotated[str, typer.Option(help="Canonical model version.")] = "policy_v1",
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """List the canonical model's fields (the targets of `mapping set-field`)."""
    from knowledge.canonical import fields

    state = state_for(ctx, json_out, tenant)
    found = fields(canonical)

    def render(console: Console) -> None:
        console.print(
            table(
                f"Canonical fields of {canonical} ({len(found)})",
                ["field", "type", "mandatory", "values", "description"],
                [
                    (
                        f.path,
                        f.type,
                        "yes" if f.mandatory else "",
                        ", ".join(f.allowed_values or ()),
                        f.description,
                    )
                    for f in found
                ],
            )
        )

    emit(
        state,
        CanonicalFieldList(canonical=canonical, fields=found),
        render,
    )


@app.command("search-columns")
def search_columns(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What the column means, e.g. 'premium amount'.")],
    source: Annotated[str | None, typer.Option(help="Only columns of this source.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=50, help="Maximum hits.")] = 10,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Find columns of every ingested source by meaning (semantic search)."""
    from tools.content.indexing import search_columns as search

    state = state_for(ctx, json_out, tenant)
    hits = search(
        state.settings, query, tenant=state.settings.tenant, limit=limit, source_id=source
    )
    emit(
        state,
        ColumnHits(query=query, hits=hits),
        lambda console: console.print(
            table(
                f"Columns meaning '{query}'",
                ["source", "column", "score", "document"],
                [(h.source_id, h.column, f"{h.score:.3f}", h.document[:80]) for h in hits],
            )
        ),
    )
