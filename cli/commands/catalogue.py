"""What exists in the canonical model and the ingested sources: fields, columns by meaning."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from knowledge.canonical import fields
from tools.canonical.contracts import CanonicalFieldList
from tools.content.contracts import ColumnHits
from tools.content.indexing import search_columns as search

app = command_app()


@app.command("fields")
def canonical_fields(
    ctx: typer.Context,
    canonical: Annotated[str, typer.Option(help="Canonical model version.")] = "policy_v1",
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """List the canonical model's fields (the targets of `mapping set-field`)."""
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
