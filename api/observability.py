"""Per-request operations: a request id, a span, metrics and one log line for every HTTP request.

One pure ASGI middleware, cheap on the hot path (no body buffering, a header scan, two metric
updates, a no-op span when tracing is off):

* **request id**: ``X-Request-ID`` is taken from the request when it is a sane token (at most
  128 letters, digits, ``.-_:``), otherwise generated. It is bound as the correlation id for the
  request's context, so its log lines and the audit entries it causes carry it; it goes back in
  the ``X-Request-ID`` response header and in problem documents (``request_id``).
* **span** ``METHOD /route/{template}`` continuing an incoming ``traceparent``
  (:func:`core.tracing.span`); status code and route as attributes.
* **metrics** ``data_mash_http_requests_total{method,route,status}`` and
  ``data_mash_http_request_duration_seconds{method,route}``: the route *template*, never the
  path (ids in paths would make labels unbounded); unmatched paths count as ``unmatched``.
* **log line** ``http_request`` at INFO (method, route, status, duration), skipped entirely
  below INFO.

/metrics, /livez and /readyz (health+json) are served here too, open to probes and scrapers.
"""

from __future__ import annotations

import json
import logging
import re
from time import perf_counter
from typing import Any

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from core.errors import DataMashError
from core.logs import get_logger, new_correlation_id
from core.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS, enabled, exposition
from core.tracing import span
from tools.health import HEALTH_MEDIA_TYPE, HealthReport, liveness, readiness
from tools.health.store_metrics import install_store_metrics

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = b"x-request-id"
_TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate"}
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_LOGGER_NAME = __name__
_log = get_logger(_LOGGER_NAME)


class RouteTemplates:
    """The full template of the route a request matched (``/api/v1/waves/{wave_id}``).

    Starlette puts the matched route object in ``scope["route"]``; a route of an included
    router only knows its path inside the router, so the full templates come from FastAPI's
    route contexts, indexed once by route object.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._by_route: dict[int, str] | None = None

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return "unmatched"
        if self._by_route is None:
            by_route: dict[int, str] = {}
            for context in iter_route_contexts(self._app.routes):
                template = context.path_format or context.path
                if template:
                    by_route.setdefault(id(context.original_route), template)
            self._by_route = by_route
        found = self._by_route.get(id(route))
        if found is not None:
            return found
        template = getattr(route, "path_format", None)
        return template if isinstance(template, str) else "unmatched"


class RequestObservability:
    """ASGI middleware: request id, span, metrics and a log line per HTTP request."""

    def __init__(self, app: ASGIApp, *, templates: RouteTemplates) -> None:
        self.app = app
        self._templates = templates
        self._std = logging.getLogger(_LOGGER_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming: str | None = None
        carrier: dict[str, str] = {}
        for key, value in scope.get("headers") or ():
            if key == _REQUEST_ID:
                incoming = value.decode("latin-1")
            elif key in _TRACE_HEADERS:
                carrier[_TRACE_HEADERS[key]] = value.decode("latin-1")
        request_id = incoming if incoming and _SAFE_ID.fullmatch(incoming) else new_correlation_id()
        echoed = (_REQUEST_ID, request_id.encode("latin-1"))
        method: str = scope["method"]
        status = 500
        route = "unmatched"

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        tokens = bind_contextvars(correlation_id=request_id)
        started = perf_counter()
        try:
            with span("http.request", carrier=carrier, **{"http.request.method": method}) as sp:
                try:
                    await self.app(scope, receive, sending)
                finally:
                    route = self._templates.of(scope)
                    if sp.is_recording():
                        sp.update_name(f"{method} {route}")
                        sp.set_attribute("http.route", route)
                        sp.set_attribute("http.response.status_code", status)
                        sp.set_attribute("data_mash.request_id", request_id)
        finally:
            elapsed = perf_counter() - started
            if enabled():
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_REQUEST_SECONDS.labels(method, route).observe(elapsed)
            if self._std.isEnabledFor(logging.INFO):
                _log.info(
                    "http_request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            reset_contextvars(**tokens)


def add_operations_routes(app: FastAPI) -> None:
    """/metrics (Prometheus), /livez and /readyz (health+json), without a token, not in the
    OpenAPI document (probes, not API)."""
    config = app.state.config

    def ready() -> HealthReport:
        try:
            engine = config.engine
        except DataMashError:
            return readiness(config.settings, None)  # the store check says why
        return readiness(config.settings, engine)

    def answer(report: HealthReport) -> Response:
        return Response(
            json.dumps(report.to_json()),
            status_code=report.http_status,
            media_type=HEALTH_MEDIA_TYPE,
            headers={"cache-control": "no-store"},
        )

    install_store_metrics()

    def scrape() -> tuple[bytes, str]:
        try:
            config.engine  # noqa: B018  (the queue gauges read the store: open it)
        except DataMashError:
            pass  # /readyz says why
        return exposition()

    async def metrics(_request: Request) -> Response:
        body, content_type = await anyio.to_thread.run_sync(scrape)
        return Response(body, media_type=content_type)

    async def livez(_request: Request) -> Response:
        return answer(liveness())

    async def readyz(_request: Request) -> Response:
        return answer(await anyio.to_thread.run_sync(ready))

    routes: dict[str, Any] = {"/metrics": metrics, "/livez": livez, "/readyz": readyz}
    for path, endpoint in routes.items():
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)
