"""Whole-policy assembly commands: how sources relate (``relate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.app import app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table


@app.command("relate")
def relate(
    ctx: typer.Context,
    source_ids: Annotated[
        list[str], typer.Argument(help="Two or more source ids from data-mash sources.")
    ],
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm", help="Store the relationships as the next confirmed version (audited)."
        ),
    ] = False,
    min_confidence: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="With --confirm: keep proposals at or above this confidence."
        ),
    ] = 0.0,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="With --confirm: the relationships to store instead of the proposals "
            "(YAML/JSON list of parent, parent_key, child, child_key; names or ids).",
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Discover how sources relate: which column of a child refers to which parent key.

    Keys match as written or by number (prefixes, separators, zero padding, case and a -NN
    suffix stripped), or through a crosswalk source; each relationship carries its key
    transform, match rate, cardinality, orphans (with a sample) and a confidence. Nothing is
    stored unless --confirm is given.
    """
    from tools.assembly import confirm_relationships, propose_relationships
    from tools.assembly.relationships import load_edits

    state = state_for(ctx, json_out, tenant)
    settings = state.settings
    if file is not None and not confirm:
        raise typer.BadParameter("--file lists relationships to confirm: add --confirm")
    if confirm:
        edits = load_edits(file) if file is not None else None
        result = confirm_relationships(
            state.engine,
            settings,
            source_ids,
            tenant=settings.tenant,
            min_confidence=min_confidence,
            edits=edits,
        )
    else:
        result = propose_relationships(state.engine, settings, source_ids, tenant=settings.tenant)

    def render(console: Console) -> None:
        title = (
            f"Confirmed relationships, version {result.version}"
            if result.version
            else "Proposed relationships (store them with --confirm)"
        )
        console.print(
            table(
                title,
                ["parent", "child", "key transform", "match", "orphans", "card.", "conf."],
                [
                    (
                        f"{r.parent_name}.{r.parent_key}",
                        f"{r.child_name}.{r.child_key}",
                        r.key_transform.description if r.key_transform else "as written",
                        f"{r.match_rate:.1%}",
                        f"{r.orphans} {', '.join(r.orphan_sample[:3])}".strip(),
                        r.cardinality,
                        f"{r.confidence:.2f}",
                    )
                    for r in result.relationships
                ],
            )
        )
        if result.note:
            console.print(f"[yellow]note:[/yellow] {result.note}")

    emit(state, result.model_dump(mode="json"), render)
