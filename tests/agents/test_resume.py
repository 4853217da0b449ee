"""A journey survives its process: stopped (SIGKILL) while waiting at the mapping approval,
resumed by a new process from the SQLite checkpoint, it ends with the same result as a run that
was never interrupted. Servers: real content, FAKE canonical/routing/waves test servers."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import yaml

from agents.script import run_script
from core.settings import Settings
from tests.agents.conftest import CSV, CSV_OPTIONS
from tests.agents.fake_servers import config_for
from tests.servers.clients import REPO, server_env

ANSWERS = [
    {"step": "review_mapping", "answer": "edit STATUS policy_core.status"},
    {"step": "review_mapping", "answer": "approve"},
    {"step": "review_rules", "answer": "approve"},
]


def _wait_for(lines: queue.Queue[str], pattern: str, seen: list[str]) -> re.Match[str]:
    while True:
        line = lines.get(timeout=120)
        seen.append(line)
        if match := re.search(pattern, line):
            return match


def _result(state: dict[str, Any]) -> dict[str, Any]:
    """What a discovery produced, without ids that depend on the workspace."""
    export = {Path(f).suffix: Path(f).read_text() for f in state["export"]["files"]}
    return {
        "status": state["status"],
        "decisions": state["decisions"],
        "mapping": state["mapping"]["mappings"],
        "approved": state["approved"]["version"],
        "rule_set": state["rule_set"],
        "routing": state["routing"]["distribution"],
        "export": export,
    }


def test_resume_after_the_process_is_killed_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    fakes = config_for(["canonical", "routing"], tmp_path)  # fewer servers: a faster start
    home = tmp_path / "interrupted"
    home.mkdir()
    (home / "policies.csv").write_text(CSV)
    options = [
        f"--option={k}={str(v).lower() if isinstance(v, bool) else v}"
        for k, v in CSV_OPTIONS.items()
    ]
    env = server_env(home, DATA_MASH_EMBEDDING_PROVIDER="none")
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(key, None)
    chat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "chat",
            "--journey",
            "discovery",
            "--file",
            str(home / "policies.csv"),
            "--format",
            "csv",
            *options,
            "--servers",
            str(fakes),
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in chat.stdout], daemon=True).start()
    seen: list[str] = []
    try:
        thread = _wait_for(lines, r"thread (discovery-[0-9a-f]+)", seen).group(1)
        _wait_for(lines, r"Review the proposed mapping", seen)
    finally:
        chat.kill()  # the terminal goes away while the journey waits for the approval
        chat.wait(timeout=30)
    assert any("Free-form questions need an LLM" in line for line in seen)

    script = tmp_path / "resume.yaml"
    script.write_text(
        yaml.safe_dump({"journey": "discovery", "thread": thread, "answers": ANSWERS})
    )
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "journey",
            "run",
            str(script),
            "--json",
            "--servers",
            str(fakes),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    after_resume = json.loads(resumed.stdout)
    assert after_resume["thread_id"] == thread and after_resume["status"] == "done"

    other = tmp_path / "uninterrupted"
    other.mkdir()
    (other / "policies.csv").write_text(CSV)
    full = tmp_path / "full.yaml"
    full.write_text(
        yaml.safe_dump(
            {
                "journey": "discovery",
                "inputs": {
                    "files": [
                        {
                            "path": str(other / "policies.csv"),
                            "format": "csv",
                            "options": CSV_OPTIONS,
                        }
                    ]
                },
                "answers": ANSWERS,
            }
        )
    )
    outcome = anyio.run(
        lambda: run_script(
            Settings(home=other, embedding_provider="none"),
            full,
            server_config=fakes,
            only=["content", "canonical", "routing"],
        )
    )
    assert _result(after_resume["state"]) == _result(outcome.values)
