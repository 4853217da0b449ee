"""FAKE MCP SERVERS FOR AGENT TESTS ONLY: canonical, routing, waves and governance stand-ins.

They register the fixed tool names of the real servers (which are being built) with small,
deterministic behaviour, so the journeys can be tested end to end over stdio today. They are
not a product: nothing here is used outside tests/agents. State lives in a JSON file in
DATA_MASH_HOME so a second process (a resumed journey) sees what the first one did.

Run one over stdio: python -m tests.agents.fake_servers canonical
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError

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
    async def list_models() -> dict[str, Any]:
        """List canonical models."""
        return {"models": ["policy_v1"]}

    @server.tool()
    async def get_model_schema(model: str = "policy_v1") -> dict[str, Any]:
        """Fields of a canonical model."""
        return {"model": model, "fields": sorted(t for t, _ in KNOWN.values())}

    @server.tool()
    async def suggest_mapping(source_id: str, canonical: str = "policy_v1") -> dict[str, Any]:
        """Propose a mapping of a source's columns to the canonical model."""
        _log("suggest_mapping", {"source_id": source_id})
        mapping_id = f"map_{source_id}"
        mappings = [
            {
                "source": col,
                "target": target,
                "confidence": conf,
                "evidence": f"name '{col}'",
                "status": "proposed",
            }
            for col, (target, conf) in KNOWN.items()
        ]
        found = {
            "mapping_id": mapping_id,
            "source_id": source_id,
            "mappings": mappings,
            "unmapped": ["STATUS"],
            "status": "draft",
        }
        data = _load()
        data["mappings"][mapping_id] = found
        _save(data)
        return found

    @server.tool()
    async def update_field_mapping(
        mapping_id: str, target: str, source: str | None = None, unmap: bool = False
    ) -> dict[str, Any]:
        """Confirm, edit or reject one field of a mapping (keyed by the canonical target)."""
        data = _load()
        found = data["mappings"].get(mapping_id)
        if found is None:
            raise ToolError(f"no mapping '{mapping_id}'")
        if "." not in target:
            raise ToolError(f"'{target}' is not a canonical field path")
        _log("update_field_mapping", {"target": target, "source": source, "unmap": unmap})
        rows = [m for m in found["mappings"] if m["target"] != target and m["source"] != source]
        if not unmap:
            rows.append(
                {
                    "source": source,
                    "target": target,
                    "confidence": 1.0,
                    "evidence": "by hand",
                    "status": "confirmed",
                }
            )
        found["mappings"] = sorted(rows, key=lambda m: m["source"])
        data["mappings"][mapping_id] = found
        _save(data)
        return {
            "mapping_id": mapping_id,
            "version": 1,
            "status": "draft",
            "fields": found["mappings"],
        }

    @server.tool()
    async def approve_mapping(mapping_id: str) -> dict[str, Any]:
        """Approve a mapping (new version)."""
        data = _load()
        found = data["mappings"][mapping_id]
        found["status"] = "approved"
        found["version"] = found.get("version", 0) + 1
        _save(data)
        _log("approve_mapping", {"mapping_id": mapping_id})
        return {
            "mapping_id": mapping_id,
            "status": "approved",
            "version": found["version"],
            "fields": len(found["mappings"]),
        }

    @server.tool()
    async def export_mapping(mapping_id: str, formats: list[str]) -> dict[str, Any]:
        """Export an approved mapping."""
        found = _load()["mappings"][mapping_id]
        out = _home() / "exports"
        out.mkdir(exist_ok=True)
        files = []
        for fmt in formats:
            path = out / f"{mapping_id}.{fmt}"
            fields = {m["source"]: m["target"] for m in found["mappings"] if m["target"]}
            path.write_text(
                json.dumps(fields, sort_keys=True)
                if fmt == "json"
                else yaml.safe_dump(fields, sort_keys=True)
            )
            files.append(str(path))
        return {"mapping_id": mapping_id, "files": files}

    for name in ("validate_records", "map_to_canonical", "assess_mapping_change"):
        server.add_tool(_trivial(name), name=name, description=f"Fake {name}.")
    return server


def routing_server() -> FastMCP:
    server = FastMCP(name="fake-routing")

    @server.tool()
    async def validate_rules(rules: str) -> dict[str, Any]:
        """Check a routing rule set."""
        try:
            loaded = yaml.safe_load(rules)
            ok = isinstance(loaded["routing_rules"]["rules"], list)
        except Exception:  # noqa: BLE001
            return {
                "ok": False,
                "errors": [
                    {
                        "line": 1,
                        "column": 1,
                        "rule": None,
                        "message": "not a routing_rules document",
                    }
                ],
                "warnings": [],
            }
        return {"ok": ok, "errors": [], "warnings": []}

    @server.tool()
    async def store_rule_set(rules: str, name: str) -> dict[str, Any]:
        """Store a rule set version."""
        return {"name": name, "version": 1, "rule_count": rules.count("- name:")}

    @server.tool()
    async def routing_distribution(source_id: str, rule_set: str) -> dict[str, Any]:
        """Dry run of routing."""
        return {
            "rule_set": rule_set,
            "source_id": source_id,
            "dry_run": True,
            "routed": 4,
            "unrouted": 0,
            "by_target": {"NewPlatformAPI": 2, "DataQualityQueue": 1, "LegacyBatch": 1},
            "by_rule": {
                "migrated_policies": 2,
                "data_quality_issues": 1,
                "cancelled_or_expired_archive": 1,
            },
        }

    for name in (
        "evaluate_policy",
        "route_source",
        "reroute_policy",
        "routing_history",
        "diff_rule_sets",
    ):
        server.add_tool(_trivial(name), name=name, description=f"Fake {name}.")
    return server


def waves_server() -> FastMCP:
    server = FastMCP(name="fake-waves")

    @server.tool()
    async def plan_waves(source_ids: list[str], target: str) -> dict[str, Any]:
        """Plan waves."""
        return {
            "plan_id": "plan_1",
            "target": target,
            "waves": [
                {
                    "wave_id": "w0",
                    "number": 0,
                    "label": "clean",
                    "policy_count": 3,
                    "status": "pending",
                },
                {
                    "wave_id": "w1",
                    "number": 1,
                    "label": "rest",
                    "policy_count": 1,
                    "status": "pending",
                },
            ],
        }

    @server.tool()
    async def check_gates(wave_id: str) -> dict[str, Any]:
        """Quality gates of a wave."""
        overridden = _load().get("overrides", {}).get(wave_id, {})
        results = [{"gate": "mapping_approved", "passed": True, "detail": "approved v1"}]
        if wave_id == "w1":
            results.append(
                {
                    "gate": "null_rate",
                    "passed": False,
                    "failing": 1,
                    "detail": "HOLDER 25% empty",
                    "sample": ["B004"],
                    "overridden": "null_rate" in overridden,
                }
            )
        return {
            "wave_id": wave_id,
            "passed": wave_id != "w1" or bool(overridden),
            "results": results,
        }

    @server.tool()
    async def override_wave_gate(wave_id: str, gate: str, reason: str) -> dict[str, Any]:
        """Let a wave run although a gate fails."""
        data = _load()
        data.setdefault("overrides", {}).setdefault(wave_id, {})[gate] = reason
        _save(data)
        _log("override_wave_gate", {"wave_id": wave_id, "gate": gate, "reason": reason})
        return {"wave_id": wave_id, "gate": gate, "reason": reason}

    @server.tool()
    async def run_wave(wave_id: str, ctx: Context) -> dict[str, Any]:
        """Run a wave as a saga."""
        _log("run_wave", {"wave_id": wave_id})
        for done in range(1, 4):
            await ctx.report_progress(done, 3, f"batch {done}")
            await anyio.sleep(0)
        if wave_id == "w1":
            return {
                "wave_id": wave_id,
                "status": "compensated",
                "migrated": 0,
                "failed": 1,
                "steps": {
                    "ingest": {"status": "compensated"},
                    "map": {"status": "compensated"},
                    "migrate": {
                        "status": "failed",
                        "error": "target rejected policy B004: premium 0.00",
                    },
                    "validate": {"status": "pending"},
                },
            }
        return {
            "wave_id": wave_id,
            "status": "completed",
            "migrated": 3,
            "failed": 0,
            "steps": {
                n: {"status": "completed"}
                for n in ("ingest", "map", "route", "migrate", "validate")
            },
        }

    @server.tool()
    async def reconcile_wave(wave_id: str) -> dict[str, Any]:
        """Reconcile source and target."""
        return {
            "wave_id": wave_id,
            "passed": True,
            "report": {"source_count": 3, "target_count": 3, "missing_in_target": 0},
        }

    @server.tool()
    async def rollback_wave(wave_id: str) -> dict[str, Any]:
        """Roll a wave back."""
        _log("rollback_wave", {"wave_id": wave_id})
        return {"wave_id": wave_id, "status": "rolled_back", "steps": []}

    server.add_tool(_trivial("wave_status"), name="wave_status", description="Fake.")
    return server


def governance_server() -> FastMCP:
    server = FastMCP(name="fake-governance")
    for name in ("locate_policy", "policy_history", "audit_trail", "replay_log", "lineage"):
        server.add_tool(_trivial(name), name=name, description=f"Fake {name}.")
    return server


def _trivial(name: str) -> Any:
    async def tool(arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"tool": name, "fake": True}

    return tool


SERVERS = {
    "canonical": canonical_server,
    "routing": routing_server,
    "waves": waves_server,
    "governance": governance_server,
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
