"""Coexistence commands: the ownership ledger, the conflict queue, how far apart the sides are."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from core.errors import InputError
from tools.sync.adopt import keep_in_step
from tools.sync.capture import LegacyCapture
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import ConflictState, LedgerReport, Owner, SyncRun
from tools.sync.ledger import OwnershipLedger
from tools.sync.service import run_sync, sweep_new, sync_status
from tools.sync.write import SelectiveWriter

app = command_app()

sync_app = typer.Typer(
    help="Keep legacy and new in step: capture extracts, write the platform, run (apply and "
    "deliver), status, conflicts and resolve, the ownership ledger.",
    no_args_is_help=True,
)
app.add_typer(sync_app, name="sync")


@sync_app.command("ledger")
def ledger_command(
    ctx: typer.Context,
    owner: Annotated[
        Owner | None, typer.Option(help="Only policies owned by legacy, new or dual.")
    ] = None,
    from_wave: Annotated[
        str | None,
        typer.Option(
            "--from-wave",
            metavar="WAVE_ID",
            help="First record the owner change of a completed wave's policies.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many.")] = 100,
    cursor: Annotated[str | None, typer.Option(help="Continue after this policy id.")] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """The system of record of each policy (legacy, new, dual), since when, which wave, why.

    Example: data-mash sync ledger --from-wave plan-1-w0 --json
    """
    state = state_for(ctx, json_out, tenant)
    ledger = OwnershipLedger(state.engine, tenant=state.settings.tenant)
    update = ledger.apply_wave(from_wave) if from_wave else None
    page = ledger.page(owner=owner, limit=limit, cursor=cursor)
    data = LedgerReport(**dict(page), update=update)

    def render(console: Console) -> None:
        if update is not None:
            console.print(
                f"Wave {update.wave_id}: {update.changed} policies now owned by "
                f"{update.owner.value} ({update.unchanged} already were)."
            )
        console.print(
            table(
                f"Ownership ledger: {page.total} policies "
                + ", ".join(f"{k} {v}" for k, v in page.by_owner.items()),
                ["policy", "owner", "since", "wave", "reason"],
                [
                    (e.policy_id, e.owner.value, e.since.isoformat()[:19], e.wave, e.reason)
                    for e in page.entries
                ],
            )
        )
        if page.next_cursor:
            console.print(f"(more: --cursor {page.next_cursor})")

    emit(state, data, render)


@sync_app.command("adopt")
def adopt_command(
    ctx: typer.Context,
    wave_id: Annotated[str, typer.Argument(help="A completed wave.")],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """After a wave, keep in step: record its policies' owner and take what it migrated.

    The wave's policies are read back from its target store (the new platform's policy and
    child tables) and become sync's new side; for a policy sync did not follow yet they are
    also the agreed base, so a later legacy extract is compared with what the wave migrated.
    Idempotent per wave run. Audited.

    Example: data-mash sync adopt plan-1-w0 --json
    """

    state = state_for(ctx, json_out, tenant)
    result = keep_in_step(state.engine, state.settings, wave_id, tenant=state.settings.tenant)

    def render(console: Console) -> None:
        update = result.ledger
        console.print(
            f"Wave {wave_id}: {update.changed} policies now owned by {update.owner.value} "
            f"({update.unchanged} already were)"
        )
        if result.adopted is not None:
            taken = result.adopted
            console.print(
                f"Sync follows {taken.policies} policies as {taken.target} holds them: "
                f"{taken.fresh} new to sync, {taken.changed} recorded as changes from new"
            )

    emit(state, result, render)


@sync_app.command("conflicts")
def conflicts_command(
    ctx: typer.Context,
    all_states: Annotated[
        bool, typer.Option("--all", help="Also show resolved conflicts.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after this conflict id.")] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Conflicts waiting for a person: both values, the base, where each came from.

    Example: data-mash sync conflicts --json
    """
    state = state_for(ctx, json_out, tenant)
    queue = ConflictQueue(state.engine, tenant=state.settings.tenant)
    page = queue.page(state=None if all_states else ConflictState.OPEN, limit=limit, cursor=cursor)

    def render(console: Console) -> None:
        if not page.conflicts:
            console.print("No conflicts" + (" at all." if all_states else " open."))
            return
        console.print(
            table(
                f"Conflicts: {page.total}",
                ["id", "policy", "field", "base", "legacy", "new", "state"],
                [
                    (
                        c.id,
                        c.policy_id,
                        c.path,
                        _show(c.base),
                        _show(c.legacy),
                        _show(c.new),
                        c.state.value
                        if c.state is ConflictState.OPEN
                        else f"took {c.resolution} ({c.decided_by})",
                    )
                    for c in page.conflicts
                ],
            )
        )
        if page.next_cursor:
            console.print(f"(more: --cursor {page.next_cursor})")

    emit(state, page, render)


def _show(value: Any) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else value


def _value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # plain text is taken as a string


@sync_app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    conflict_id: Annotated[int, typer.Argument(help="The conflict id (see sync conflicts).")],
    take: Annotated[Take, typer.Option(help="Take the legacy value, the new value, or --value.")],
    value: Annotated[
        str | None, typer.Option(help="With --take value: the value (JSON, or plain text).")
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Decide a queued conflict (audited). An unknown or resolved conflict changes nothing.

    Example: data-mash sync resolve 3 --take legacy
    """
    state = state_for(ctx, json_out, tenant)
    queue = ConflictQueue(state.engine, tenant=state.settings.tenant)
    record = queue.resolve(conflict_id, take, _value(value))

    def render(console: Console) -> None:
        console.print(
            f"Conflict {record.id} on {record.policy_id} {record.path}: took {record.resolution} "
            f"-> {_show(record.resolved_value)}"
        )

    emit(state, record, render)


@sync_app.command("status")
def status_command(
    ctx: typer.Context,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """How far the two sides are apart: lag, backlog, conflicts open by type, owners.

    Example: data-mash sync status --json
    """

    state = state_for(ctx, json_out, tenant)
    status = sync_status(state.engine, tenant=state.settings.tenant)

    def render(console: Console) -> None:
        lag = f"{status.lag:.1f} s" if status.lag is not None else "in step"
        console.print(
            f"Lag: {lag}; backlog {status.backlog} (captured {status.pending_changes}, "
            f"platform outbox {status.pending_outbox}, owed to a side {status.pending_outbound})"
        )
        console.print(f"Conflicts open {status.conflicts}, resolved {status.resolved}")
        for kind, counts in sorted(status.conflicts_by_type.items()):
            console.print(f"  {kind}: open {counts['open']}, resolved {counts['resolved']}")
        console.print("Owners: " + ", ".join(f"{k} {v}" for k, v in status.ledger.items()))

    emit(state, status, render)


@sync_app.command("run")
def run_command(
    ctx: typer.Context,
    conflict_policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            metavar="YAML",
            help="Conflict policy (field groups and strategies); default: the built-in one.",
        ),
    ] = None,
    sweep: Annotated[
        bool,
        typer.Option(
            help="First compare what the platform holds (its own tables for migrated "
            "policies) with sync's view, and record any drift as a change (anti-entropy)."
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="The day on-renewal ownership rules are applied for (default: today).",
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Apply every captured change field by field, then deliver merged values to both sides.

    Forwards the platform outbox, merges each policy three-way against its last agreed
    version (one-sided fields applied, two-sided ones decided by the conflict policy or
    queued), writes the new platform and drops corrections for the legacy side. Audited.

    Example: data-mash sync run --policy conflicts.yaml --json
    """

    state = state_for(ctx, json_out, tenant)
    swept = (
        sweep_new(state.engine, tenant=state.settings.tenant, settings=state.settings)
        if sweep
        else None
    )
    report = run_sync(
        state.engine,
        state.settings,
        tenant=state.settings.tenant,
        policy_path=conflict_policy,
        as_of=_day(as_of),
    )
    data = SyncRun(**dict(report), sweep=swept)

    def render(console: Console) -> None:
        if swept is not None:
            console.print(
                f"Sweep: {swept.compared} compared, {swept.drifted} drifted, "
                f"{swept.repaired} recorded as changes"
            )
        if report.renewed is not None and report.renewed.moved:
            console.print(
                f"Renewal: {report.renewed.moved} policies renewed by "
                f"{report.renewed.as_of} now owned by {report.renewed.owner.value}"
            )
        applied = report.apply
        console.print(
            f"Applied {applied.applied} changes: {applied.resolved} conflicts decided by "
            f"policy, {applied.queued} queued, {applied.resolutions} decisions carried; "
            f"delivered {report.delivered_new} to new, {report.delivered_legacy} to legacy; "
            f"{report.echoes} echoes not sent back"
        )
        if report.status.conflicts:
            console.print(f"{report.status.conflicts} conflicts wait: data-mash sync conflicts")

    emit(state, data, render)


@sync_app.command("write")
def write_command(
    ctx: typer.Context,
    policy_id: Annotated[str, typer.Argument(help="The policy to write (where its owner says).")],
    document: Annotated[
        Path, typer.Option(help="The policy as canonical JSON (nested, or flat dotted paths).")
    ],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Write a policy where the ownership ledger says (selective write), then: sync run.

    Owner new: the platform, its outbox event in the same commit. Owner legacy (also a policy
    no wave has moved): a correction for the legacy loader; the policy reaches the platform
    from legacy's next extract. Owner dual: both sides, through the outbox. Audited.

    Example: data-mash sync write P-1001 --document p1001.json
    """

    state = state_for(ctx, json_out, tenant)
    try:
        data = json.loads(document.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read it: {exc}", where=str(document)) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"is not JSON: {exc.msg}", where=f"{document}, line {exc.lineno}", fix="fix the JSON"
        ) from None
    if not isinstance(data, dict):
        raise InputError("is not a JSON object", where=str(document), fix="write one policy")
    writer = SelectiveWriter(state.engine, state.settings, tenant=state.settings.tenant)
    result = writer.write_policy(policy_id, data)

    def render(console: Console) -> None:
        sides = [s for s, on in (("new", result.to_new), ("legacy", result.to_legacy)) if on]
        console.print(
            f"{policy_id} (owner {result.owner.value}): {len(result.changed)} fields changed, "
            f"for {' and '.join(sides) or 'nobody (already held)'}"
            + (f"; platform version {result.platform.version}" if result.platform else "")
        )

    emit(state, result, render)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint="--as-of") from None


def _column_map(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    found: dict[str, str] = {}
    for pair in pairs:
        column, sep, path = pair.partition("=")
        if not sep or not column.strip() or not path.strip():
            raise typer.BadParameter(f"{pair!r} is not COLUMN=canonical.path", param_hint="--map")
        found[column.strip()] = path.strip()
    return found


@sync_app.command("capture")
def capture_command(
    ctx: typer.Context,
    source_id: Annotated[
        str, typer.Argument(help="A later extract, ingested first (data-mash ingest, any format).")
    ],
    feed: Annotated[
        str, typer.Option(help="The feed: one per legacy system and extract kind, e.g. LIFE-PAS.")
    ],
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="COLUMN=PATH",
            help="Extract column -> canonical path (a feed's first capture; repeat per column).",
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="A feed's first capture: record the extract as the starting snapshot, "
            "without an insert per policy (e.g. after sync adopt).",
        ),
    ] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Record what a later legacy extract changed: inserts, updates (per component), deletes.

    Compares the extract's per-policy, per-component row hashes with the feed's last synced
    snapshot; the bookmark moves only once the changes are durable. Apply them with sync run.
    A feed's first capture records every policy as an insert, unless --baseline.

    Example: data-mash sync capture src_1a2b3c --feed LIFE --map POLNO=policy_core.policy_id
    """

    state = state_for(ctx, json_out, tenant)
    result = LegacyCapture(state.engine, state.settings, tenant=state.settings.tenant).capture(
        feed, source_id, _column_map(column_map), baseline=baseline
    )

    def render(console: Console) -> None:
        if result.unchanged:
            console.print(f"Feed {feed}: {source_id} is already its snapshot {result.snapshot}.")
            return
        if result.baseline:
            console.print(
                f"Feed {feed} snapshot {result.snapshot}: {source_id} recorded as the starting "
                "snapshot, no changes (later captures record what changed since)."
            )
            return
        console.print(
            f"Feed {feed} snapshot {result.snapshot}: {result.inserts} inserts, "
            f"{result.updates} updates, {result.deletes} deletes recorded "
            "(apply them with: data-mash sync run)"
        )

    emit(state, result, render)
