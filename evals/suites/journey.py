"""Journey suite: scripted conversations run offline through ``data-mash journey run``.

Scripts are validated first (a malformed script is a user error: file, line, what is wrong).
Each script runs as ``data-mash journey run SCRIPT --json`` in a
subprocess on the run's workspace and estate; a script passes when the run exits 0 and every
expectation it can read is met (``ended``: the journey's status is ``done``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from core.statuses import JourneyStatus
from evals.journey_scripts import load_scripts
from evals.result import CaseStatus, EvalConfig, SuiteResult
from evals.workspace import estate_for


def run(config: EvalConfig) -> SuiteResult:
    """Validate every script, then run them when the runner exists."""
    scripts = load_scripts(config.journeys)

    estate, _ = estate_for(config)
    result = SuiteResult(suite="journey")
    rows: list[dict[str, Any]] = []
    env = {**os.environ, "DATA_MASH_HOME": str(config.home)}
    with tempfile.TemporaryDirectory() as tmp:
        for n, script in enumerate(scripts):
            config.note("journey", n, len(scripts))
            text = yaml.safe_dump(script.runner_script, sort_keys=False).replace(
                "{estate}", str(estate)
            )
            runner_file = Path(tmp) / script.path.name
            runner_file.write_text(text, encoding="utf-8")
            done = subprocess.run(
                [sys.executable, "-m", "cli.main", "journey", "run", str(runner_file), "--json"],
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
                env=env,
            )
            rows.append(_outcome(script, done))
    result.cases = rows
    passed = sum(r["status"] == CaseStatus.PASS for r in rows)
    result.metrics.update(
        {
            "scripts": len(rows),
            "passed": passed,
            "success_rate": passed / len(rows) if rows else None,
        }
    )
    calls = [r["tool_calls"] for r in rows if isinstance(r.get("tool_calls"), int)]
    if calls:
        result.metrics["tool_calls_per_journey"] = sum(calls) / len(calls)
        result.lower_is_better("tool_calls_per_journey")
    result.notes.append(
        "expectations other than 'ended' are listed as unchecked until the "
        "runner's JSON reports them"
    )
    return result


def _outcome(script: Any, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Pass when the run exits 0 and the journey ended; each expectation's verdict."""
    try:
        doc = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        doc = {}
    status = doc.get("status")
    verdicts = {}
    for item in script.expect:
        name = next(iter(item))
        verdicts[name] = (
            ("met" if status == JourneyStatus.DONE else "missed")
            if name == "ended"
            else ("unchecked")
        )
    ok = done.returncode == 0 and "missed" not in verdicts.values()
    error = None if ok else ((done.stderr.strip().splitlines() or [f"journey {status}"])[-1])
    return {
        "group": "journey",
        "id": script.path.name,
        "journey": script.journey,
        "status": CaseStatus.of(ok),
        "journey_status": status,
        "question": (doc.get("question") or {}).get("step") if doc.get("question") else None,
        "tool_calls": doc.get("tool_calls"),
        "tokens": doc.get("tokens"),
        "expectations": verdicts,
        "error": error,
    }
