"""Wave commands: plan waves, check and override gates, run / roll back / inspect a wave, gc."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.app import command_app
from cli.confirm import YesOption, confirm_or_stop
from cli.context import AppState, JsonOption, TenantOption, state_for
from cli.output import emit, table
from cli.progress import step_progress
from core.errors import InputError
from core.targets import target_help
from core.timeparse import parse_age
from tools.retention import collect
from tools.waves import (
    PlanCriteria,
    WaveContext,
    WaveState,
    check_gates,
    generate_plan,
    get_wave_status,
    override_gate,
    reconcile_wave,
    rollback_wave,
    run_wave,
)
from tools.waves.contracts import PlanList, RollbackPreview, WaveList, WaveReconciliation
from tools.waves.listing import list_plans, list_waves

app = command_app()

wave_app = typer.Typer(help="Run, roll back or inspect one wave.", no_args_is_help=True)
app.add_typer(wave_app, name="wave")
plan_app = typer.Typer(help="List wave plans.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")

WaveArg = Annotated[str, typer.Argument(help="The wave id (see generate-plan).")]


def _context(state: AppState) -> WaveContext:
    return WaveContext.default(state.engine, state.settings, state.settings.tenant)


def _render_wave(status: Any) -> Any:
    def render(console: Console) -> None:
        console.print(
            f"Wave [bold]{status.wave_id}[/bold] ({status.label}) -> {status.target}: "
            f"[bold]{status.status}[/bold]; migrated {status.migrated}, "
            f"not migrated {status.failed}"
        )
        console.print(
            table(
                "Milestones",
                ["milestone", "status", "batches", "resumed", "note"],
                [
                    (name, s.status, s.batches, s.resumed_batches, s.error or "")
                    for name, s in status.steps.items()
                ],
            )
        )
        if status.error:
            console.print(f"[red]{status.error}[/red]")

    return render


@app.command("generate-plan")
def generate_plan_cmd(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            "-t",
            help=f"Migration target (canonical name, aliases in brackets): {target_help()}.",
        ),
    ],
    canonical: Annotated[str, typer.Option(help="Canonical model.")] = "policy_v1",
    max_wave_size: Annotated[
        int, typer.Option(min=1, help="Size cap of waves after wave 0.")
    ] = 25_000,
    rule_set: Annotated[
        str | None,
        typer.Option(
            help=(
                "Stored routing rule set the wave's route step applies (default: keep decisions)."
            )
        ),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Source id (repeat for several)."),
    ] = None,
    assembly: Annotated[
        list[str] | None,
        typer.Option(
            "--assembly",
            "-a",
            help="Assembly id whose run made whole policies (repeat for several roots); "
            "instead of --source.",
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Plan migration waves: wave 0 = clean candidates, then waves by line, complexity, state.

    From --source, a policy is that source's canonical record. From --assembly, it is the
    whole policy an assembly run joined from every system (coverages, payments, endorsements,
    letters, claims): the waves migrate, compensate and reconcile whole policies, and the new
    platform stores each with one child row per item.

    Examples: data-mash generate-plan --source SRC1 --target new_platform --json;
    data-mash generate-plan --assembly ASSEMBLY_ID --target new_platform --rule-set RULES
    """
    state = state_for(ctx, json_out, tenant)
    if not source and not assembly:
        raise typer.BadParameter(
            "name the policies to plan: --source SOURCE_ID or --assembly ASSEMBLY_ID",
            param_hint="--source/--assembly",
        )
    criteria = PlanCriteria(max_wave_size=max_wave_size, rule_set=rule_set)
    plan = generate_plan(
        _context(state),
        source_ids=source,
        assembly_ids=assembly,
        target=target,
        canonical=canonical,
        criteria=criteria,
    )

    def render(console: Console) -> None:
        console.print(
            f"Plan [bold]{plan.plan_id}[/bold]: {plan.summary['policies']} policies "
            f"to {plan.target} in {len(plan.waves)} waves"
        )
        console.print(
            table(
                "Waves",
                ["wave", "label", "policies", "date"],
                [(w.wave_id, w.label, w.policy_count, w.scheduled_for or "-") for w in plan.waves],
            )
        )

    emit(state, plan, render)  # the Plan the MCP plan_waves returns


def _run_with_progress(state: AppState, work: Any) -> Any:
    with step_progress(enabled=not state.json) as bar:

        def progress(milestone: str, done: int, total: int | None) -> None:
            if bar is not None:
                bar(milestone, done, total or 0)

        return work(progress)


@wave_app.command("run")
def wave_run(
    ctx: typer.Context, wave_id: WaveArg, json_out: JsonOption = False, tenant: TenantOption = None
) -> None:
    """Run (or resume) a wave: ingest, map, route, migrate, validate; compensates on failure.

    Ctrl-C stops at the next batch boundary; run it again to resume.
    """
    state = state_for(ctx, json_out, tenant)
    context = _context(state)
    cancel = threading.Event()
    try:
        status = _run_with_progress(
            state, lambda progress: run_wave(context, wave_id, cancel=cancel, progress=progress)
        )
    except KeyboardInterrupt:
        cancel.set()
        raise
    emit(state, status, _render_wave(status))
    if status.status != WaveState.COMPLETED:
        raise typer.Exit(1)


@wave_app.command("rollback")
def wave_rollback(
    ctx: typer.Context,
    wave_id: WaveArg,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be undone; change nothing.")
    ] = False,
    yes: YesOption = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Undo a wave: compensate its milestones newest first (removes its target writes).

    On a terminal it asks first (--yes skips the question); --dry-run only shows what it would undo.
    """
    state = state_for(ctx, json_out, tenant)
    context = _context(state)
    current = get_wave_status(context, wave_id)
    undo = [
        name for name, step in reversed(current.steps.items()) if step.status != WaveState.PENDING
    ]
    if dry_run:
        emit(
            state,
            RollbackPreview(**dict(current), would_compensate=undo),
            lambda console: console.print(
                f"Would roll back wave {wave_id} ({current.status}, {current.migrated} migrated): "
                f"compensate {', '.join(undo) or 'nothing'}. Nothing changed."
            ),
        )
        return
    if undo and current.status not in (WaveState.PENDING, WaveState.COMPENSATED):
        confirm_or_stop(
            f"Roll back wave {wave_id} ({current.status}, {current.migrated} policies migrated "
            f"to {current.target}): compensate {', '.join(undo)}?",
            yes=yes,
        )
    status = _run_with_progress(
        state, lambda progress: rollback_wave(context, wave_id, progress=progress)
    )
    emit(state, status, _render_wave(status))
    if status.status not in (WaveState.COMPENSATED, WaveState.PENDING):
        raise typer.Exit(1)


@wave_app.command("status")
def wave_status(
    ctx: typer.Context, wave_id: WaveArg, json_out: JsonOption = False, tenant: TenantOption = None
) -> None:
    """A wave's status, per-milestone state and counts."""
    state = state_for(ctx, json_out, tenant)
    status = get_wave_status(_context(state), wave_id)
    emit(state, status, _render_wave(status))


@app.command()
def gates(
    ctx: typer.Context,
    wave_id: WaveArg,
    override: Annotated[str | None, typer.Option(help="Gate to override for this wave.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (required with --override).")] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Check a wave's quality gates, or override one with a reason (audited).

    Example: data-mash gates plan-1a2b-w1 --override business_rules --reason "ticket 42"
    """
    state = state_for(ctx, json_out, tenant)
    context = _context(state)
    if override is not None:
        if not reason:
            raise InputError(
                "--override needs --reason",
                where="--reason",
                fix='say why, e.g. --reason "premiums fixed upstream"',
            )
        override_gate(context, wave_id, gate=override, reason=reason)
    elif reason:
        raise InputError("--reason only goes with --override", fix="add --override GATE")
    report = check_gates(context, wave_id)

    def render(console: Console) -> None:
        verdict = "[green]may run[/green]" if report.passed else "[red]blocked[/red]"
        console.print(f"Wave {wave_id}: {verdict}")
        console.print(
            table(
                "Gates",
                ["gate", "result", "failing", "sample", "detail"],
                [
                    (
                        r.gate,
                        "pass" if r.passed else ("overridden" if r.overridden else "FAIL"),
                        r.failing,
                        ", ".join(r.sample[:3]),
                        r.detail,
                    )
                    for r in report.results
                ],
            )
        )

    emit(state, report, render)


@app.command()
def gc(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Archive run state of waves finished before this age, e.g. 30d, 12h "
            "(default: DATA_MASH_RETENTION_WAVE_STATE_SECONDS, 30 days).",
        ),
    ] = None,
    partials_older_than: Annotated[
        str | None,
        typer.Option(
            "--partials-older-than",
            help="Remove abandoned staging folders and half-written files untouched for this "
            "long, e.g. 2h (default: DATA_MASH_RETENTION_PARTIAL_SECONDS, 1 hour).",
        ),
    ] = None,
    leases_older_than: Annotated[
        str | None,
        typer.Option(
            "--leases-older-than",
            help="Remove leases of dead processes silent for this long, e.g. 1d "
            "(default: DATA_MASH_RETENTION_JOB_SECONDS, 1 day).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; change nothing.")
    ] = False,
    yes: YesOption = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Retention: archive finished waves' run state to gzip JSONL, remove abandoned staging
    folders and half-written files, and leases of dead processes.

    In-use leftovers (a live ingest's staging folder, anything written recently) are kept. The
    audit log is never deleted. On a terminal it asks first (--yes skips the question).
    """
    state = state_for(ctx, json_out, tenant)
    context = _context(state)
    ages = {
        "older_than": parse_age(older_than, option="--older-than") if older_than else None,
        "partials_older_than": (
            parse_age(partials_older_than, option="--partials-older-than")
            if partials_older_than
            else None
        ),
        "leases_older_than": (
            parse_age(leases_older_than, option="--leases-older-than")
            if leases_older_than
            else None
        ),
    }
    preview = collect(context, dry_run=True, **ages)
    if dry_run or not (preview.waves or preview.partials or preview.leases):
        result = preview
    else:
        confirm_or_stop(
            f"Archive the run state of {len(preview.waves)} wave(s), remove "
            f"{len(preview.partials)} abandoned leftover(s) and {len(preview.leases)} dead "
            "lease(s)?",
            yes=yes,
        )
        result = collect(context, **ages)

    def render(console: Console) -> None:
        verb = "Would archive" if result.dry_run else "Archived"
        console.print(
            f"{verb} {len(result.waves)} wave(s): "
            + ", ".join(f"{n} {name} rows" for name, n in result.rows.items())
        )
        for path in result.files:
            console.print(f"  {path}")
        verb = "Would remove" if result.dry_run else "Removed"
        console.print(
            f"{verb} {len(result.partials)} abandoned leftover(s) "
            f"({result.partial_bytes:,} bytes); kept {len(result.kept_in_use)} in use"
        )
        for path in result.partials[:20]:
            console.print(f"  {path}")
        console.print(f"{verb} {len(result.leases)} dead lease(s)")
        for name in result.leases:
            console.print(f"  {name}")

    emit(state, result, render)


@plan_app.command("list")
def plan_list(
    ctx: typer.Context, json_out: JsonOption = False, tenant: TenantOption = None
) -> None:
    """List wave plans: id, target, sources, waves, policies."""
    state = state_for(ctx, json_out, tenant)
    found = list_plans(_context(state))
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
    state = state_for(ctx, json_out, tenant)
    found = list_waves(_context(state), plan_id=plan)
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


@wave_app.command("reconcile")
def wave_reconcile(
    ctx: typer.Context,
    wave_id: Annotated[str, typer.Argument(help="The wave id (see: data-mash wave list).")],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Reconcile a wave's canonical records against its target: counts, control totals, hashes.

    Read-only (MCP: reconcile_wave). Exit 1 when source and target disagree.
    """
    state = state_for(ctx, json_out, tenant)
    report = reconcile_wave(_context(state), wave_id)
    # What the MCP reconcile_wave returns.
    data = WaveReconciliation.model_validate(
        {"wave_id": wave_id, "passed": report["passed"], "report": report}
    )

    def render(console: Console) -> None:
        verdict = "[green]agree[/green]" if data.passed else "[red]DISAGREE[/red]"
        console.print(
            f"Wave {wave_id}: source and target {verdict}: {report['source_count']} policies in "
            f"the source, {report['target_count']} in the target, {report['matched']} equal, "
            f"{report['different']} different, {report['missing_in_target']} missing, "
            f"{report['unexpected_in_target']} unexpected"
        )
        console.print(component_table(report))
        for diff in report.get("component_sample", []):
            console.print(
                f"  [red]{diff['policy_id']}[/red] {diff['component']}: "
                f"{diff['source_items']} items in the source, {diff['target_items']} in the "
                f"target; differs in {', '.join(diff['fields'])}"
            )
        for mismatch in report.get("different_sample", []):
            console.print(f"  [red]{mismatch['policy_id']}[/red]: {', '.join(mismatch['fields'])}")

    emit(state, data, render)
    if not data.passed:
        raise typer.Exit(1)


def component_table(report: dict[str, Any]) -> Any:
    """Per-component reconciliation as a table: child rows, differing policies, totals."""
    rows = []
    for comp in report.get("components", []):
        totals = comp["totals"]
        rows.append(
            (
                comp["component"],
                comp["source_children"],
                comp["target_children"],
                comp["count_mismatches"],
                comp["different"],
                ", ".join(f"{name.split('[].')[-1]} {t['target']}" for name, t in totals.items())
                or "-",
                "ok" if comp["matches"] else "MISMATCH",
            )
        )
    return table(
        "Per component (child rows of the target)",
        ["component", "source items", "target items", "count diff", "differ", "totals", ""],
        rows,
    )
