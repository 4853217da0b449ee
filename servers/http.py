"""Streamable HTTP for the MCP servers: bearer tokens, Host/Origin checks, bounded sessions.

Off loopback every request to ``/mcp`` needs ``Authorization: Bearer <token>`` (``data-mash token
create``), and a server refuses to start there while no token exists. A token's tenant is the only
tenant its requests act for (:func:`tools.access.tenant_for`). Sessions are bounded in number and
closed when idle, so clients that never say goodbye cannot grow the server's memory.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.fastmcp import FastMCP
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import ConfigError, DataMashError
from core.metrics import exposition
from core.store import open_store
from tools.access import Principal, TokenStore, acting_as
from tools.health import HEALTH_MEDIA_TYPE, HealthReport, liveness, readiness
from tools.health.store_metrics import install_store_metrics

Verifier = Callable[[str], Principal | None]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    bare = host.strip("[]")
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def require_token_or_refuse(host: str, port: int, *, forced: bool, tokens_exist: bool) -> bool:
    """Whether requests need a token; refuse to start when they would and none exists.

    Raises:
        ConfigError: bound off loopback (or asked to require tokens) while no token exists.
    """
    required = forced or not is_loopback(host)
    if required and not tokens_exist:
        why = "--require-token is set" if forced else f"{host} is not a loopback address"
        raise ConfigError(
            f"refusing to serve HTTP on {host}:{port} without authentication: {why} and no API "
            "token exists",
            where="--http",
            fix="create one with: data-mash token create --tenant T --role operator; "
            "or bind to 127.0.0.1",
        )
    return required


def transport_security(host: str, settings: Any) -> TransportSecuritySettings:
    """Host/Origin checks (DNS-rebinding protection), kept on for every binding.

    Loopback names are always allowed; off loopback the bound address, this machine's names and
    ``DATA_MASH_HTTP_ALLOWED_HOSTS`` / ``..._ORIGINS`` are added.
    """
    hosts = ["127.0.0.1", "localhost", "[::1]"]
    if not is_loopback(host):
        names = {socket.gethostname(), socket.getfqdn()}
        if host not in ("0.0.0.0", "::", ""):
            names.add(f"[{host}]" if ":" in host else host)
        hosts += sorted(n for n in names if n)
    allowed_hosts = [f"{h}:*" for h in hosts] + list(settings.http_allowed_hosts)
    allowed_origins = [f"{scheme}://{h}:*" for h in hosts for scheme in ("http", "https")]
    allowed_origins += list(settings.http_allowed_origins)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
    )


class BearerTokenMiddleware:
    """ASGI middleware: a valid bearer token on every request under ``path``, else 401.

    The principal is set for the request (and for the MCP session it opens, whose tasks inherit
    it); the session manager binds a session to the token that opened it.
    """

    def __init__(self, app: ASGIApp, *, verify: Verifier, path: str = "/mcp") -> None:
        self.app = app
        self.verify = verify
        self.path = path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.path or path.startswith(self.path + "/")):
            await self.app(scope, receive, send)
            return
        scheme, _, raw = Headers(scope=scope).get("authorization", "").partition(" ")
        principal = None
        if scheme.lower() == "bearer" and raw.strip():
            principal = await anyio.to_thread.run_sync(self.verify, raw.strip())
        if principal is None:
            await _unauthorized(send)
            return
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token=principal.token_id,
                client_id=principal.token_id,
                scopes=[principal.role.value],
                subject=principal.tenant,
            )
        )
        with acting_as(principal):
            await self.app(scope, receive, send)


async def _unauthorized(send: Send) -> None:
    body = json.dumps(
        {
            "error": "unauthorized",
            "message": "a valid bearer token is required (Authorization: Bearer <token>); "
            "create one with: data-mash token create --tenant T --role viewer",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="data-mash"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def add_operations_routes(server: FastMCP, settings: Any) -> None:
    """/livez (no dependency checked), /readyz (store, index, targets, LLM) and /metrics
    (Prometheus, with the store's pool and coexistence queues), open to probes and scrapers
    without a token.

    Health answers are ``application/health+json``; /readyz is 503 when a check fails.
    """
    store: dict[str, Any] = {}

    def ready_store() -> Any:
        if "engine" not in store:
            try:
                store["engine"] = open_store(settings)
            except DataMashError:
                return None  # /readyz's store check says why
        return store["engine"]

    def ready() -> HealthReport:
        return readiness(settings, ready_store())

    def answer(report: HealthReport) -> Response:
        return Response(
            json.dumps(report.to_json()),
            status_code=report.http_status,
            media_type=HEALTH_MEDIA_TYPE,
            headers={"cache-control": "no-store"},
        )

    install_store_metrics()

    def scrape() -> tuple[bytes, str]:
        ready_store()  # the queue gauges read the store: open it if no tool has yet
        return exposition()

    @server.custom_route("/metrics", methods=["GET"])
    async def metrics(_request: Request) -> Response:
        body, content_type = await anyio.to_thread.run_sync(scrape)
        return Response(body, media_type=content_type)

    @server.custom_route("/livez", methods=["GET"])
    async def livez(_request: Request) -> Response:
        return answer(liveness())

    @server.custom_route("/readyz", methods=["GET"])
    async def readyz(_request: Request) -> Response:
        return answer(await anyio.to_thread.run_sync(ready))


def http_app(server: FastMCP, settings: Any, *, host: str, verify: Verifier | None) -> ASGIApp:
    """The ASGI app serving ``server`` at /mcp: bounded sessions, Host/Origin checks, tokens.

    ``verify`` None serves without tokens (loopback only; the caller decides).
    """
    server.settings.host = host
    server.settings.max_sessions = settings.http_max_sessions
    server.settings.session_idle_timeout = settings.http_session_idle_seconds
    server.settings.transport_security = transport_security(host, settings)
    add_operations_routes(server, settings)
    app: ASGIApp = server.streamable_http_app()
    if verify is not None:
        app = BearerTokenMiddleware(app, verify=verify, path=server.settings.streamable_http_path)
    return app


def serve_http(
    server: FastMCP, settings: Any, *, host: str, port: int, require_token: bool = False
) -> None:
    """Serve ``server`` over streamable HTTP at http://HOST:PORT/mcp until interrupted.

    Raises:
        ConfigError: a token is required (off loopback, or ``require_token``) and none exists.
    """
    verify = None
    if require_token or not is_loopback(host):
        tokens = TokenStore(open_store(settings))
        require_token_or_refuse(host, port, forced=require_token, tokens_exist=tokens.any_active())
        verify = tokens.verify
    app = http_app(server, settings, host=host, verify=verify)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
