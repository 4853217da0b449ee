"""A small two-tenant estate for the API and browser tests, and tokens to reach it.

Each tenant has a staged source with a draft mapping, two canonical sources (one with bad
premiums, so a gate fails), a plan whose clean wave 0 already ran, and policy locations.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from api.auth import Caller, Role
from core.settings import Settings
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts
from tools.canonical import create_mapping
from tools.waves import WaveContext, check_gates, generate_plan, override_gate, run_wave

TENANTS = ("acme", "beta")


@dataclass
class TenantEstate:
    """The ids of one tenant's objects."""

    tenant: str
    source_id: str
    mapping_id: str
    plan_id: str
    done_wave: str
    blocked_wave: str
    runnable_wave: str
    failing_gate: str
    policy_id: str
    failing_policy: str
    assembly_id: str = ""
    assembled_policy: str = ""
    conflict_ids: tuple[int, ...] = ()


@dataclass
class Tokens:
    """An in-memory token verifier with one token per tenant and role."""

    raw: dict[tuple[str, Role], str] = field(default_factory=dict)
    callers: dict[str, Caller] = field(default_factory=dict)

    def issue(self, tenant: str, role: Role) -> str:
        token_id = secrets.token_hex(4)
        token = f"dmt_{token_id}_{secrets.token_urlsafe(16)}"
        self.raw[(tenant, role)] = token
        self.callers[token] = Caller(tenant=tenant, role=role, token_id=token_id)
        return token

    def verify(self, raw: str) -> Caller | None:
        return self.callers.get(raw)

    def any_active(self) -> bool:
        return bool(self.callers)

    def header(self, tenant: str, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw[(tenant, role)]}"}


@dataclass
class Estate:
    settings: Settings
    engine: Engine
    folders: dict[str, Path]
    tenants: dict[str, TenantEstate]
    tokens: Tokens

    def context_for(self, engine: Engine, settings: Settings, tenant: str) -> WaveContext:
        """Wave contexts over the Parquet canonical sources, per tenant."""
        return dataclasses.replace(make_context(engine, settings, self.folders), tenant=tenant)


def build_estate(root: Path) -> Estate:
    """Build both tenants' objects under ``root`` (a few seconds on SQLite)."""
    from core.store import open_store

    settings = Settings(home=root / "ws", batch_size=100, embedding_provider="none")
    engine = open_store(settings)
    tokens = Tokens()
    estate = Estate(settings, engine, {}, {}, tokens)
    # First (an assembly is proposed over every source of its tenant, and the wave sources
    # below are registered without staged records).
    generated = generate_sample_estate(root / "sample", policies=60, seed=7)
    assembled = {tenant: assemble_sample(engine, settings, generated, tenant) for tenant in TENANTS}
    for n, tenant in enumerate(TENANTS):
        prefix = "AB"[n]
        clean, dirty = f"{tenant}-clean", f"{tenant}-dirty"
        estate.folders[clean] = write_parts(
            root / clean, canonical_table(120, prefix=f"{prefix}C"), 100
        )
        estate.folders[dirty] = write_parts(
            root / dirty, canonical_table(40, prefix=f"{prefix}D", bad_every=4), 100
        )
        register_source(engine, settings, clean, 120, tenant=tenant)
        register_source(engine, settings, dirty, 40, tenant=tenant)
        source_id = stage_source(
            engine, settings, policy_table(30), name=f"polmast-{tenant}", tenant=tenant
        )
        mapping = create_mapping(engine, source_id, BASE_RULES, tenant=tenant)
        context = estate.context_for(engine, settings, tenant)
        plan = generate_plan(context, source_ids=[clean, dirty], target="new_platform")
        done = plan.waves[0].wave_id
        assert run_wave(context, done).status == "completed"
        blocked = plan.waves[-1].wave_id
        report = check_gates(context, blocked)
        failing = next(r for r in report.results if not r.passed)
        runnable = plan.waves[1].wave_id  # blocked by the same gate: let it run anyway
        check_gates(context, runnable)
        override_gate(context, runnable, gate=failing.gate, reason="known bad premiums")
        estate.tenants[tenant] = TenantEstate(
            tenant=tenant,
            source_id=source_id,
            mapping_id=mapping.mapping_id,
            plan_id=plan.plan_id,
            done_wave=done,
            blocked_wave=blocked,
            policy_id=f"{prefix}C000007",
            runnable_wave=runnable,
            failing_gate=failing.gate,
            failing_policy=failing.sample[0],
        )
        for role in Role:
            tokens.issue(tenant, role)
    for tenant, ids in estate.tenants.items():
        ids.conflict_ids = queue_sync_conflicts(engine, tenant, ids.policy_id)
    for tenant, (assembly_id, policy_id) in assembled.items():
        estate.tenants[tenant].assembly_id = assembly_id
        estate.tenants[tenant].assembled_policy = policy_id
    return estate


def queue_sync_conflicts(engine: Engine, tenant: str, policy_id: str) -> tuple[int, ...]:
    """Two field conflicts of ``policy_id`` in the sync queue: legacy and new both changed the
    carrier and the agency since the wave (the default conflict policy asks a person)."""
    from tools.sync.conflicts import ConflictQueue
    from tools.sync.merge import merge
    from tools.sync.policy import load_policy

    result = merge(
        {"policy_core": {"carrier": "Acme Mutual", "agent_info": {"agency": "North"}}},
        {"policy_core": {"carrier": "Acme Legacy", "agent_info": {"agency": "South"}}},
        {"policy_core": {"carrier": "Acme New", "agent_info": {"agency": "East"}}},
        load_policy(),
    )
    queue = ConflictQueue(engine, tenant=tenant, actor="sync relay")
    ids = queue.enqueue(policy_id, result.queued, legacy_source="extract-2", new_source="outbox#9")
    return tuple(ids)


def generate_sample_estate(out: Path, *, policies: int, seed: int) -> Path:
    """The demo's generated estate of several legacy systems (related sources to assemble)."""
    from evals.estate import generate_estate

    generate_estate(out, policies=policies, seed=seed)
    return out


def assemble_sample(engine: Engine, settings: Settings, out: Path, tenant: str) -> tuple[str, str]:
    """Ingest the generated estate for ``tenant`` and run an assembly rooted at agency_policies
    (its root mapping and the assembly approved); its id and one assembled policy id."""
    from evals.demo import sources_step
    from tools.assembly.output import assembled_batches
    from tools.assembly.run import run_assembly
    from tools.assembly.spec import approve_assembly, propose_assembly
    from tools.canonical.repository import approve_mapping

    mine = settings.model_copy(update={"tenant": tenant})
    staged = sources_step(engine, mine, out)
    root = next(r["source_id"] for r in staged["sources"] if r["name"] == "agency_policies")
    spec = propose_assembly(engine, mine, root, None, tenant=tenant)
    approve_mapping(engine, spec.root_mapping_id, tenant=tenant)
    approve_assembly(engine, spec.assembly_id, tenant=tenant)
    run_assembly(engine, mine, spec.assembly_id, tenant=tenant)
    first = next(assembled_batches(mine, tenant, spec.assembly_id))
    return spec.assembly_id, str(first.column("policy_core.policy_id")[0].as_py())
