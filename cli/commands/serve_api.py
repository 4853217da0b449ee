"""``data-mash serve api``: the REST API and dashboard under uvicorn."""

from __future__ import annotations

import sys

from sqlalchemy import Engine

from api.auth import StoreTokens, access_for
from api.main import create_app
from core.settings import Settings
from tools.access import TokenStore


def serve_api(settings: Settings, engine: Engine, *, host: str, port: int) -> None:
    """Serve until interrupted; refuse a non-loopback address while no token exists."""
    # uvicorn (with its HTTP stack) is what serves; nothing else of data-mash imports it.
    import uvicorn  # noqa: PLC0415

    verifier = StoreTokens(TokenStore(engine))
    open_as = access_for(host, port, verifier, settings.tenant)
    app = create_app(settings, verifier=verifier, open_as=open_as)
    shown = f"[{host}]" if ":" in host else host
    print(f"data-mash console: http://{shown}:{port}/  (OpenAPI: /openapi.json)", file=sys.stderr)
    if open_as is not None:
        print(
            f"no API token exists: loopback requests act for tenant '{open_as.tenant}'",
            file=sys.stderr,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
