"""What every page module shares: the login redirect, the checked form, the error page, QR
codes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time
from typing import Any

import segno
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from core.auth import SESSION_COOKIE, Principal, check_csrf, session_principal
from core.errors import AppError
from web.pages import (
    HANOI,
    FieldProblem,
    field_problem,
    language_of,
    refusal_page,
    render,
    translations,
)


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


def until_and_uses(form: dict[str, Any]) -> tuple[datetime, int]:
    """A form's last day and number of uses, as the API takes them: until the end of that day
    in Hanoi (what a person means by "until 30/06"); each unreadable one named by its field."""
    try:
        until_day = datetime.strptime(str(form.get("valid_until") or ""), "%Y-%m-%d").date()
    except ValueError:
        raise FieldProblem("valid_until", "date") from None
    try:
        max_uses = int(form.get("max_uses") or 1)
    except ValueError:
        raise FieldProblem("max_uses", "int_parsing") from None
    return datetime.combine(until_day, time(23, 59, 59), HANOI).astimezone(UTC), max_uses


def form_refusal(
    request: Request,
    me: Principal,
    csrf: str,
    exc: Exception,
    title: str,
    back: tuple[str, str],
) -> HTMLResponse:
    """A form the service cannot read: what is wrong, by the field's label, and the way back."""
    _ = translations(language_of(request)).gettext
    return render(
        request,
        "error.html",
        422,
        title=_(title),
        detail=field_problem(request, exc),
        back={"href": back[0], "label": _(back[1])},
        me=me,
        csrf=csrf,
    )
