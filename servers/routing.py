"""The routing MCP server: validate rules, explain one decision, route a source, override, audit.

Thin by design: arguments are validated by their types, the work is done by ``tools.routing``,
and results are returned as pydantic models. Stored rule-set versions are also resources at
``rules://{tenant}/{name}/{version}`` (the YAML as stored).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from mcp.server.fastmcp import Context, FastMCP
from pydantic import Field
from sqlalchemy import Engine

from core.ids import PolicyId, SourceId
from core.paths import confine
from core.settings import Settings
from core.store import open_store
from core.targets import target_help
from servers.common import (
    IDEMPOTENT_WRITES,
    READ_ONLY,
    CapabilityServer,
    Cursor,
    Limit,
    Tenant,
    page_bounds,
    run_blocking,
    run_server,
    scoped_tenant,
    server_roots,
    user_errors,
)
from servers.prompts import register_prompts
from tools.routing import evaluate_policy as explain_policy
from tools.routing import validate_rule_set
from tools.routing.canonical_input import canonical_batches_for_source
from tools.routing.conflicts import diff_stored_rule_sets
from tools.routing.contracts import (
    PolicyDecision,
    PolicyRouting,
    RuleProblem,
    RuleSetComparison,
    RuleSetList,
    RulesValidation,
)
from tools.routing.decisions import RouteResult
from tools.routing.decisions import route_source as route_batches
from tools.routing.derived import with_derived_fields
from tools.routing.overrides import RerouteResult
from tools.routing.overrides import reroute_policy as reroute_one
from tools.routing.overrides import routing_history as history_of
from tools.routing.rulesets import RuleSetInfo, get_rule_set, list_rule_sets, register_rule_set

#: Finds a source's canonical batches: (engine, settings, source_id, tenant) -> batches.
BatchSource = Callable[[Engine, Settings, str, str], Iterable[pa.RecordBatch]]

RuleSetRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="A stored rule set: NAME (latest version), NAME@VERSION, or its numeric id.",
    ),
]
RulesYaml = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1_000_000,
        description="The rule set as YAML text (`routing_rules:` ...).",
    ),
]


def _problems(issues: Iterable[Any]) -> list[RuleProblem]:
    return [
        RuleProblem(line=i.line, column=i.column, rule=i.rule, message=i.message) for i in issues
    ]


def build_server(
    settings: Settings, *, batches_for: BatchSource = canonical_batches_for_source
) -> FastMCP:
    """Build the routing server.

    Args:
        settings: Settings (store, default tenant, batch size).
        batches_for: Where a source's canonical batches come from (tests inject their own).
    """
    mcp = CapabilityServer(
        name="data-mash-routing",
        instructions=(
            "Routes insurance policies to target systems by YAML rules. Store a rule set "
            "(store_rule_set), check it on a source (routing_distribution, diff_rule_sets), then "
            "route_source. Every decision is audited; reroute_policy overrides one."
        ),
    )

    @cache
    def engine() -> Engine:
        return open_store(settings)

    roots = server_roots(settings)

    def tenant_of(tenant: str | None) -> str:
        return scoped_tenant(settings, tenant)

    def rules_source(rules: str) -> str | Path:
        """The YAML text as is, or a rule file confined to the allowed roots.

        The loader reads a one-line value naming a ``.yaml`` file (or any existing file) from
        disk, so exactly those values are checked against the roots first.
        """
        one_line = "\n" not in rules
        if one_line and (rules.strip().endswith((".yaml", ".yml")) or os.path.exists(rules)):
            return confine(rules.strip(), roots)
        return rules

    def routable(source_id: str, tenant: str) -> Iterable[pa.RecordBatch]:
        batches = batches_for(engine(), settings, source_id, tenant)
        return with_derived_fields(
            batches,
            source_system=getattr(batches, "system", None),
            wave_lookup=getattr(batches, "wave_lookup", None),
        )

    async def route(
        ctx: Context, source_id: str, rule_set: str, tenant: str | None, *, dry_run: bool
    ) -> RouteResult:
        """Route a source's policies in a thread with progress; a dry run records nothing."""
        who = tenant_of(tenant)

        def work(progress: Callable[[float, float | None], None]) -> RouteResult:
            batches = batches_for(engine(), settings, source_id, who)
            return route_batches(
                engine(),
                settings,
                rule_set,
                batches,
                tenant=who,
                source_id=source_id,
                dry_run=dry_run,
                progress=progress,
            )

        return await run_blocking(ctx, work, with_progress=True)

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def validate_rules(rules: RulesYaml) -> RulesValidation:
        """Check a routing rule set; every error and warning comes with its YAML line."""
        report = validate_rule_set(rules_source(rules))
        return RulesValidation(
            ok=report.ok, errors=_problems(report.errors), warnings=_problems(report.warnings)
        )

    @mcp.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def store_rule_set(
        rules: RulesYaml,
        name: Annotated[
            str,
            Field(
                min_length=1,
                max_length=128,
                description="Name to store it under, e.g. insurer_rules.",
            ),
        ],
        tenant: Tenant = None,
    ) -> RuleSetInfo:
        """Validate and store a rule set as the next version of NAME (same YAML: same version)."""
        return await run_blocking(
            None,
            lambda: register_rule_set(engine(), tenant_of(tenant), rules_source(rules), name=name),
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def list_stored_rule_sets(
        name: Annotated[str | None, Field(description="Only versions of this name.")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        tenant: Tenant = None,
    ) -> RuleSetList:
        """List stored rule-set versions (name, version, rule count, when)."""
        found = await run_blocking(None, lambda: list_rule_sets(engine(), tenant_of(tenant), name))
        start, end, page = page_bounds(cursor, limit, len(found))
        return RuleSetList(rule_sets=found[start:end], **page.model_dump())

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def evaluate_policy(
        rule_set: RuleSetRef,
        policy: Annotated[
            dict[str, Any],
            Field(
                description=(
                    "One canonical policy: dotted keys ({'policy_core.policy_id': 'A1'}) or nested "
                    "objects; derived fields (data_quality_score, source_system, wave) as keys."
                )
            ),
        ],
        tenant: Tenant = None,
    ) -> PolicyDecision:
        """Route one policy and explain which rule fired and why (writes nothing)."""
        stored = await run_blocking(
            None, lambda: get_rule_set(engine(), tenant_of(tenant), rule_set)
        )
        decision = explain_policy(stored.load(), policy)
        return PolicyDecision(
            rule_set=stored.info.label,
            target=decision.target,
            rule=decision.rule,
            explanation=decision.explanation,
        )

    @mcp.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def route_source(
        source_id: SourceId,
        rule_set: RuleSetRef,
        ctx: Context,
        tenant: Tenant = None,
    ) -> RouteResult:
        """Route every policy of a source and record each decision (audited, resumable)."""
        return await route(ctx, source_id, rule_set, tenant, dry_run=False)

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def routing_distribution(
        source_id: SourceId,
        rule_set: RuleSetRef,
        ctx: Context,
        tenant: Tenant = None,
    ) -> RouteResult:
        """Dry run: how many of a source's policies each rule and target would get."""
        return await route(ctx, source_id, rule_set, tenant, dry_run=True)

    @mcp.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def reroute_policy(
        policy_id: PolicyId,
        target: Annotated[
            str,
            Field(
                min_length=1,
                max_length=64,
                description=f"Target to move the policy to (name or alias): {target_help()}.",
            ),
        ],
        reason: Annotated[
            str,
            Field(
                min_length=3,
                max_length=500,
                description="Why; kept on the move and in the audit log.",
            ),
        ],
        tenant: Tenant = None,
    ) -> RerouteResult:
        """Move one routed policy to another system by hand (audited; same target: no-op)."""
        return await run_blocking(
            None, lambda: reroute_one(engine(), policy_id, target, reason, tenant=tenant_of(tenant))
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def routing_history(
        policy_id: PolicyId,
        limit: Limit = 50,
        cursor: Cursor = None,
        tenant: Tenant = None,
    ) -> PolicyRouting:
        """Where a policy is, every move that took it there, and the audit entries behind them."""
        found = await run_blocking(
            None, lambda: history_of(engine(), policy_id, tenant=tenant_of(tenant))
        )
        start, end, page = page_bounds(cursor, limit, len(found.entries))
        return PolicyRouting(
            policy_id=policy_id,
            location=found.location,
            moves=found.moves,
            entries=found.entries[start:end],
            **page.model_dump(),
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def diff_rule_sets(
        old: RuleSetRef,
        new: RuleSetRef,
        source_id: SourceId,
        sample_size: Annotated[
            int, Field(ge=0, le=100, description="Changed policies to list.")
        ] = 20,
        tenant: Tenant = None,
    ) -> RuleSetComparison:
        """Compare two stored versions: changed rules and policies of a source that would move."""
        who = tenant_of(tenant)
        old_set, new_set, diff = await run_blocking(
            None,
            lambda: diff_stored_rule_sets(
                engine(), old, new, routable(source_id, who), tenant=who, sample_size=sample_size
            ),
        )
        return RuleSetComparison.of(old_set.info.label, new_set.info.label, diff)

    @mcp.resource(
        "rules://{tenant}/{name}/{version}",
        mime_type="application/yaml",
        description="A stored routing rule-set version, as YAML.",
    )
    def rule_set_resource(tenant: str, name: str, version: str) -> str:
        """The YAML of a stored rule-set version."""
        if not version.isdigit():
            raise ValueError(f"version '{version}' is not a number")
        return get_rule_set(engine(), tenant_of(tenant), name, int(version)).yaml

    register_prompts(mcp, "routing")
    return mcp


def main() -> None:
    """Serve over stdio with settings from the environment."""
    run_server(build_server(Settings()), "stdio")
