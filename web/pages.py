"""Rendering: Jinja2 templates, gettext catalogues (Babel), dates as dd/mm/yyyy in Hanoi's time,
and the security headers of every page."""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.service import ward_name
from agents.submissions import dossier_number
from web.error_texts import ERROR_TEXTS as SERVICE_ERROR_TEXTS
from web.error_texts import FIELD_TEXTS, PROBLEM_TEXTS

HERE = Path(__file__).resolve().parent
LANGUAGES = ("vi", "en")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# No script or style from anywhere but here, none inline, no framing, no plugins.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of a language (English is the msgid language)."""
    po = HERE / "translations" / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def language_of(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    return asked if asked in LANGUAGES else "vi"


def hanoi_date(value: datetime | None) -> str:
    return value.astimezone(HANOI).strftime("%d/%m/%Y") if value else ""


def hanoi_time(value: datetime | None) -> str:
    return value.astimezone(HANOI).strftime("%d/%m/%Y %H:%M") if value else ""


@cache
def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = hanoi_date
    env.filters["datetime"] = hanoi_time
    env.filters["ward"] = ward_name  # "09552" -> "Phường Kiến Hưng"
    env.filters["dossier_no"] = dossier_number  # "sub_4f2a9c01..." -> "4F2A-9C01"
    return env


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)
    html = (
        _environment(language)
        .get_template(template)
        .render(lang=language, path=request.url.path, **context)
    )
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in LANGUAGES:  # remembered for the next pages
        response.set_cookie("lang", language, max_age=365 * 86_400, samesite="lax", httponly=True)
    return response


BROWSER_PATHS = ("/app", "/login", "/auth/", "/logout", "/r/", "/counter", "/agency", "/verify")
# What a person reads for the errors a browser meets (msgids of web/translations): the login's
# own, and every refusal the service makes, by its code (web.error_texts).
ERROR_TEXTS = {
    **SERVICE_ERROR_TEXTS,
    "login_failed": (
        "The login did not succeed",
        "Nothing was changed and you are not logged in. Start the login again.",
    ),
    "vneid_unavailable": ("VNeID cannot be reached", "Try again in a minute."),
    "csrf_failed": (
        "This form is out of date",
        "For your safety the form was refused. Go back, reload the page and try again.",
    ),
}


# The way back from a refusal leads to the page of the person's role.
WAY_BACK = {
    "citizen": ("/app", "Back to my authorizations"),
    "agent": ("/counter", "Back to the counter"),
    "agency": ("/agency", "Back to the agency's dossiers"),
    None: ("/", "Back to the start page"),
}


def refusal_page(
    request: Request, exc: Any, me: Any = None, csrf: str | None = None
) -> HTMLResponse:
    """A refusal in the person's language: its title and what to do next, by its stable code
    (shown too, for whoever helps them); the service's English detail stays in the API."""
    _ = translations(language_of(request)).gettext
    title, explanation = ERROR_TEXTS.get(exc.code, (exc.title, ""))
    action = None
    if exc.code in ("login_failed", "vneid_unavailable", "unauthorized", "login_not_fresh"):
        action = {"href": "/login", "label": _("Log in with VNeID")}
    href, label = WAY_BACK.get(getattr(me, "kind", None), WAY_BACK[None])
    return render(
        request,
        "error.html",
        exc.status,
        title=_(title),
        detail=_(explanation) if explanation else "",
        code=exc.code,
        technical=exc.detail,  # folded away, for whoever helps them (the API's own words)
        action=action,
        back={"href": href, "label": _(label)},
        me=me,
        csrf=csrf,
    )


class FieldProblem(ValueError):
    """A form's field that cannot be read (a date that is not one, say), before the API's own
    validation: named like a pydantic error, so that it is said the same way."""

    def __init__(self, field: str, kind: str):
        super().__init__(f"{field}: {kind}")
        self.field, self.kind = field, kind


def field_problem(request: Request, exc: Exception) -> str:
    """What is wrong with a form, in the person's language: the field as its label names it
    and why ("Thủ tục: hãy chọn ít nhất một"); never pydantic's English."""
    _ = translations(language_of(request)).gettext
    if isinstance(exc, FieldProblem):
        field, kind = exc.field, exc.kind
    elif hasattr(exc, "errors") and exc.errors():
        first = exc.errors()[0]
        names = [str(p) for p in first.get("loc", ()) if isinstance(p, str)]
        field = next((n for n in reversed(names) if n in FIELD_TEXTS), "form")
        kind = str(first.get("type", "invalid"))
    else:
        field, kind = "form", "invalid"
    if field in ("code", "procedure") and kind in ("missing", "string_too_short"):
        kind = "literal_error"  # a list to choose from, not a box to fill in
    return _("%(field)s: %(problem)s") % {
        "field": _(FIELD_TEXTS.get(field, FIELD_TEXTS["form"])),
        "problem": _(PROBLEM_TEXTS.get(kind, PROBLEM_TEXTS["invalid"])),
    }


def error_page(request: Request, exc: Any) -> HTMLResponse | None:
    """A page instead of problem+json, for the pages and the login (core.errors asks)."""
    path = request.url.path
    if path != "/" and not path.startswith(BROWSER_PATHS):
        return None
    return refusal_page(request, exc)


class SecurityHeaders:
    """The headers every answer carries; pages get the strict Content-Security-Policy (the
    API docs at /docs and /redoc, which need their own inline start-up script, do not)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not docs:
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
