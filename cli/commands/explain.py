"""Read-only questions the MCP servers answer, on the command line too: reconcile a wave, a
policy's lineage, one policy's routing decision, and what changes between two rule-set versions.

Each command calls the same ``tools`` function as its MCP tool (named in its docstring) and
prints the same fields under ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.app import app
from cli.commands import waves as wave_commands
from cli.commands.route import rules_app
from cli.commands.waves import wave_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from core.errors import InputError
from tools.routing.contracts import PolicyDecision, RuleSetComparison
from tools.waves.contracts import WaveReconciliation
from tools.waves.tracker import PolicyLineage


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
    from tools.waves import reconcile_wave

    state = state_for(ctx, json_out, tenant)
    report = reconcile_wave(wave_commands._context(state), wave_id)
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


@app.command()
def lineage(
    ctx: typer.Context,
    policy_id: Annotated[str, typer.Argument(help="The policy id, as in the legacy system.")],
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """A policy's path: source file, source, mapping version, canonical, rule, wave, target.

    Read-only (MCP: lineage).
    """
    from tools.waves import lineage as trace

    state = state_for(ctx, json_out, tenant)
    steps = trace(wave_commands._context(state), policy_id)
    emit(
        state,
        PolicyLineage(policy_id=policy_id, steps=steps),
        lambda console: console.print(
            table(
                f"Lineage of policy {policy_id}",
                ["stage", "value", "detail"],
                [
                    (s.stage, s.value or "-", json.dumps(s.detail, default=str) if s.detail else "")
                    for s in steps
                ],
            )
        ),
    )


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
    from tools.routing import evaluate_policy
    from tools.routing.rulesets import get_rule_set

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
    from tools.routing.canonical_input import canonical_batches_for_source
    from tools.routing.conflicts import diff_stored_rule_sets
    from tools.routing.derived import with_derived_fields

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
