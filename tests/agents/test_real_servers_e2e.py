"""Both journeys end to end against the REAL built-in servers over stdio (no fakes): runs once
canonical, routing and waves exist. A person's edit fixes the matcher's choice for policy_id."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
import yaml

from agents.script import run_script
from core.settings import Settings

pytest.importorskip("servers.canonical")
pytest.importorskip("servers.routing")
pytest.importorskip("servers.waves")

CSV = (
    (
        "policy_id,status,effective_date,expiration_date,policy_type,insured_name,"
        "insured_state,premium_amount,payment_plan\n"
    )
    + """\
A1001,active,2024-01-01,2025-01-01,auto,Ann Smith,TX,1200.50,monthly
A1002,active,2024-02-01,2025-02-01,home,Bob Jones,NY,900.00,annual
B2001,cancelled,2023-03-01,2024-03-01,auto,Cy Young,CA,750.25,quarterly
C3001,active,2024-05-01,,auto,Di Ross,FL,0,monthly
"""
)


def test_discovery_then_migration_on_the_real_servers(workspace: Path) -> None:
    (workspace / "policies.csv").write_text(CSV)
    settings = Settings(home=workspace, embedding_provider="none")
    discovery = workspace / "discovery.yaml"
    discovery.write_text(
        yaml.safe_dump(
            {
                "journey": "discovery",
                "inputs": {
                    "files": [
                        {"path": "policies.csv", "format": "csv", "options": {"header": True}}
                    ]
                },
                "answers": ["edit policy_id policy_core.policy_id", "approve", "approve"],
            }
        )
    )
    found = anyio.run(lambda: run_script(settings, discovery)).values
    assert found["status"] == "done" and found["approved"]["status"] == "approved"
    assert found["routing"]["distribution"]["routed"] == 4
    spec = json.loads(
        next(Path(f) for f in found["export"]["files"] if f.endswith(".json")).read_text()
    )
    assert "policy_core.policy_id" in json.dumps(spec)

    migration = workspace / "migration.yaml"
    migration.write_text(
        yaml.safe_dump(
            {
                "journey": "migration",
                "inputs": {"source_ids": [found["focus_source"]]},
                "on_end": "pause",
                "answers": [],
            }
        )
    )
    outcome = anyio.run(lambda: run_script(settings, migration))
    assert outcome.question["step"] == "approve_wave"
    failing = outcome.question["gates"] or []
    answers = [f"override {gate} reviewed in the e2e test" for gate in failing]
    migration.write_text(
        yaml.safe_dump(
            {
                "journey": "migration",
                "thread": outcome.thread_id,
                "on_end": "pause",
                "answers": [*answers, "run"],
            }
        )
    )
    outcome = anyio.run(lambda: run_script(settings, migration))
    wave = outcome.values["current_wave"]
    assert outcome.values["wave_results"][wave]["status"] == "completed"
    assert outcome.values["reconciliations"][wave]["passed"] is True
    assert outcome.question["step"] in ("after_wave", "approve_wave")
