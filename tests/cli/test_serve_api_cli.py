"""`data-mash serve api`: refuses a non-loopback address without auth; serves the dashboard."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from api.auth import NoTokens, Role, access_for
from cli.main import main
from core.errors import ConfigError
from tests.api.browser import free_port
from tests.api.estate import Tokens


@pytest.fixture(autouse=True)
def _workspace_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)


def test_non_loopback_without_a_token_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "api", "--host", "0.0.0.0", "--port", "8799"]) == 1
    err = capsys.readouterr().err
    assert "refusing to serve the API on 0.0.0.0:8799 without authentication" in err
    assert "Traceback" not in err


def test_who_unauthenticated_requests_act_as() -> None:
    opened = access_for("127.0.0.1", 8000, NoTokens(), "default")
    assert opened is not None and (opened.tenant, opened.role) == ("default", Role.APPROVER)
    assert access_for("::1", 8000, NoTokens(), "default") is not None
    with pytest.raises(ConfigError, match="not a loopback address"):
        access_for("10.1.2.3", 8000, NoTokens(), "default")
    tokens = Tokens()
    tokens.issue("acme", Role.VIEWER)
    assert access_for("127.0.0.1", 8000, tokens, "default") is None  # tokens exist: required
    assert access_for("10.1.2.3", 8000, tokens, "default") is None


def test_serve_api_on_loopback_serves_the_dashboard_and_openapi() -> None:
    port = free_port()
    thread = threading.Thread(
        target=main, args=(["serve", "api", "--port", str(port)],), daemon=True
    )
    thread.start()
    for _ in range(200):
        try:
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        raise AssertionError("the server did not start")
    assert page.status_code == 200 and "Migration overview" in page.text
    spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
    assert "/api/v1/waves" in spec["paths"]
    htmx = httpx.get(f"http://127.0.0.1:{port}/static/htmx-2.0.11.min.js", timeout=5)
    assert htmx.status_code == 200 and "htmx" in htmx.text[:2000]


def test_serve_api_with_two_workers_answers_from_both_processes(workspace: Path) -> None:
    """`--workers 2`: two processes share the port (jobs in the store make that safe; the
    409 across processes is tested in tests/api/test_jobs_across_processes.py)."""
    import os
    import subprocess
    import sys

    import psutil

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "api", "--port", str(port), "--workers", "2"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(1200):
            try:
                waves = httpx.get(f"http://127.0.0.1:{port}/api/v1/waves", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        assert waves.status_code == 200 and waves.json()["total"] == 0
        workers = [
            p
            for p in psutil.Process(server.pid).children(recursive=True)
            if "spawn" in p.name() or any("spawn_main" in part for part in p.cmdline())
        ]
        assert len(workers) == 2, [p.cmdline() for p in workers]
    finally:
        server.terminate()
        server.wait(30)


def test_workers_is_for_the_api_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "content", "--workers", "2"]) == 1
    assert "--workers is for `serve api` only" in capsys.readouterr().err
