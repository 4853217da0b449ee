"""Errors as RFC 9457 problem details, with the same one-line message as the CLI.

A :class:`~core.errors.DataMashError` becomes ``application/problem+json`` whose ``detail`` is
the error's ``message`` (what, where, how to fix), so a script, a browser and a terminal read the
same sentence. Request validation errors (malformed JSON, bad query values) are problems too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import ConfigError, DataMashError, NotFoundError
from core.logs import current_correlation_id
from tools.waves import GateBlocked

PROBLEM_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field("about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="The one-line message, as the CLI prints it.")
    instance: str | None = Field(None, description="The request path.")
    errors: list[dict[str, Any]] | None = Field(None, description="Per-field validation errors.")
    request_id: str | None = Field(
        None,
        description="The request's id (X-Request-ID), also on its log lines and audit entries.",
    )


class ConflictError(DataMashError):
    """The resource is busy: e.g. a wave already has a run or rollback in progress."""


class AuthError(DataMashError):
    """No token, or a token that is not valid (401)."""


class ForbiddenError(DataMashError):
    """A valid token whose role does not allow the action (403)."""


class BodyTooLarge(DataMashError):
    """A request body over the configured limit (413)."""


def status_for(exc: DataMashError) -> int:
    """The HTTP status of a domain error: one table, most specific class first."""

    table: list[tuple[type[DataMashError], int]] = [
        (AuthError, 401),
        (ForbiddenError, 403),
        (NotFoundError, 404),
        (ConflictError, 409),
        (GateBlocked, 409),
        (BodyTooLarge, 413),
        (ConfigError, 503),
    ]
    for cls, status in table:
        if isinstance(exc, cls):
            return status
    return 400


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Unprocessable request",
    503: "Service unavailable",
}


def problem_response(
    status: int,
    detail: str,
    *,
    path: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response (``WWW-Authenticate`` on 401, as RFC 6750 asks)."""
    body = Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=path,
        errors=errors,
        request_id=current_correlation_id(),
    )
    response_headers = dict(headers or {})
    if status == 401:
        response_headers["WWW-Authenticate"] = 'Bearer realm="data-mash"'
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_TYPE,
        headers=response_headers,
    )


def _validation_errors(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    return f"{where}: {first['msg']}", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app can raise leaves as a problem document (never an HTML page)."""

    @app.exception_handler(DataMashError)
    async def domain_error(request: Request, exc: DataMashError) -> JSONResponse:
        return problem_response(status_for(exc), exc.message, path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_errors(exc)
        malformed = any(e["type"] == "json_invalid" for e in errors)
        return problem_response(
            400 if malformed else 422, detail, path=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # keep the exception's headers: Allow on 405, as RFC 9110 asks
        return problem_response(
            exc.status_code, str(exc.detail), path=request.url.path, headers=exc.headers
        )


#: Problem responses every API route may return, for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": TITLES[status], "content": {PROBLEM_TYPE: {}}}
    for status in (400, 401, 403, 404, 422)
}
