"""``data-mash doctor``: health checks, versions, settings in effect (redacted), what is missing."""

from __future__ import annotations

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from core.errors import DataMashError
from tools.health import HealthStatus
from tools.health import doctor as run_doctor

app = command_app()

_MARK = {"pass": "[green]pass[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]fail[/red]"}


@app.command()
def doctor(ctx: typer.Context, json_out: JsonOption = False, tenant: TenantOption = None) -> None:
    """Check this installation: store, workspace, index, targets, LLM; versions and settings.

    Exits 1 when a check fails (the report is printed all the same).
    """

    state = state_for(ctx, json_out, tenant)
    try:
        engine = state.engine
    except DataMashError:
        engine = None  # the store check says why
    report = run_doctor(state.settings, engine)

    def render(console: Console) -> None:
        rows = [
            (
                name,
                _MARK[r.status],
                "" if r.observed_value is None else r.observed_value,
                r.output or "",
            )
            for name, results in report.checks.items()
            for r in results
        ]
        console.print(table("Checks", ["check", "status", "observed", "note"], rows))
        console.print(table("Versions", ["package", "version"], report.versions.items()))
        console.print(table("Settings in effect", ["setting", "value"], report.settings.items()))
        for note in report.missing:
            console.print(f"- missing: {note}")
        console.print(f"Overall: {_MARK[report.status]}")

    # application/health+json spells its keys in camelCase and leaves out the empty ones.
    emit(state, report, render, by_alias=True, exclude_none=True)
    if report.status == HealthStatus.FAIL:
        raise typer.Exit(1)
