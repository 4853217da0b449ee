"""Templates, the page-side caller (cookie login) and the error page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import Caller, Role
from api.deps import authenticate, config_of
from api.problems import AuthError, ForbiddenError, status_for
from core.errors import DataMashError

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


def page_caller(request: Request) -> Caller | None:
    """The logged-in caller of a page, or None (the page then redirects to /login)."""
    try:
        return authenticate(request, config_of(request))
    except AuthError:
        return None


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def render(
    request: Request, template: str, caller: Caller | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page with the caller, its role checks and the current query (filters) available."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "caller": caller,
            "can_run": bool(caller and caller.may(Role.OPERATOR)),
            "can_approve": bool(caller and caller.may(Role.APPROVER)),
            "query": dict(request.query_params),
            **context,
        },
        status_code=status,
    )


def error_page(request: Request, caller: Caller | None, exc: DataMashError) -> Response:
    """The one-line message of the CLI, on a page, with the API's status code."""
    return render(request, "error.html", caller, status=status_for(exc), message=exc.message)


def require_role(caller: Caller, role: Role) -> None:
    """The same 403 as the API when a page action needs a higher role."""
    if not caller.may(role):
        raise ForbiddenError(
            f"a {caller.role.value} token may not do this; it needs the {role.value} role",
            fix=f"log in with a token created with --role {role.value}",
        )
