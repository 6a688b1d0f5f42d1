"""What every page module shares: the login redirect, the checked form, the error page, QR
codes."""

from __future__ import annotations

import io
from typing import Any

import segno
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from core.auth import SESSION_COOKIE, Principal, check_csrf, session_principal
from core.errors import AppError
from web.pages import refusal_page


class Login(Exception):
    def __init__(self, level: int):
        self.level = level


async def citizen(request: Request, level: int = 1) -> tuple[Principal, str]:
    principal = await session_principal(request)
    if principal is None or principal.kind != "citizen":
        raise Login(level)
    session_id = request.cookies[SESSION_COOKIE]
    return principal, request.app.state.browser_logins.csrf_token(session_id)


def to_login(request: Request, level: int, target: str | None = None) -> RedirectResponse:
    target = target or request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?loa={level}&next={target}", status_code=303)


async def form_data(request: Request) -> dict[str, Any]:
    form = await request.form()
    session_id = request.cookies.get(SESSION_COOKIE, "")
    token = form.get("csrf_token")
    check_csrf(request, session_id, token if isinstance(token, str) else None)
    return {
        key: (form.getlist(key) if key == "procedures" else form.get(key)) for key in form.keys()
    }


def problem_page(request: Request, me: Principal, csrf: str, exc: AppError) -> HTMLResponse:
    return refusal_page(request, exc, me, csrf)


def qr_svg(text: str, error: str = "m", border: int = 2) -> str:
    out = io.BytesIO()
    segno.make(text, error=error).save(
        out, kind="svg", scale=4, border=border, xmldecl=False, svgns=True, omitsize=True
    )  # omitsize: a viewBox, so the code scales with the page's CSS instead of being cropped
    return out.getvalue().decode()
