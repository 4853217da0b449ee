"""A policy's lineage: source file, source, mapping version, canonical, rule, wave, target.

The same ``tools`` function as the MCP lineage tool, and the same fields under ``--json``.
"""

from __future__ import annotations

import json

import typer

from cli.app import command_app
from cli.commands import waves as wave_commands
from cli.context import JsonOption, PolicyIdArgument, TenantOption, state_for
from cli.output import emit, table
from tools.waves import lineage as trace
from tools.waves.tracker import PolicyLineage

app = command_app()


@app.command()
def lineage(
    ctx: typer.Context,
    policy_id: PolicyIdArgument,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """A policy's path: source file, source, mapping version, canonical, rule, wave, target.

    Read-only (MCP: lineage).
    """
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
