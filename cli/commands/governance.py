"""Governance commands: replay the audit log, a policy's audit trail, where a policy is."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import JsonOption, PolicyIdArgument, TenantOption, state_for
from cli.output import emit, table
from core.errors import InputError, NotFoundError
from core.timeparse import parse_time
from tools.audit import AuditLog, PolicyLocations
from tools.audit.contracts import AuditEntry, AuditReplay, PolicyTrail
from tools.sync.contracts import LocatedPolicy
from tools.sync.ledger import OwnershipLedger

app = command_app()


@app.command()
def replay(
    ctx: typer.Context,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Only this namespace (content, routing...)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time: ISO 8601 or an age such as 2h, 7d.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Up to this time (same forms as --since).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many entries.")] = 1000,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Replay the write-ahead audit log in commit order.

    Read-only: it reports every entry in the range and flags entries still pending (their process
    stopped between intent and outcome) as incomplete. Replaying twice changes nothing.

    Example: data-mash replay --namespace content --since 1d --json
    """
    state = state_for(ctx, json_out, tenant)
    start = parse_time(since, option="--since") if since else None
    end = parse_time(until, option="--until") if until else None
    if start and end and start > end:
        raise InputError(
            f"--since {since} is after --until {until}", fix="swap them or widen the range"
        )
    log = AuditLog(state.engine, tenant=state.settings.tenant)
    if namespace:
        known = log.namespaces()
        if namespace not in known:
            raise NotFoundError(
                f"the audit log has no entries in namespace '{namespace}'",
                where="--namespace",
                fix="known namespaces: " + (", ".join(known) or "none yet (the log is empty)"),
            )
    entries: list[AuditEntry] = []
    replayed = incomplete = 0
    for record in log.replay(namespace, start, end):
        replayed += 1
        incomplete += record.incomplete
        if len(entries) < limit:
            entries.append(AuditEntry.of(record))
    data = AuditReplay(
        entries=entries,
        replayed=replayed,
        incomplete=incomplete,
        truncated=replayed > len(entries),
    )

    def render(console: Console) -> None:
        console.print(
            table(
                f"Audit log: {replayed} entries, {incomplete} incomplete",
                ["id", "time", "namespace", "operation", "target", "status", "policies"],
                [
                    (
                        e.id,
                        e.created_at.isoformat()[:19],
                        e.namespace,
                        e.operation,
                        e.target,
                        "INCOMPLETE" if e.incomplete else e.status,
                        e.policy_count,
                    )
                    for e in entries
                ],
            )
        )
        if replayed > len(entries):
            console.print(f"(showing {len(entries)}; use --limit or --json for more)")

    emit(state, data, render)


@app.command()
def audit(
    ctx: typer.Context,
    policy_id: PolicyIdArgument,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """The audit trail of one policy: every logged operation that touched it, oldest first."""
    state = state_for(ctx, json_out, tenant)
    entries = AuditLog(state.engine, tenant=state.settings.tenant).trail(policy_id)
    data = PolicyTrail(policy_id=policy_id, entries=[AuditEntry.of(e) for e in entries])

    def render(console: Console) -> None:
        if not entries:
            console.print(f"No audit entries mention policy {policy_id}.")
            return
        console.print(
            table(
                f"Audit trail of policy {policy_id}",
                ["id", "time", "namespace", "operation", "status", "actor"],
                [
                    (
                        e.id,
                        e.created_at.isoformat()[:19],
                        e.namespace,
                        e.operation,
                        e.status,
                        e.actor,
                    )
                    for e in entries
                ],
            )
        )

    emit(state, data, render)


@app.command()
def locate(
    ctx: typer.Context,
    policy_id: PolicyIdArgument,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Where a policy lives now, and every move that took it there (exit 1 if nothing is known)."""
    state = state_for(ctx, json_out, tenant)
    locations = PolicyLocations(state.engine, tenant=state.settings.tenant)
    location = locations.locate(policy_id)
    history = locations.history(policy_id)
    if location is None and not history:
        trail = AuditLog(state.engine, tenant=state.settings.tenant).trail(policy_id)
        if not trail:
            raise NotFoundError(
                f"nothing is recorded about policy '{policy_id}'",
                where="locate",
                fix="check the id as the legacy system writes it, or route its source first: "
                "data-mash route --rules RULES.yaml SOURCE_ID",
            )
    owner = OwnershipLedger(state.engine, tenant=state.settings.tenant).owner_of(policy_id)
    data = LocatedPolicy(policy_id=policy_id, location=location, history=history, owner=owner)

    def render(console: Console) -> None:
        if owner is not None:
            console.print(
                f"System of record: [bold]{owner.owner.value}[/bold] since "
                f"{owner.since:%Y-%m-%d} ({owner.reason})"
            )
        if location is None:
            console.print(f"Policy {policy_id} has not been placed in any system yet.")
            return
        console.print(
            f"Policy {policy_id} lives in [bold]{location.system}[/bold]"
            f" (wave {location.wave or '-'}, since {location.updated_at:%Y-%m-%d %H:%M})."
        )
        console.print(
            table(
                "Moves",
                ["time", "from", "to", "wave", "rule", "reason"],
                [
                    (
                        m.moved_at.isoformat()[:19],
                        m.from_system or "-",
                        m.to_system,
                        m.wave,
                        m.rule,
                        m.reason,
                    )
                    for m in history
                ],
            )
        )

    emit(state, data, render)
