"""Routing commands: route a source, validate/store/list rule sets, reroute a policy by hand."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.app import command_app
from cli.context import AppState, JsonOption, PolicyIdArgument, TenantOption, state_for
from cli.output import emit, table
from core.errors import InputError
from core.targets import target_help
from tools.routing import evaluate_policy, load_rule_set, validate_rule_set
from tools.routing.canonical_input import canonical_batches_for_source, ensure_canonical_records
from tools.routing.conflicts import diff_stored_rule_sets
from tools.routing.contracts import (
    PolicyDecision,
    PolicyReroute,
    RouteRun,
    RuleFileValidation,
    RuleProblem,
    RuleSetComparison,
    RuleSetList,
)
from tools.routing.decisions import route_source
from tools.routing.derived import with_derived_fields
from tools.routing.model import Issue
from tools.routing.overrides import reroute_policy
from tools.routing.rulesets import get_rule_set, list_rule_sets, register_rule_set
from tools.waves.inputs import assembly_records, is_assembly, root_system

app = command_app()

rules_app = typer.Typer(
    name="rules", help="Validate, store and list routing rule sets.", no_args_is_help=True
)
app.add_typer(rules_app)

RulesFile = Annotated[Path, typer.Argument(help="The routing rules (YAML).", show_default=False)]


def _fail(path: Path, issues: list[Issue]) -> None:
    """One stderr line per problem, then exit 1 (the contract for user errors)."""
    for issue in issues:
        sys.stderr.write(f"data-mash: error: {path}: {issue}\n")
    raise typer.Exit(1)


def _checked(path: Path) -> None:
    if not path.is_file():
        raise InputError("rule file not found", where=str(path), fix="check the path")
    report = validate_rule_set(path)
    if report.errors:
        _fail(path, report.errors)


@contextmanager
def _progress_bar(state: AppState, label: str) -> Iterator[Callable[[float, float | None], None]]:
    """A progress bar on a terminal; a silent callback under --json or when piped."""
    console = Console(stderr=True)
    if state.json or not console.is_terminal:
        yield lambda _done, _total: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: float, total: float | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command()
def route(
    ctx: typer.Context,
    source_id: Annotated[
        str,
        typer.Argument(
            help="The source to route (see: data-mash sources), or an assembly id (asm-...) "
            "to route its whole policies."
        ),
    ],
    rules: Annotated[Path, typer.Option("--rules", "-r", help="The routing rules (YAML).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; record nothing.")] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Route every policy of a source through its approved mapping, by YAML rules.

    The rules are stored as a new rule-set version (named after the file; the same YAML is the
    same version). Each batch's decisions are audited and applied in one commit, so an
    interrupted run is resumed by running the same command again.

    Given an assembly id, the rules see whole policies: the documents of its finished run, with
    every system's coverages, payments, letters and claims, from its root's system.

    Example: data-mash route --rules insurer_rules.yaml src-1a2b --dry-run
    """

    state = state_for(ctx, json_out, tenant)
    _checked(rules)
    who = state.settings.tenant
    engine = state.engine
    mapped = None
    whole = is_assembly(source_id)
    if not dry_run and not whole:  # a dry run writes nothing, not even the canonical records
        with _progress_bar(state, f"Mapping {source_id} to canonical first") as progress:
            mapped = ensure_canonical_records(
                engine, state.settings, source_id, who, progress=progress
            )
        if mapped is not None and not state.json:
            state.console.print(
                f"No canonical records yet: ran mapping {mapped.mapping_id} v{mapped.version} "
                f"first ({mapped.valid:,} canonical, {mapped.invalid:,} quarantined)."
            )
    batches: Any
    system = None
    if whole:
        batches = assembly_records(engine, state.settings, who, source_id)
        system = root_system(engine, who, source_id)
    else:
        batches = canonical_batches_for_source(engine, state.settings, source_id, who)
    if dry_run:
        ref: Any = load_rule_set(rules)
    else:
        ref = register_rule_set(engine, who, rules).id
    with _progress_bar(state, f"Routing {source_id}") as progress:
        result = route_source(
            engine,
            state.settings,
            ref,
            batches,
            tenant=who,
            source_id=source_id,
            dry_run=dry_run,
            progress=progress,
            source_system=system,
        )
    data = RouteRun(**dict(result), mapping_run=mapped)

    def render(console: Console) -> None:
        verb = "Would route" if dry_run else "Routed"
        console.print(
            f"{verb} {result.routed} policies of {source_id} with {result.rule_set}"
            + (f" ({result.unrouted} matched no rule)" if result.unrouted else "")
        )
        console.print(
            table(
                "By target",
                ["target", "policies"],
                sorted(result.by_target.items(), key=lambda kv: -kv[1]),
            )
        )
        console.print(
            table(
                "By rule",
                ["rule", "policies", "sample"],
                [
                    (name, n, ", ".join(result.sample_per_rule.get(name, [])[:3]))
                    for name, n in result.by_rule.items()
                ],
            )
        )
        if result.resumed_batches:
            console.print(
                f"{result.resumed_batches} batch(es) were already recorded by an "
                "earlier run and were skipped."
            )
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}")

    emit(state, data, render)


@rules_app.command("validate")
def rules_validate(
    ctx: typer.Context, rules: RulesFile, json_out: JsonOption = False, tenant: TenantOption = None
) -> None:
    """Check a rule file: every error and warning with its line; exit 1 if any error.

    Example: data-mash rules validate insurer_rules.yaml
    """
    state = state_for(ctx, json_out, tenant)
    if not rules.is_file():
        raise InputError("rule file not found", where=str(rules), fix="check the path")
    report = validate_rule_set(rules)

    def problem(issue: Issue) -> RuleProblem:
        return RuleProblem(
            line=issue.line, column=issue.column, rule=issue.rule, message=issue.message
        )

    data = RuleFileValidation(
        file=str(rules),
        ok=report.ok,
        errors=[problem(i) for i in report.errors],
        warnings=[problem(i) for i in report.warnings],
    )
    if state.json:
        emit(state, data, lambda _console: None)
        if report.errors:
            sys.stderr.write(f"data-mash: error: {rules}: {len(report.errors)} problem(s)\n")
            raise typer.Exit(1)
        return
    if report.errors:
        _fail(rules, report.errors)
    console = Console()
    console.print(f"{rules}: valid")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@rules_app.command("add")
def rules_add(
    ctx: typer.Context,
    rules: RulesFile,
    name: Annotated[
        str | None, typer.Option(help="Store under this name (default: file stem).")
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Store a rule file as the next version of its name (the same YAML: the same version)."""

    state = state_for(ctx, json_out, tenant)
    _checked(rules)
    info = register_rule_set(state.engine, state.settings.tenant, rules, name=name)
    emit(
        state,
        info,
        lambda console: console.print(
            f"Stored {info.label} ({info.rule_count} rules, sha256 {info.sha256[:12]})"
        ),
    )


@rules_app.command("list")
def rules_list(
    ctx: typer.Context, json_out: JsonOption = False, tenant: TenantOption = None
) -> None:
    """List stored rule-set versions."""

    state = state_for(ctx, json_out, tenant)
    found = list_rule_sets(state.engine, state.settings.tenant)
    emit(
        state,
        RuleSetList(rule_sets=found, total=len(found)),  # list_stored_rule_sets' model
        lambda console: console.print(
            table(
                "Stored rule sets",
                ["name", "version", "rules", "declared", "stored"],
                [
                    (
                        i.name,
                        i.version,
                        i.rule_count,
                        i.rules_version,
                        i.created_at.isoformat()[:19],
                    )
                    for i in found
                ],
            )
        ),
    )


@app.command()
def reroute(
    ctx: typer.Context,
    policy_id: PolicyIdArgument,
    to: Annotated[
        str,
        typer.Option(
            "--to", help=f"Target to move the policy to (aliases in brackets): {target_help()}."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Move a routed policy to another system by hand; audited with its previous system.

    Example: data-mash reroute A00001234 --to legacy_batch --reason "broker request"
    """

    state = state_for(ctx, json_out, tenant)
    result = reroute_policy(state.engine, policy_id, to, reason, tenant=state.settings.tenant)
    data = PolicyReroute(policy_id=policy_id, **dict(result))

    def render(console: Console) -> None:
        if result.moved:
            console.print(
                f"Policy {policy_id}: {result.previous[policy_id]} -> {result.target} "
                f"(audit entry {result.entry_id})."
            )
        else:
            console.print(f"Policy {policy_id} is already in {result.target}; nothing changed.")

    emit(state, data, render)


def _policy_argument(policy: str) -> dict[str, Any]:
    text = Path(policy[1:]).read_text(encoding="utf-8") if policy.startswith("@") else policy
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, OSError) as exc:
        raise InputError(
            f"--policy is not a JSON object: {exc}",
            where="--policy",
            fix='e.g. --policy \'{"policy_core.policy_id": "A1", "policy_core.status": "active"}\''
            " or --policy @policy.json",
        ) from None
    if not isinstance(value, dict):
        raise InputError("--policy must be a JSON object", where="--policy", fix="wrap it in {}")
    return value


@rules_app.command("evaluate")
def rules_evaluate(
    ctx: typer.Context,
    rule_set: Annotated[
        str, typer.Argument(help="A stored rule set: NAME, NAME@VERSION or its id.")
    ],
    policy: Annotated[
        str,
        typer.Option(
            help="One canonical policy as JSON (dotted keys or nested), or @FILE holding it."
        ),
    ],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Route one policy and explain which rule fired and why; writes nothing.

    MCP: evaluate_policy. Example:
      data-mash rules evaluate insurer_rules --policy '{"policy_core.status": "active"}'
    """
    state = state_for(ctx, json_out, tenant)
    record = _policy_argument(policy)
    stored = get_rule_set(state.engine, state.settings.tenant, rule_set)
    decision = evaluate_policy(stored.load(), record)
    data = PolicyDecision(
        rule_set=stored.info.label,
        target=decision.target,
        rule=decision.rule,
        explanation=decision.explanation,
    )
    emit(
        state,
        data,
        lambda console: console.print(
            f"{stored.info.label}: -> [bold]{decision.target or 'no target'}[/bold] "
            f"(rule {decision.rule or '-'})\n{decision.explanation}"
        ),
    )


@rules_app.command("diff")
def rules_diff(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="Older stored rule set: NAME@VERSION or id.")],
    new: Annotated[str, typer.Argument(help="Newer stored rule set: NAME@VERSION or id.")],
    source: Annotated[str, typer.Option(help="Source whose policies are compared.")],
    sample_size: Annotated[int, typer.Option(min=0, max=100, help="Moved policies to list.")] = 20,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Compare two stored rule-set versions: changed rules and the policies that would move.

    Read-only (MCP: diff_rule_sets).
    """
    state = state_for(ctx, json_out, tenant)
    who = state.settings.tenant
    batches = canonical_batches_for_source(state.engine, state.settings, source, who)
    routable = with_derived_fields(
        batches,
        source_system=getattr(batches, "system", None),
        wave_lookup=getattr(batches, "wave_lookup", None),
    )
    old_set, new_set, diff = diff_stored_rule_sets(
        state.engine, old, new, routable, tenant=who, sample_size=sample_size
    )
    data = RuleSetComparison.of(old_set.info.label, new_set.info.label, diff)

    def render(console: Console) -> None:
        console.print(
            f"{data.old} -> {data.new}: {diff.changed_count} of {diff.total} policies of "
            f"{source} change target; rules added {diff.added or '-'}, removed "
            f"{diff.removed or '-'}, changed {list(data.changed) or '-'}"
        )
        console.print(
            table(
                "Moves",
                ["from", "to", "policies"],
                [(t.from_target, t.to_target, t.count) for t in data.transitions],
            )
        )

    emit(state, data, render)
