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
