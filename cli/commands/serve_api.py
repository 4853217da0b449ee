"""``data-mash serve api``: the REST API and dashboard under uvicorn, in one or more processes."""

from __future__ import annotations

import json
import os
import sys

from fastapi import FastAPI
from sqlalchemy import Engine

from api.auth import LOOPBACK, Caller, Role, StoreTokens, access_for
from api.main import create_app
from core.logs import LogFormat, configure_logging
from core.settings import Settings
from core.tracing import setup_tracing
from tools.access import TokenStore

#: How ``serve api --workers N`` hands each worker process what the command decided (tenant,
#: open loopback access, logging); uvicorn starts the workers afresh, so they read it here.
WORKER_SPEC = "DATA_MASH_API_WORKER_SPEC"


def serve_api(
    settings: Settings,
    engine: Engine,
    *,
    host: str,
    port: int,
    workers: int = 1,
    log_format: LogFormat = "json",
    log_level: str = "INFO",
) -> None:
    """Serve until interrupted; refuse a non-loopback address while no token exists.

    With ``workers`` > 1, that many processes share the port (each with its own store pool);
    jobs, their progress and the one-job-per-wave rule live in the store, so any worker
    answers for any job.
    """
    # uvicorn (with its HTTP stack) is what serves; nothing else of data-mash imports it.
    import uvicorn  # noqa: PLC0415

    verifier = StoreTokens(TokenStore(engine))
    open_as = access_for(host, port, verifier, settings.tenant)
    shown = f"[{host}]" if ":" in host else host
    print(f"data-mash console: http://{shown}:{port}/  (OpenAPI: /openapi.json)", file=sys.stderr)
    if open_as is not None:
        print(
            f"no API token exists: loopback requests act for tenant '{open_as.tenant}'",
            file=sys.stderr,
        )
    if workers == 1:
        app = create_app(settings, verifier=verifier, open_as=open_as)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    os.environ[WORKER_SPEC] = json.dumps(
        {
            "tenant": settings.tenant,
            "open": open_as is not None,
            "log_format": log_format,
            "log_level": log_level,
        }
    )
    engine.dispose()  # the workers open their own
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def worker_app() -> FastAPI:
    """The app of one worker process of ``serve api --workers N`` (uvicorn calls this)."""
    # Imported here: the store, as in every command, loads when first needed.
    from cli.context import load_settings  # noqa: PLC0415
    from core.store import open_store  # noqa: PLC0415

    spec = json.loads(os.environ[WORKER_SPEC])
    configure_logging(fmt=spec["log_format"], level=spec["log_level"])
    setup_tracing("data-mash")
    settings = load_settings(tenant=spec["tenant"])
    verifier = StoreTokens(TokenStore(open_store(settings)))
    open_as = (
        Caller(tenant=settings.tenant, role=Role.APPROVER, token_id=LOOPBACK)
        if spec["open"]
        else None
    )
    return create_app(settings, verifier=verifier, open_as=open_as)
