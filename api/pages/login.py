"""Log in with an API token (kept in an HttpOnly, SameSite=Strict cookie) and log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import COOKIE
from api.deps import config_of
from api.pages.rendering import page_caller, render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only local paths: a login link cannot send the browser to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", page_caller(request), next=_safe_next(next), failed=False)


@router.post("/login")
async def login(
    request: Request,
    token: Annotated[str, Form(min_length=1, max_length=256)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    caller = config_of(request).verifier.verify(token.strip())
    if caller is None:
        return render(request, "login.html", None, status=401, next=_safe_next(next), failed=True)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
