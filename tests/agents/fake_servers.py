"""FAKE MCP SERVERS FOR AGENT TESTS ONLY: canonical, routing, waves, governance, sync stand-ins.

They register the tool names of the real servers with small, deterministic behaviour and
return the SAME contract models (tools/<capability>/contracts.py), so the journeys are tested
end to end over stdio against the real result shapes: a renamed field breaks these tests, not
a run. They are not a product: nothing here is used outside tests/agents. State lives in a
JSON file in DATA_MASH_HOME so a second process (a resumed journey) sees what the first one did.

Run one over stdio: python -m tests.agents.fake_servers canonical
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError

from tools.canonical.contracts import (
    ExportedFile,
    ExportResult,
    MappingView,
    MapRunResult,
    MatchEvidence,
    ModelList,
    ModelSummary,
    SuggestedField,
    SuggestedMapping,
)
from tools.canonical.spec import FieldRule
from tools.routing.contracts import (
    RouteResult,
    RuleProblem,
    RuleSetInfo,
    RulesValidation,
)
from tools.sync.contracts import AdoptReport, LedgerUpdate, Owner, SyncStatus, WaveAdoption
from tools.waves.contracts import (
    GateOverride,
    GateReport,
    GateResult,
    Plan,
    PlanCriteria,
    StepState,
    WaveReconciliation,
    WaveStatus,
    WaveSummary,
)
from tools.waves.reconcile import ReconciliationReport
from tools.waves.statuses import MILESTONES, WaveState

# Legacy column -> canonical field, the fake "matcher" (confidence is fixed per column).
KNOWN = {
    "POLICY_NO": ("policy_core.policy_id", 0.97),
    "HOLDER": ("policy_core.insured_party.name", 0.81),
    "PREMIUM": ("rating_components.premium_amount", 0.9),
    "EFF_DATE": ("policy_core.effective_date", 0.62),
    "STATE": ("policy_core.insured_party.address.state", 0.55),
}


def _home() -> Path:
    return Path(os.environ.get("DATA_MASH_HOME", ".data-mash"))


def _load() -> dict[str, Any]:
    path = _home() / "fake_servers.json"
    return json.loads(path.read_text()) if path.exists() else {"mappings": {}, "calls": []}


def _save(data: dict[str, Any]) -> None:
    (_home() / "fake_servers.json").write_text(json.dumps(data, indent=1, sort_keys=True))


def _log(tool: str, args: dict[str, Any]) -> None:
    data = _load()
    data["calls"].append({"tool": tool, "args": args})
    _save(data)


def canonical_server() -> FastMCP:
    server = FastMCP(name="fake-canonical")

    @server.tool()
    async def list_models() -> ModelList:
        """List canonical models."""
        return ModelList(
            models=[
                ModelSummary(
                    version="policy_v1",
                    title="Canonical policy v1",
                    schema_id="canonical://policy/v1",
                    fields=len(KNOWN),
                )
            ]
        )

    @server.tool()
    async def suggest_mapping(source_id: str, canonical: str = "policy_v1") -> SuggestedMapping:
        """Propose a mapping of a source's columns to the canonical model."""
        _log("suggest_mapping", {"source_id": source_id})
        mapping_id = f"map_{source_id}"
        found = SuggestedMapping(
            mapping_id=mapping_id,
            source_id=source_id,
            version=1,
            canonical=canonical,
            threshold=0.8,
            calibration="fixed",
            mappings=[
                SuggestedField(
                    source=col,
                    target=target,
                    confidence=conf,
                    evidence=MatchEvidence(
                        candidate=target,
                        signals={"name": conf},
                        agreed=["name"],
                        alternatives=[],
                        sample_values=[],
                    ),
                    transform=[],
                )
                for col, (target, conf) in KNOWN.items()
            ],
            unmapped={"STATUS": "no candidate above the floor"},
        )
        data = _load()
        data["mappings"][mapping_id] = {
            "source_id": source_id,
            "status": "draft",
            "version": 1,
            "rules": [
                FieldRule(source=col, target=target, confidence=conf).model_dump(mode="json")
                for col, (target, conf) in KNOWN.items()
            ],
        }
        _save(data)
        return found

    def view(mapping_id: str, found: dict[str, Any]) -> MappingView:
        return MappingView(
            mapping_id=mapping_id,
            source_id=found["source_id"],
            canonical="policy_v1",
            version=found["version"],
            status=found["status"],
            fields=[FieldRule.model_validate(r) for r in found["rules"]],
        )

    @server.tool()
    async def update_field_mapping(
        mapping_id: str, target: str, source: str | None = None, unmap: bool = False
    ) -> MappingView:
        """Confirm, edit or reject one field of a mapping (keyed by the canonical target)."""
        data = _load()
        found = data["mappings"].get(mapping_id)
        if found is None:
            raise ToolError(f"no mapping '{mapping_id}'")
        if "." not in target:
            raise ToolError(f"'{target}' is not a canonical field path")
        _log("update_field_mapping", {"target": target, "source": source, "unmap": unmap})
        rules = [r for r in found["rules"] if r["target"] != target and r["source"] != source]
        if not unmap:
            rule = FieldRule(source=source, target=target, confidence=1.0, status="confirmed")
            rules.append(rule.model_dump(mode="json"))
        found["rules"] = sorted(rules, key=lambda r: r["source"] or "")
        _save(data)
        return view(mapping_id, found)

    @server.tool()
    async def approve_mapping(mapping_id: str) -> MappingView:
        """Approve a mapping (new version)."""
        data = _load()
        found = data["mappings"][mapping_id]
        found["status"] = "approved"
        found["version"] += 1
        _save(data)
        _log("approve_mapping", {"mapping_id": mapping_id})
        return view(mapping_id, found)

    @server.tool()
    async def map_to_canonical(mapping_id: str) -> MapRunResult:
        """Map the source's records (fake: four records, all valid)."""
        _refuse_if_asked("map_to_canonical")
        found = _load()["mappings"][mapping_id]
        return MapRunResult(
            mapping_id=mapping_id,
            version=found["version"],
            source_id=found["source_id"],
            records=4,
            valid=4,
            invalid=0,
            batches=1,
            resumed_batches=0,
            output_dir=str(_home() / "canonical"),
            quarantine_dir=str(_home() / "quarantine"),
            field_errors={},
            errors=[],
        )

    @server.tool()
    async def export_mapping(mapping_id: str, formats: list[str]) -> ExportResult:
        """Export an approved mapping."""
        found = _load()["mappings"][mapping_id]
        out = _home() / "exports"
        out.mkdir(exist_ok=True)
        files = []
        fields = {r["source"]: r["target"] for r in found["rules"] if r["source"]}
        for fmt in formats:
            path = out / f"{mapping_id}.{fmt}"
            path.write_text(
                json.dumps(fields, sort_keys=True)
                if fmt == "json"
                else yaml.safe_dump(fields, sort_keys=True)
            )
            files.append(
                ExportedFile(
                    path=str(path),
                    format=fmt,
                    records=None,
                    bytes=path.stat().st_size,
                    sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                )
            )
        return ExportResult(
            mapping_id=mapping_id,
            version=found["version"],
            files=files,
            manifest=str(out / "manifest.json"),
        )

    for name in ("get_model_schema", "validate_records", "assess_mapping_change"):
        server.add_tool(_trivial(name), name=name, description=f"Fake {name}.")
    return server


def routing_server() -> FastMCP:
    server = FastMCP(name="fake-routing")

    @server.tool()
    async def validate_rules(rules: str) -> RulesValidation:
        """Check a routing rule set."""
        try:
            loaded = yaml.safe_load(rules)
            ok = isinstance(loaded["routing_rules"]["rules"], list)
        except Exception:  # noqa: BLE001
            problem = RuleProblem(
                line=1, column=1, rule=None, message="not a routing_rules document"
            )
            return RulesValidation(ok=False, errors=[problem], warnings=[])
        return RulesValidation(ok=ok, errors=[], warnings=[])

    @server.tool()
    async def store_rule_set(rules: str, name: str) -> RuleSetInfo:
        """Store a rule set version."""
        return RuleSetInfo(
            id=1,
            tenant="default",
            name=name,
            version=1,
            sha256=hashlib.sha256(rules.encode()).hexdigest(),
            rules_version="1",
            canonical="policy_v1",
            rule_count=rules.count("- name:"),
            entry_id=None,
            created_at=datetime.now(UTC),
        )

    @server.tool()
    async def routing_distribution(source_id: str, rule_set: str) -> RouteResult:
        """Dry run of routing."""
        return RouteResult(
            rule_set=rule_set,
            source_id=source_id,
            run_id=None,
            dry_run=True,
            routed=4,
            unrouted=0,
            by_target={"NewPlatformAPI": 2, "DataQualityQueue": 1, "LegacyBatch": 1},
            by_rule={
                "migrated_policies": 2,
                "data_quality_issues": 1,
                "cancelled_or_expired_archive": 1,
            },
            sample_per_rule={},
            warnings=[],
        )

    for name in (
        "evaluate_policy",
        "route_source",
        "reroute_policy",
        "routing_history",
        "diff_rule_sets",
    ):
        server.add_tool(_trivial(name), name=name, description=f"Fake {name}.")
    return server


def _wave(
    wave_id: str, status: WaveState, steps: dict[str, StepState], **counts: int
) -> WaveStatus:
    return WaveStatus(
        wave_id=wave_id,
        plan_id="plan_1",
        number=int(wave_id[1:]),
        label=wave_id,
        target="new_platform",
        status=status,
        steps=steps,
        policy_count=counts.get("migrated", 0) + counts.get("failed", 0),
        migrated=counts.get("migrated", 0),
        failed=counts.get("failed", 0),
        validation=None,
        gate_overrides={},
        error=None,
        run_no=1,
        started_at=None,
        finished_at=None,
    )


def waves_server() -> FastMCP:
    server = FastMCP(name="fake-waves")

    @server.tool()
    async def plan_waves(source_ids: list[str], target: str) -> Plan:
        """Plan waves."""
        now = datetime.now(UTC)
        return Plan(
            plan_id="plan_1",
            version=1,
            target=target,
            canonical="policy_v1",
            source_ids=source_ids,
            criteria=PlanCriteria(),
            summary={},
            waves=[
                WaveSummary(
                    wave_id=wave_id,
                    number=number,
                    label=label,
                    target=target,
                    status=WaveState.PENDING,
                    policy_count=count,
                    scheduled_for=None,
                )
                for wave_id, number, label, count in (("w0", 0, "clean", 3), ("w1", 1, "rest", 1))
            ],
            created_at=now,
            updated_at=now,
        )

    @server.tool()
    async def check_gates(wave_id: str) -> GateReport:
        """Quality gates of a wave."""
        overridden = _load().get("overrides", {}).get(wave_id, {})
        results = [GateResult(gate="mapping_approved", passed=True, detail="approved v1")]
        if wave_id == "w1":
            results.append(
                GateResult(
                    gate="null_rate",
                    passed=False,
                    failing=1,
                    detail="HOLDER 25% empty",
                    sample=["B004"],
                    overridden="null_rate" in overridden,
                )
            )
        return GateReport(
            wave_id=wave_id, passed=wave_id != "w1" or bool(overridden), results=results
        )

    @server.tool()
    async def override_wave_gate(wave_id: str, gate: str, reason: str) -> GateOverride:
        """Let a wave run although a gate fails."""
        data = _load()
        data.setdefault("overrides", {}).setdefault(wave_id, {})[gate] = reason
        _save(data)
        _log("override_wave_gate", {"wave_id": wave_id, "gate": gate, "reason": reason})
        return GateOverride(wave_id=wave_id, gate=gate, reason=reason, entry_id=len(data["calls"]))

    @server.tool()
    async def run_wave(wave_id: str, ctx: Context) -> WaveStatus:
        """Run a wave as a saga."""
        _log("run_wave", {"wave_id": wave_id})
        for done in range(1, 4):
            await ctx.report_progress(done, 3, f"batch {done}")
            await anyio.sleep(0)
        if wave_id == "w1":
            steps = {
                "ingest": StepState(status=WaveState.COMPENSATED),
                "map_to_canonical": StepState(status=WaveState.COMPENSATED),
                "migrate": StepState(
                    status=WaveState.FAILED, error="target rejected policy B004: premium 0.00"
                ),
                "validate": StepState(status=WaveState.PENDING),
            }
            return _wave(wave_id, WaveState.COMPENSATED, steps, failed=1)
        steps = {n: StepState(status=WaveState.COMPLETED) for n in MILESTONES}
        return _wave(wave_id, WaveState.COMPLETED, steps, migrated=3)

    @server.tool()
    async def reconcile_wave(wave_id: str) -> WaveReconciliation:
        """Reconcile source and target."""
        report = ReconciliationReport(
            passed=True,
            source_count=3,
            target_count=3,
            matched=3,
            missing_in_target=0,
            unexpected_in_target=0,
            different=0,
            duplicates_in_source=0,
            duplicates_in_target=0,
            rows_without_id=0,
            totals={},
            group_by=[],
            groups_compared=0,
        )
        return WaveReconciliation(wave_id=wave_id, passed=True, report=report)

    @server.tool()
    async def rollback_wave(wave_id: str) -> WaveStatus:
        """Roll a wave back."""
        _log("rollback_wave", {"wave_id": wave_id})
        steps = {n: StepState(status=WaveState.COMPENSATED) for n in MILESTONES}
        return _wave(wave_id, WaveState.COMPENSATED, steps)

    server.add_tool(_trivial("wave_status"), name="wave_status", description="Fake.")
    return server


def governance_server() -> FastMCP:
    server = FastMCP(name="fake-governance")
    for name in ("locate_policy", "policy_history", "audit_trail", "replay_log", "lineage"):
        server.add_tool(_trivial(name), name=name, description=f"Fake {name}.")
    return server


def sync_server() -> FastMCP:
    server = FastMCP(name="fake-sync")

    @server.tool()
    async def adopt_wave(wave_id: str) -> WaveAdoption:
        """After a wave: its owners and what it migrated."""
        _log("adopt_wave", {"wave_id": wave_id})
        data = _load()
        data.setdefault("owned", {})[wave_id] = 3
        _save(data)
        return WaveAdoption(
            ledger=LedgerUpdate(wave_id=wave_id, owner=Owner.NEW, changed=3, unchanged=0),
            adopted=AdoptReport(wave_id=wave_id, target="new_platform", policies=3, fresh=3),
        )

    @server.tool()
    async def sync_status() -> SyncStatus:
        """How far legacy and new are apart."""
        owned = sum(_load().get("owned", {}).values())
        return SyncStatus(
            lag=None, backlog=0, conflicts=0, resolved=0, ledger={"legacy": 0, "new": owned}
        )

    return server


def _refuse_if_asked(name: str) -> None:
    """A test makes a tool fail like a real input problem by leaving fail-<tool> in the home."""
    if (_home() / f"fail-{name}").exists():
        raise ToolError(f"{name} refused: 3 records have codes with no value mapping")


def _trivial(name: str) -> Any:
    async def tool(arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"tool": name, "fake": True}

    return tool


SERVERS = {
    "canonical": canonical_server,
    "routing": routing_server,
    "waves": waves_server,
    "governance": governance_server,
    "sync": sync_server,
}


def config_for(names: list[str], folder: Path) -> Path:
    """An IDE-format config that replaces ``names`` by these fakes; returns its path."""
    repo = str(Path(__file__).resolve().parents[2])
    entries = {
        n: {
            "command": sys.executable,
            "args": ["-m", "tests.agents.fake_servers", n],
            "env": {"PYTHONPATH": repo},
        }
        for n in names
    }
    path = folder / "fake_servers.json"
    path.write_text(json.dumps({"mcpServers": entries}))
    return path


if __name__ == "__main__":
    SERVERS[sys.argv[1]]().run("stdio")
