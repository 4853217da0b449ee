"""``data-mash serve NAME``: run one of the MCP servers over stdio or streamable HTTP."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from cli.app import command_app
from cli.context import TenantOption, state_for
from core.errors import InputError
from core.logs import configure_logging, resolve_level
from core.tracing import setup_tracing
from servers.common import run_server

app = command_app()

SERVERS = ("content", "canonical", "routing", "waves", "governance", "sync")


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--http '{value}' is not HOST:PORT", fix="e.g. --http 127.0.0.1:8765")
    return host, int(port)


@app.command()
def serve(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help=f"Which server: {', '.join(SERVERS)}, or api (REST + dashboard).")
    ],
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="api only: address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="api only: port.")] = 8000,
    require_token: Annotated[
        bool,
        typer.Option(
            "--require-token",
            help="Require a bearer token on loopback too (always required off loopback).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="api only: server processes sharing the port (jobs live in the store, so "
            "any of them answers for any job).",
        ),
    ] = 1,
    tenant: TenantOption = None,
) -> None:
    """Run an MCP server for IDE assistants, MCP Inspector or the chat agent.

    `data-mash serve api` runs the REST API and the web dashboard instead
    (http://HOST:PORT/, OpenAPI at /openapi.json); off loopback it needs an API token.

    Over stdio by default (what Claude Desktop, Cursor and VS Code start); with --http it serves
    streamable HTTP. Print a client configuration with: data-mash mcp-config

    Off loopback (e.g. --http 0.0.0.0:8765) every request needs a bearer token from
    `data-mash token create`, and the server refuses to start while none exists.

    Example: data-mash serve content --http 127.0.0.1:8765
    """
    state = state_for(ctx, False, tenant)
    setup_tracing(f"data-mash-{name}" if name in SERVERS else "data-mash")

    # A server's log lines are for a collector: JSON on stderr (stdout is the stdio transport).
    log_format = "console" if state.log_format == "console" else "json"
    log_level = resolve_level(state.verbose, state.quiet, default="INFO")
    configure_logging(fmt=log_format, level=log_level)
    if name == "api":
        # The REST API (FastAPI, its routers and the dashboard) loads for `serve api` only: an
        # MCP server start does not pay for it.
        from cli.commands.serve_api import serve_api  # noqa: PLC0415

        serve_api(
            state.settings,
            state.engine,
            host=host,
            port=port,
            workers=workers,
            log_format=log_format,
            log_level=log_level,
        )
        return
    if workers != 1:
        raise InputError("--workers is for `serve api` only", fix="drop --workers")
    if name not in SERVERS:
        raise InputError(f"no server '{name}'", fix=f"choose one of: {', '.join(SERVERS)}")
    try:
        module = importlib.import_module(f"servers.{name}")
    except ModuleNotFoundError:
        raise InputError(
            f"the {name} server is not available in this version",
            fix=f"available: {', '.join(available_servers())}",
        ) from None
    server = module.build_server(state.settings)
    if http:
        host, port = _host_port(http)
        run_server(
            server,
            "http",
            host=host,
            port=port,
            settings=state.settings,
            require_token=require_token,
        )
    else:
        run_server(server, "stdio")


def available_servers() -> list[str]:
    found = []
    for name in SERVERS:
        try:
            importlib.import_module(f"servers.{name}")
        except ModuleNotFoundError:
            continue
        found.append(name)
    return found
