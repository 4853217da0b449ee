"""Mapping commands: propose, edit, approve, validate, run and export mappings to canonical v1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli import confirm
from cli.app import command_app
from cli.confirm import YesOption, confirm_or_stop
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from cli.progress import step_progress
from core.errors import InputError
from core.statuses import MappingStatus
from tools.canonical import approve_mapping as approve
from tools.canonical import (
    assess_mapping_change,
    diff_mappings,
    export_mapping,
    get_mapping,
    list_mappings,
    update_field_mapping,
    validate_records,
)
from tools.canonical import map_to_canonical as run
from tools.canonical.contracts import MappingComparison, MappingList, MappingView
from tools.canonical.matching.calibration import DEFAULT_THRESHOLD
from tools.canonical.suggest import suggest_mapping

app = command_app()

mapping_app = typer.Typer(help="Inspect, edit, run and compare mappings.", no_args_is_help=True)
app.add_typer(mapping_app, name="mapping")

FORMATS = ("json", "yaml", "sql", "jsonl", "parquet")


@app.command("map-to-canonical")
def map_to_canonical(
    ctx: typer.Context,
    source_id: Annotated[str, typer.Argument(help="Source id from data-mash sources.")],
    canonical: Annotated[str, typer.Option(help="Canonical model version.")] = "policy_v1",
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Propose a mapping of a source to the canonical model (stored as a draft).

    Every column gets ranked canonical candidates with a calibrated confidence and the evidence
    (name, values, code tables, meaning); transforms (date formats, decimal commas, code tables)
    are inferred from sample values. Review, edit with `data-mash mapping set-field`, then
    `data-mash approve-mapping MAPPING_ID`.
    """

    state = state_for(ctx, json_out, tenant)
    result = suggest_mapping(
        state.engine, state.settings, source_id, canonical=canonical, tenant=state.settings.tenant
    )

    def render(console: Console) -> None:
        console.print(
            table(
                f"Proposed mapping {result.mapping_id} (v{result.version}) for {source_id}: "
                f"auto-accept at >= {result.threshold:.2f}",
                ["source column", "canonical field", "confidence", "transform", "accept"],
                [
                    (
                        m.source,
                        m.target or "-",
                        f"{m.confidence:.2f}",
                        ", ".join(_step(s.model_dump()) for s in m.transform) or "",
                        "yes" if m.target and m.confidence >= result.threshold else "review",
                    )
                    for m in result.mappings
                ],
            )
        )
        for column, reason in list(result.unmapped.items())[:15]:
            console.print(f"  unmapped {column}: {reason}")
        if result.note:
            console.print(f"[yellow]note:[/yellow] {result.note}")

    emit(state, result, render)


def _step(step: dict[str, Any]) -> str:
    detail = (
        step.get("format")
        or step.get("table")
        or ("decimal comma" if step.get("decimal_comma") else "")
    )
    return f"{step['kind']} {detail}".strip()


@app.command("approve-mapping")
def approve_mapping(
    ctx: typer.Context,
    mapping_id: Annotated[str, typer.Argument(help="Mapping id from map-to-canonical.")],
    min_confidence: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fields below this confidence stay "
            "unmapped (default: keep every confirmed field).",
        ),
    ] = None,
    yes: YesOption = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Approve a mapping: it becomes immutable and can run; refused if mandatory fields are
    unmapped (the refusal lists them).

    Approving vouches for every field it keeps: each is recorded as confirmed by you, now, and
    the wave gate mapping_confidence counts it as confirmed. Without --min-confidence, on a
    terminal, it first lists the fields proposed below the auto-accept threshold and asks
    (--yes skips the question).
    """

    state = state_for(ctx, json_out, tenant)
    if min_confidence is None and not yes and confirm.interactive():
        draft = get_mapping(state.engine, mapping_id, tenant=state.settings.tenant)
        review = (
            draft.unconfirmed_below(DEFAULT_THRESHOLD)
            if draft.status == MappingStatus.DRAFT
            else []
        )
        if review:
            Console(stderr=True).print(
                table(
                    f"{len(review)} field(s) proposed below the auto-accept threshold "
                    f"{DEFAULT_THRESHOLD:.2f} that nobody confirmed",
                    ["canonical field", "source column", "confidence", "transform"],
                    [
                        (
                            r.target,
                            r.source or "-",
                            f"{r.confidence:.2f}",
                            ", ".join(_step(s.model_dump()) for s in r.transform),
                        )
                        for r in review
                    ],
                )
            )
            confirm_or_stop(
                f"Approve mapping {mapping_id} with these {len(review)} field(s), "
                "as confirmed by you?",
                yes=False,
            )
    info = approve(
        state.engine, mapping_id, tenant=state.settings.tenant, min_confidence=min_confidence
    )
    emit(
        state,
        MappingView.of(info),  # what the MCP approve_mapping returns
        lambda console: console.print(
            f"Mapping {info.mapping_id} v{info.version} approved with {len(info.fields)} fields."
        ),
    )


@app.command("validate-mapping")
def validate_mapping(
    ctx: typer.Context,
    mapping_id: Annotated[str, typer.Argument(help="Mapping id.")],
    version: Annotated[int | None, typer.Option(help="Version (default: latest).")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when any record is invalid (for CI).")
    ] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Validate every record of the source through a mapping; writes nothing.

    Shows the top reasons records are invalid, with counts and example keys. To write the
    canonical records of an approved mapping, run: data-mash mapping run MAPPING_ID
    """

    state = state_for(ctx, json_out, tenant)
    with step_progress(enabled=not state.json) as progress:
        report = validate_records(
            state.engine,
            state.settings,
            mapping_id,
            tenant=state.settings.tenant,
            version=version,
            progress=(lambda d, t: progress("validate", d, t)) if progress else None,
        )

    def render(console: Console) -> None:
        console.print(
            f"{report.records:,} records: {report.valid:,} valid, {report.invalid:,} invalid."
        )
        if report.reasons:
            console.print(reasons_table("Top reasons records are invalid", report.reasons))

    emit(state, report, render)
    if check and report.invalid:
        sys.stderr.write(
            f"data-mash: error: {report.invalid:,} of {report.records:,} records of mapping "
            f"{mapping_id} are invalid (--check)\n"
        )
        raise typer.Exit(1)


def reasons_table(title: str, reasons: list[Any]) -> Any:
    """Error reasons as a table: field, reason, records, example keys."""
    return table(
        title,
        ["field", "reason", "records", "e.g."],
        [(r.path, r.message, f"{r.records:,}", ", ".join(r.examples)) for r in reasons],
    )


@mapping_app.command("run")
def run_mapping(
    ctx: typer.Context,
    mapping_id: Annotated[str, typer.Argument(help="An approved mapping.")],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Map the source's records to canonical records (batched, resumable, strict)."""
    state = state_for(ctx, json_out, tenant)
    label = "map to canonical"
    with step_progress(enabled=not state.json) as steps:
        if steps:  # the start-up (models, the mapping, the staged source) takes seconds
            steps.status(label, "loading the canonical model and the mapping")

        result = run(
            state.engine,
            state.settings,
            mapping_id,
            tenant=state.settings.tenant,
            progress=(lambda d, t: steps(label, d, t, "records")) if steps else None,
        )

    def render(console: Console) -> None:
        console.print(
            f"{result.records:,} records: {result.valid:,} canonical, {result.invalid:,} "
            f"quarantined with their field errors ({result.resumed_batches} batches already done)."
        )
        if result.reasons:
            console.print(reasons_table("Why records were quarantined", result.reasons))

    emit(state, result, render)


@mapping_app.command("show")
def show_mapping(
    ctx: typer.Context,
    mapping_id: Annotated[str, typer.Argument(help="Mapping id.")],
    version: Annotated[int | None, typer.Option(help="Version (default: latest).")] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """A mapping's rules."""

    state = state_for(ctx, json_out, tenant)
    info = get_mapping(state.engine, mapping_id, tenant=state.settings.tenant, version=version)
    emit(
        state,
        info,
        lambda console: console.print(
            table(
                f"{info.mapping_id} v{info.version} ({info.status}) of {info.source_id}",
                ["target", "source", "transform", "confidence", "status"],
                [
                    (
                        r.target,
                        r.source,
                        ", ".join(_step(s.model_dump()) for s in r.transform),
                        f"{r.confidence:.2f}",
                        r.status,
                    )
                    for r in info.rules
                ],
            )
        ),
    )


@mapping_app.command("set-field")
def set_field(
    ctx: typer.Context,
    mapping_id: Annotated[str, typer.Argument(help="Mapping id.")],
    target: Annotated[str, typer.Argument(help="Canonical path, e.g. policy_core.status.")],
    source: Annotated[str | None, typer.Option(help="Source column (omit with --unmap).")] = None,
    transform: Annotated[
        str | None,
        typer.Option(
            help='Transform steps as JSON, e.g. \'{"kind": "date", "format": "DD.MM.YYYY"}\''
        ),
    ] = None,
    unmap: Annotated[bool, typer.Option("--unmap", help="Leave the field unmapped.")] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Confirm, edit or reject one field (an approved mapping gets a new draft version)."""

    state = state_for(ctx, json_out, tenant)
    kwargs: dict[str, Any] = {}
    if unmap:
        kwargs["source"] = None
    elif source is not None:
        kwargs["source"] = source
    if transform is not None:
        try:
            kwargs["transform"] = json.loads(transform)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"--transform is not JSON: {exc.msg} at column {exc.colno}",
                fix='e.g. --transform \'{"kind": "date", "format": "YYYYMMDD"}\'',
            ) from None
    info = update_field_mapping(
        state.engine, mapping_id, target, tenant=state.settings.tenant, **kwargs
    )
    emit(
        state,
        MappingView.of(info),  # what update_field_mapping returns
        lambda console: console.print(
            f"{info.mapping_id} v{info.version} ({info.status}): {target} updated."
        ),
    )


@mapping_app.command("diff")
def diff(
    ctx: typer.Context,
    mapping_id: Annotated[str, typer.Argument(help="Mapping id.")],
    from_version: Annotated[int, typer.Argument(help="Older version.")],
    to_version: Annotated[int, typer.Argument(help="Newer version.")],
    impact: Annotated[
        bool, typer.Option(help="Also count the policies whose values change.")
    ] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """What changed between two versions of a mapping (and, with --impact, for which policies)."""

    state = state_for(ctx, json_out, tenant)
    t = state.settings.tenant
    a = get_mapping(state.engine, mapping_id, tenant=t, version=from_version)
    b = get_mapping(state.engine, mapping_id, tenant=t, version=to_version)
    data = MappingComparison(
        diff=diff_mappings(a, b),
        impact=assess_mapping_change(
            state.engine, state.settings, mapping_id, from_version, to_version, tenant=t
        )
        if impact
        else None,
    )
    emit(state, data, lambda console: console.print_json(data.model_dump_json()))


@app.command("export")
def export(
    ctx: typer.Context,
    mapping_id: Annotated[str, typer.Argument(help="An approved mapping.")],
    fmt: Annotated[
        str, typer.Option("--format", help="Comma-separated: " + ",".join(FORMATS))
    ] = ",".join(FORMATS),
    out: Annotated[Path | None, typer.Option(help="Folder (default: workspace exports/).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace files that exist.")] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Export a mapping and its canonical records for a migration engine, with a manifest."""

    state = state_for(ctx, json_out, tenant)
    formats = [f.strip() for f in fmt.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InputError(
            f"unknown export format {', '.join(unknown) or '(none)'}",
            where="--format",
            fix="use any of " + ",".join(FORMATS),
        )
    folder = out or state.settings.path("exports", mapping_id)
    result = export_mapping(
        state.engine,
        state.settings,
        mapping_id,
        folder,
        formats=formats,
        tenant=state.settings.tenant,
        overwrite=overwrite,
    )
    emit(
        state,
        result,
        lambda console: console.print(
            table(
                f"Exported {mapping_id} v{result.version} (manifest {result.manifest})",
                ["file", "records", "sha256"],
                [(f.path, f.records, f.sha256[:16]) for f in result.files],
            )
        ),
    )


@mapping_app.command("list")
def mapping_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only mappings of this source.")] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """List mappings: id, source, versions, status (ids for approve-mapping, mapping run...)."""
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
