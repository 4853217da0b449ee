"""Whole-policy assembly commands: how sources relate (``relate``), and which sources make one
policy (``assembly propose`` / ``assembly approve``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from cli.progress import step_progress
from tools.assembly import confirm_relationships, propose_relationships
from tools.assembly.contracts import AssemblyRunResult, AssemblySpec
from tools.assembly.crosswalks import load_edits as load_crosswalk_edits
from tools.assembly.output import list_conflicts, show_policy
from tools.assembly.relationships import load_edits as load_relationship_edits
from tools.assembly.review import edit_assembly
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.assembly.survivorship import read_rules

app = command_app()


def _input_file(flag: str, help_text: str) -> Any:
    """An option naming a file the command reads: it must exist and not be a folder."""
    return typer.Option(flag, exists=True, dir_okay=False, help=help_text)


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
        _input_file(
            "--file",
            "With --confirm: the relationships to store instead of the proposals "
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

    state = state_for(ctx, json_out, tenant)
    settings = state.settings
    if file is not None and not confirm:
        raise typer.BadParameter("--file lists relationships to confirm: add --confirm")
    if confirm:
        edits = load_relationship_edits(file) if file is not None else None
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

    emit(state, result, render)


assembly_app = typer.Typer(
    help="Assemble whole policies: propose and approve which sources make one policy.",
    no_args_is_help=True,
)
app.add_typer(assembly_app, name="assembly")


@assembly_app.command("propose")
def assembly_propose(
    ctx: typer.Context,
    root: Annotated[str, typer.Option("--root", help="Source holding one row per policy.")],
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source", help="A component source (repeat); default every source related to root."
        ),
    ] = None,
    survivorship: Annotated[
        Path | None,
        _input_file(
            "--survivorship",
            "YAML survivorship rules (rules: [{field, rule, sources, tolerance}]).",
        ),
    ] = None,
    relationships: Annotated[
        int | None,
        typer.Option(
            "--relationships",
            min=1,
            help="The confirmed relationships version to build on (its sources are the "
            "candidates); default the latest one holding every source.",
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Propose which sources feed which canonical components of a whole policy.

    Uses the given (or the latest) confirmed relationships (or proposes them), each source's
    approved mapping
    (or proposes one), survivorship rules for fields several sources supply, and the code
    crosswalks of every coded field. Stored as a draft; approve with `assembly approve`.
    """

    state = state_for(ctx, json_out, tenant)
    spec = propose_assembly(
        state.engine,
        state.settings,
        root,
        list(source or []),
        tenant=state.settings.tenant,
        survivorship=survivorship,
        relationships_version=relationships,
    )
    emit(state, spec, lambda console: _render_spec(console, spec))


@assembly_app.command("edit")
def assembly_edit(
    ctx: typer.Context,
    assembly_id: Annotated[str, typer.Argument(help="A draft assembly id.")],
    crosswalks: Annotated[
        Path | None,
        _input_file(
            "--crosswalks",
            "Crosswalk decisions, YAML: `crosswalks: [{source, column, value, canonical}]` "
            "(canonical: null leaves a value unmapped).",
        ),
    ] = None,
    survivorship: Annotated[
        Path | None,
        _input_file(
            "--survivorship",
            "YAML survivorship rules, each replacing the rule of its field.",
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Edit a draft assembly's crosswalk values and survivorship rules (its next version).

    Every edit is checked first (the file and line of a bad one are named, nothing stored);
    the new version goes through the write-ahead audit log with the edits. Approved
    assemblies never change.
    """
    state = state_for(ctx, json_out, tenant)
    spec = edit_assembly(
        state.engine,
        assembly_id,
        tenant=state.settings.tenant,
        crosswalk_edits=load_crosswalk_edits(crosswalks) if crosswalks is not None else None,
        survivorship=read_rules(survivorship) if survivorship is not None else None,
    )
    emit(state, spec, lambda console: _render_spec(console, spec))


@assembly_app.command("approve")
def assembly_approve(
    ctx: typer.Context,
    assembly_id: Annotated[str, typer.Argument(help="Assembly id from assembly propose.")],
    min_confidence: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Leave out components and crosswalk values below this confidence.",
        ),
    ] = None,
    crosswalks: Annotated[
        Path | None,
        _input_file(
            "--crosswalks",
            "Your crosswalk decisions, YAML: `crosswalks: [{source: billing, column: Freq, "
            "value: '7', canonical: annual}]` (canonical: null leaves a value unmapped, its "
            "records quarantined). A canonical value outside the field's values is refused "
            "with the file and line.",
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Approve an assembly (frozen afterwards); the root's mapping must be approved.

    The crosswalks proposed for every coded column are approved as listed by `assembly
    propose`, with --crosswalks edits applied; values left unmapped quarantine exactly the
    records that hold them when the assembly runs.
    """

    state = state_for(ctx, json_out, tenant)
    edits = load_crosswalk_edits(crosswalks) if crosswalks is not None else None
    spec = approve_assembly(
        state.engine,
        assembly_id,
        tenant=state.settings.tenant,
        min_confidence=min_confidence,
        crosswalk_edits=edits,
    )
    emit(state, spec, lambda console: _render_spec(console, spec))


def _render_spec(console: Console, spec: AssemblySpec) -> None:
    console.print(
        table(
            f"Assembly {spec.assembly_id} ({spec.status}) around {spec.root_name}",
            ["source", "joins as", "key", "lists", "fields", "mapping"],
            [
                (
                    c.source_name,
                    c.direction,
                    f"{c.relationship.child_key} -> {c.relationship.parent_key}",
                    ", ".join(c.lists),
                    len(c.scalars),
                    f"{c.mapping_id} v{c.mapping_version} ({c.mapping_status})",
                )
                for c in spec.components
            ],
        )
    )
    for rule in spec.survivorship:
        console.print(f"  survivorship {rule.field}: {rule.rule} {' > '.join(rule.sources)}")
    for xw in spec.crosswalks:
        if xw.unmapped_rows:
            missing = [v.value for v in xw.values if v.canonical is None]
            console.print(
                f"  crosswalk {xw.source_name}.{xw.column} -> {xw.field}: "
                f"{xw.unmapped_rows} rows unmapped ({', '.join(missing[:5])})"
            )
        for v in xw.values:
            if v.canonical is None and v.suggested is not None:
                console.print(f"    '{v.value}' -> {v.suggested}? {v.evidence}")
    if spec.note:
        console.print(f"[yellow]note:[/yellow] {spec.note}")


@assembly_app.command("run")
def assembly_run(
    ctx: typer.Context,
    assembly_id: Annotated[str, typer.Argument(help="An approved assembly id.")],
    batch_policies: Annotated[
        int | None,
        typer.Option(
            "--batch-policies",
            min=1,
            help="Policies per batch (a range of policy keys); a resumed run keeps its first.",
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Assemble one canonical document per policy from the root and every component source.

    Batched by policy-key range, checkpointed in the audit log: after a crash, run it again
    and it continues after the last finished batch. Prints the counts, completeness per source
    and the top reasons for quarantined and partial policies.
    """

    state = state_for(ctx, json_out, tenant)
    label = f"assemble {assembly_id}"
    with step_progress(enabled=not state.json) as steps:
        result = run_assembly(
            state.engine,
            state.settings,
            assembly_id,
            tenant=state.settings.tenant,
            batch_policies=batch_policies,
            progress=(lambda d, t: steps(label, d, t, "policies")) if steps else None,
            status=(lambda text: steps.status(label, text)) if steps else None,
        )
        if steps:
            steps.finish(label)
    emit(state, result, lambda console: _render_run(console, result))


def _render_run(console: Console, result: AssemblyRunResult) -> None:
    console.print(
        f"[bold]{result.policies}[/bold] policies: {result.complete} complete, "
        f"{result.partial} partial, {result.quarantined} quarantined; "
        f"{result.conflicts} conflicts, {result.duplicates} duplicates, {result.orphans} orphans"
    )
    console.print(
        table(
            "Completeness per source",
            ["source", "joins as", "policies", "records", "arrived", "dupl.", "invalid", "orph."],
            [
                (
                    c.source,
                    c.kind,
                    c.policies_held,
                    c.records_held,
                    c.records_arrived,
                    c.duplicates,
                    c.quarantined_records,
                    c.orphans,
                )
                for c in result.components
            ],
        )
    )
    for title, reasons in (
        ("quarantined policies", result.quarantined_reasons),
        ("records left out (partial policies)", result.partial_reasons),
    ):
        if reasons:
            console.print(
                table(
                    f"Top reasons: {title}",
                    ["source", "field", "records", "example", "keys"],
                    [
                        (r.source, r.path, r.records, r.message, ", ".join(r.examples[:3]))
                        for r in reasons[:8]
                    ],
                )
            )
    console.print(f"documents: {result.output_dir}")


@assembly_app.command("conflicts")
def assembly_conflicts(
    ctx: typer.Context,
    assembly_id: Annotated[str, typer.Argument(help="An assembly that has been run.")],
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Conflicts to list.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Fields two sources hold with different values (both kept), and dropped duplicates."""

    state = state_for(ctx, json_out, tenant)
    result = list_conflicts(
        state.settings, state.settings.tenant, assembly_id, limit=limit, offset=offset
    )

    def render(console: Console) -> None:
        console.print(
            table(
                f"{result.total} conflicts in {assembly_id}",
                ["policy", "field", "kept", "from", "other", "from "],
                [
                    (c.policy_id, c.field, c.value, c.source, c.other_value, c.other_source)
                    for c in result.conflicts
                ],
            )
        )
        console.print(
            table(
                f"{result.duplicates_total} duplicates dropped",
                ["source", "key", "policy", "kept row", "dropped row"],
                [
                    (d.source, d.key, d.policy_id, d.kept_row, d.dropped_row)
                    for d in result.duplicates
                ],
            )
        )

    emit(state, result, render)


policy_app = typer.Typer(help="Assembled whole policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    policy_id: Annotated[str, typer.Argument(help="The policy id, as the root system writes it.")],
    assembly: Annotated[
        str | None,
        typer.Option(
            "--assembly", help="The assembly; default the newest assembly that holds the policy."
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """One assembled policy: the canonical document, where every field came from, and which
    of the estate's records for it arrived."""

    state = state_for(ctx, json_out, tenant)
    doc = show_policy(state.engine, state.settings, state.settings.tenant, policy_id, assembly)

    def render(console: Console) -> None:
        console.print(f"[bold]policy {doc.policy_id}[/bold] (assembly {doc.assembly_id})")
        console.print_json(doc.policy.model_dump_json(exclude_none=True))
        console.print(
            table(
                "Provenance",
                ["field", "system", "source", "rows", "columns"],
                [
                    (
                        p.field,
                        p.system,
                        p.source,
                        ", ".join(str(r) for r in p.rows[:6]) + (" ..." if len(p.rows) > 6 else ""),
                        ", ".join(p.columns[:4]),
                    )
                    for p in doc.provenance
                ],
            )
        )
        console.print(
            table(
                "Completeness",
                ["source", "joins as", "held", "arrived"],
                [(name, c.kind, c.held, c.arrived) for name, c in doc.completeness.items()],
            )
        )

    emit(state, doc, render)
