"""HTTP MCP servers: bearer tokens, tenant of the token, Host checks, bounded sessions."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from core.errors import ConfigError
from core.settings import Settings
from core.store import open_store
from servers.content import build_server
from servers.http import http_app, is_loopback, require_token_or_refuse
from tests.servers.clients import REPO, free_port, server_env
from tools.access import TokenStore

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@contextmanager
def serving(app: object) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on a free loopback port; yield its /mcp URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


async def _session_call(url: str, token: str, tool: str, args: dict) -> object:
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool(tool, args)


def test_requests_need_a_valid_token_and_act_for_its_tenant(workspace: Path) -> None:
    settings = Settings(home=workspace, embedding_provider="none")
    tokens = TokenStore(open_store(settings))
    alpha = tokens.create("alpha", "operator").token
    beta = tokens.create("beta", "viewer").token
    revoked = tokens.create("alpha", "viewer")
    tokens.revoke(revoked.token_id)
    csv = workspace / "billing.csv"
    csv.write_text("PolicyNo,Premium\nP001,100\n")
    app = http_app(build_server(settings), settings, host="127.0.0.1", verify=tokens.verify)

    async def run(url: str) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            for headers in (
                {},
                {"authorization": "Bearer dmt_nope_nope"},
                {"authorization": f"Bearer {revoked.token}"},
                {"authorization": f"Basic {alpha}"},
            ):
                answer = await http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers})
                assert answer.status_code == 401, headers
                assert answer.headers["www-authenticate"].startswith("Bearer")
        ingest = {"path": str(csv), "format": "csv", "options": {"header": True}}
        result = await _session_call(url, alpha, "ingest_file", ingest)
        assert not result.isError, result.content
        listed = await _session_call(url, alpha, "list_sources", {})
        assert listed.structuredContent["total"] == 1
        # The beta token sees beta's (empty) estate, and cannot name alpha.
        listed = await _session_call(url, beta, "list_sources", {})
        assert listed.structuredContent["total"] == 0
        refused = await _session_call(url, beta, "list_sources", {"tenant": "alpha"})
        assert refused.isError
        assert "acts for tenant 'beta', not 'alpha'" in refused.content[0].text

    with serving(app) as url:
        anyio.run(run, url)


def test_host_header_checks_are_kept_with_a_valid_token(workspace: Path) -> None:
    settings = Settings(home=workspace)
    tokens = TokenStore(open_store(settings))
    token = tokens.create("default", "viewer").token
    app = http_app(build_server(settings), settings, host="127.0.0.1", verify=tokens.verify)

    async def run(url: str) -> None:
        headers = {**MCP_HEADERS, "authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=30) as http:
            bad_host = await http.post(
                url, json=INITIALIZE, headers={**headers, "host": "evil.test"}
            )
            assert bad_host.status_code in (400, 421)
            bad_origin = await http.post(
                url, json=INITIALIZE, headers={**headers, "origin": "http://evil.test"}
            )
            assert bad_origin.status_code == 403
            good = await http.post(url, json=INITIALIZE, headers=headers)
            assert good.status_code == 200

    with serving(app) as url:
        anyio.run(run, url)


def test_sessions_are_bounded_and_freed(workspace: Path) -> None:
    """Clients that never close their sessions cannot grow the server: a cap, then idle expiry;
    clients that do close free their session at once (three rounds of 12 under a cap of 10:
    each round alone opens more sessions than the cap holds)."""
    settings = Settings(home=workspace, http_max_sessions=10, http_session_idle_seconds=1.0)
    app = http_app(build_server(settings), settings, host="127.0.0.1", verify=None)

    async def open_raw(http: httpx.AsyncClient, url: str) -> int:
        answer = await http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
        return answer.status_code

    async def run(url: str) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            statuses = [await open_raw(http, url) for _ in range(13)]
            assert statuses == [200] * 10 + [503] * 3
            # The abandoned sessions expire when idle: room comes back without any client acting.
            for _ in range(100):
                await anyio.sleep(0.2)
                if await open_raw(http, url) == 200:
                    break
            else:
                pytest.fail("idle sessions were never freed")
        for _ in range(3):
            for _ in range(12):
                async with streamable_http_client(url) as (read, write, _):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        await session.list_tools()

    with serving(app) as url:
        anyio.run(run, url)


def test_refusal_off_loopback_without_a_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert require_token_or_refuse("127.0.0.1", 1, forced=False, tokens_exist=False) is False
    assert require_token_or_refuse("0.0.0.0", 1, forced=False, tokens_exist=True) is True
    with pytest.raises(ConfigError, match="refusing to serve HTTP on 0.0.0.0:1"):
        require_token_or_refuse("0.0.0.0", 1, forced=False, tokens_exist=False)
    with pytest.raises(ConfigError, match="--require-token"):
        require_token_or_refuse("127.0.0.1", 1, forced=True, tokens_exist=False)


def _run_cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        check=False,
        env=server_env(home),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_serve_on_all_interfaces_refuses_without_a_token_then_demands_it(workspace: Path) -> None:
    port = free_port()
    refused = _run_cli(workspace, "serve", "content", "--http", f"0.0.0.0:{port}")
    assert refused.returncode == 1
    assert "refusing to serve HTTP on 0.0.0.0" in refused.stderr
    assert "data-mash token create" in refused.stderr
    assert "Traceback" not in refused.stderr
    # A token exists (made in-process: `token create` is tested in tests/cli/test_token_cli.py).
    store = open_store(Settings(home=workspace))
    TokenStore(store).create("acme", "viewer")
    store.dispose()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "content", "--http", f"0.0.0.0:{port}"],
        env=server_env(workspace),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        for _ in range(300):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                answer = httpx.post(url, json=INITIALIZE, headers=MCP_HEADERS, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server never answered")
        assert answer.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_health_endpoints_answer_probes_without_a_token(workspace: Path) -> None:
    settings = Settings(home=workspace, embedding_provider="none")
    tokens = TokenStore(open_store(settings))
    tokens.create("default", "viewer")
    app = http_app(build_server(settings), settings, host="127.0.0.1", verify=tokens.verify)
    down = Settings(
        home=workspace / "down",
        db_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere",
    )
    down_app = http_app(build_server(down), down, host="127.0.0.1", verify=None)
    with serving(app) as url, serving(down_app) as down_url:
        base = url.removesuffix("/mcp")
        live = httpx.get(f"{base}/livez", timeout=30)
        assert live.status_code == 200
        assert live.headers["content-type"].startswith("application/health+json")
        assert live.json()["status"] == "pass"
        scraped = httpx.get(f"{base}/metrics", timeout=30)
        assert scraped.status_code == 200
        assert "# TYPE data_mash_records_total counter" in scraped.text
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["store:connectivity"][0]["status"] == "pass"
        down_base = down_url.removesuffix("/mcp")
        assert httpx.get(f"{down_base}/livez", timeout=30).status_code == 200
        not_ready = httpx.get(f"{down_base}/readyz", timeout=30)
        assert not_ready.status_code == 503
        assert not_ready.json()["status"] == "fail"


def test_a_token_and_a_tenant_pinned_server_both_hold(workspace: Path) -> None:
    from core.errors import InputError
    from servers.common import scoped_tenant
    from tools.access import Principal, Role, acting_as

    beta = Principal(token_id="t1", tenant="beta", role=Role.VIEWER)
    unpinned = Settings(home=workspace)
    with acting_as(beta):
        assert scoped_tenant(unpinned, None) == "beta"
        with pytest.raises(InputError, match="acts for tenant 'beta', not 'alpha'"):
            scoped_tenant(unpinned, "alpha")
    pinned = Settings(home=workspace, tenant="alpha")
    with acting_as(beta), pytest.raises(InputError, match="serves tenant 'alpha' only"):
        scoped_tenant(pinned, None)
    with acting_as(beta.model_copy(update={"tenant": "alpha"})):
        assert scoped_tenant(pinned, None) == "alpha"
