"""Content commands: ingest legacy files, list sources, page through records, profile, layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import AppState, JsonOption, TenantOption, state_for
from cli.output import emit, table
from cli.progress import step_progress
from core.errors import InputError
from tools.content.cobol.layout import describe_layout
from tools.content.contracts import (
    CopybookLayout,
    FormatDetection,
    IngestBatch,
    IngestResult,
    RecordSlice,
    SourceList,
)
from tools.content.detect import detect_format
from tools.content.ingest import ingest_file, progress_unit
from tools.content.profiling import read_profile
from tools.content.readers.options import parse_option_pairs
from tools.content.source_config import load_source_config
from tools.content.sources import SourceRegistry
from tools.content.staging import staged_slice

app = command_app()

OPTION_HELP = (
    "Reader option KEY=VALUE (repeatable), e.g. --option delimiter=';' --option header=true"
)


def _parse_options(pairs: list[str], fmt: str | None = None) -> dict[str, Any]:

    return parse_option_pairs(pairs, fmt)


@app.command()
def ingest(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The legacy file (or, with --source-config, an entry's "
            "name or path; omit to ingest every entry)."
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Reader: csv, fixed_width, cobol, json, "
            "jsonl, xlsx, xml, parquet, sqlite (or a plugin's name).",
        ),
    ] = None,
    copybook: Annotated[
        Path | None, typer.Option(help="COBOL copybook (implies --format cobol).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding or EBCDIC code page (cp037, cp1047...).")
    ] = None,
    source_config: Annotated[
        Path | None,
        typer.Option(
            "--source-config",
            help="YAML stating each file's format and options (see docs/conventions.md).",
        ),
    ] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help=OPTION_HELP)] = None,
    name: Annotated[
        str | None, typer.Option(help="Name of the source (default: file name).")
    ] = None,
    system: Annotated[str | None, typer.Option(help="Legacy system it comes from.")] = None,
    detect: Annotated[
        bool,
        typer.Option("--detect", help="Only print the config data-mash would use; ingest nothing."),
    ] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Ingest a legacy file: decode it, stage it, profile it, and audit it.

    The format is never guessed from the file name: state it with --format (and options), or
    in a --source-config YAML. --detect prints what data-mash would use, for you to check.
    Re-ingesting the same bytes with the same options returns the same source id.
    Undecodable records are quarantined with their position and reason, not dropped.

    Examples:

      data-mash ingest billing.csv --format csv -o delimiter=';' -o encoding=latin-1 -o decimal=,

      data-mash ingest POLMAST.dat --format cobol --copybook POLMAST.cpy --encoding cp037

      data-mash ingest --source-config estate/sources.yaml
    """
    state = state_for(ctx, json_out, tenant)
    if detect:
        _detect(state, path, copybook, encoding)
        return
    jobs = _jobs(path, fmt, copybook, encoding, source_config, option or [], name, system)

    results = []
    with step_progress(enabled=not state.json) as steps:
        for job in jobs:
            label = f"ingest {job['name'] or Path(job['path']).name}"
            unit = progress_unit(job["format"])
            results.append(
                ingest_file(
                    state.engine,
                    state.settings,
                    job["path"],
                    fmt=job["format"],
                    options=job["options"],
                    name=job["name"],
                    system=job["system"],
                    tenant=state.settings.tenant,
                    progress=(lambda d, t, label=label, unit=unit: steps(label, d, t, unit))
                    if steps
                    else None,
                    status=(lambda text, label=label: steps.status(label, text)) if steps else None,
                )
            )
            if steps:
                steps.finish(label)

    data: IngestResult | IngestBatch
    if len(results) == 1 and source_config is None:
        data = results[0]
    else:
        data = IngestBatch(
            sources=results,
            records=sum(r.records for r in results),
            errors=sum(r.bad_records for r in results),
        )

    def render(console: Console) -> None:
        console.print(
            table(
                "Ingested",
                ["source_id", "name", "records", "quarantined", "columns", "quality", "note"],
                [
                    (
                        r.source_id,
                        r.name,
                        f"{r.records:,}",
                        f"{r.bad_records:,}",
                        len(r.columns),
                        f"{r.quality_score:.2f}" if r.quality_score is not None else "-",
                        "already ingested" if r.reused else "",
                    )
                    for r in results
                ],
            )
        )
        for r in results:
            for err in r.errors[:5]:
                where = (
                    f"line {err.line}"
                    if err.line
                    else f"byte {err.byte_offset}"
                    if err.byte_offset is not None
                    else f"record {err.record_index}"
                )
                console.print(
                    f"  {r.name}: {where}{' field ' + err.field if err.field else ''}: {err.reason}"
                )

    emit(state, data, render)


def _jobs(
    path: Path | None,
    fmt: str | None,
    copybook: Path | None,
    encoding: str | None,
    source_config: Path | None,
    pairs: list[str],
    name: str | None,
    system: str | None,
) -> list[dict[str, Any]]:
    if source_config is not None:
        config = load_source_config(source_config)
        entries = config.sources
        if path is not None:
            wanted = str(path)
            entries = [
                e
                for e in entries
                if e.name == wanted or e.path == path.resolve() or e.path.name == wanted
            ]
            if not entries:
                raise InputError(
                    f"no entry named or at '{path}'",
                    where=str(source_config),
                    fix="use one of: " + ", ".join(e.name for e in config.sources),
                )
        return [
            {
                "path": e.path,
                "format": e.format,
                "options": e.options,
                "name": e.name,
                "system": e.system,
            }
            for e in entries
        ]
    if path is None:
        raise InputError(
            "no file given",
            fix="data-mash ingest FILE --format F, or "
            "data-mash ingest --source-config sources.yaml",
        )
    if fmt is None and copybook is not None:
        fmt = "cobol"  # a copybook only describes mainframe records
    if fmt is None:
        raise InputError(
            "no --format given: data-mash does not guess formats from file names",
            where=str(path),
            fix=f"pass --format, or run: data-mash ingest {path} --detect to see what it would use",
        )
    if copybook is not None and fmt != "cobol":
        raise InputError(
            f"--copybook describes COBOL records, but --format is {fmt}",
            fix="drop --format (a copybook implies --format cobol) or drop --copybook",
        )
    options = _parse_options(pairs, fmt)
    if copybook is not None:
        options["copybook"] = str(copybook.resolve())
    if encoding is not None:
        options["encoding"] = encoding
    return [{"path": path, "format": fmt, "options": options, "name": name, "system": system}]


def _detect(
    state: AppState, path: Path | None, copybook: Path | None, encoding: str | None
) -> None:
    if path is None:
        raise InputError("--detect needs a file", fix="data-mash ingest FILE --detect")

    detected = detect_format(path, copybook=copybook, encoding=encoding)
    snippet = detected.to_config_snippet()
    command = detected.to_command_line()
    emit(
        state,
        FormatDetection(detected=detected, config=snippet, command=command),
        lambda console: console.print(
            f"# What data-mash would use for {path} (check it, then run the command or put "
            f"the entry in a --source-config):\n{snippet}\n# The same as a command line:\n"
            f"{command}",
            markup=False,
            highlight=False,
            soft_wrap=True,  # the command must stay one line to be copied
        ),
    )


@app.command()
def sources(ctx: typer.Context, json_out: JsonOption = False, tenant: TenantOption = None) -> None:
    """List ingested sources."""

    state = state_for(ctx, json_out, tenant)
    found = SourceRegistry(state.engine, tenant=state.settings.tenant).list()
    # The model list_sources returns: here every source on one page.
    data = SourceList(sources=[s.summary() for s in found], total=len(found))

    def render(console: Console) -> None:
        if not found:
            console.print("No sources yet. Ingest one with: data-mash ingest FILE --format F")
            return
        console.print(
            table(
                "Sources",
                ["source_id", "name", "system", "format", "records", "quarantined", "quality"],
                [
                    (
                        s.source_id,
                        s.name,
                        s.system,
                        s.format,
                        f"{s.records:,}",
                        f"{s.bad_records:,}",
                        f"{s.quality_score:.2f}" if s.quality_score is not None else "-",
                    )
                    for s in found
                ],
            )
        )

    emit(state, data, render)


@app.command()
def head(
    ctx: typer.Context,
    source_id: Annotated[str, typer.Argument(help="Source id from data-mash sources.")],
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Records to show.")] = 10,
    offset: Annotated[int, typer.Option(min=0, help="Records to skip first.")] = 0,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Decoded records of a source, as staged."""

    state = state_for(ctx, json_out, tenant)
    info = SourceRegistry(state.engine, tenant=state.settings.tenant).get(source_id)
    records = staged_slice(info.records_path, offset=offset, limit=limit).to_pylist()
    data = RecordSlice(source_id=source_id, offset=offset, records=records, total=info.records)

    def render(console: Console) -> None:
        columns = list(records[0]) if records else [c["name"] for c in info.columns]
        console.print(
            table(
                f"{info.name}: records {offset + 1}-{offset + len(records)} of {info.records:,}",
                columns[:12],
                [[r.get(c) for c in columns[:12]] for r in records],
            )
        )
        if len(columns) > 12:
            console.print(f"({len(columns) - 12} more columns; use --json to see all)")

    emit(state, data, render)


@app.command()
def profile(
    ctx: typer.Context,
    source_id: Annotated[str, typer.Argument(help="Source id from data-mash sources.")],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Profile a source: per column type, nulls, distinct values, pattern, quality."""

    state = state_for(ctx, json_out, tenant)
    info = SourceRegistry(state.engine, tenant=state.settings.tenant).get(source_id)
    report = read_profile(info)  # the same model profile_source returns
    data = report.model_dump(mode="json")

    def render(console: Console) -> None:
        console.print(
            table(
                f"Profile of {info.name} ({data['records']:,} records, quality "
                f"{data['quality_score']:.2f})",
                ["column", "type", "nulls", "distinct", "pattern", "quality"],
                [
                    (
                        c["name"],
                        c["type"],
                        f"{c['null_rate']:.1%}",
                        c["distinct"],
                        c.get("pattern"),
                        f"{c['quality']:.2f}",
                    )
                    for c in data["columns"]
                ],
            )
        )
        for issue in data.get("issues", [])[:10]:
            console.print(
                f"  {issue['kind']}: {issue['column']}: {issue['count']} rows, e.g. "
                f"{', '.join(map(str, issue.get('sample_keys', [])[:5]))}"
            )

    emit(state, report, render)


@app.command()
def layout(
    ctx: typer.Context,
    copybook: Annotated[Path, typer.Argument(help="COBOL copybook file.")],
    json_out: JsonOption = False,
) -> None:
    """Print a copybook's field layout: offsets, lengths, types, OCCURS, REDEFINES."""

    state = state_for(ctx, json_out, None)
    if not copybook.is_file():
        raise InputError("copybook not found", where=str(copybook), fix="check the path")
    described = CopybookLayout.model_validate(describe_layout(copybook))
    data = described.model_dump(mode="json")

    def render(console: Console) -> None:
        console.print(
            table(
                f"{copybook.name}: record length {data['record_length']}",
                ["level", "name", "start", "length", "type", "occurs", "redefines"],
                [
                    (
                        f["level"],
                        f["name"],
                        f["start"],
                        f["length"],
                        f["type"],
                        f.get("occurs") or "",
                        f.get("redefines") or "",
                    )
                    for f in data["fields"]
                ],
            )
        )

    emit(state, described, render)
