"""What the counter's and the agency's pages share: a staff member logs in with VNeID like
anyone, then starts work at one of their workplaces (at once when they have one, after choosing
when they have several); from then on the browser session acts for that workplace in their name.
Identity re-checks the membership itself: the page only says which workplace was asked for."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from core.auth import SESSION_COOKIE, Principal, session_principal
from core.clock import utcnow
from core.errors import AppError
from identity.service import STAFF_LOGIN_LEVEL, StaffPlace
from web.common import form_data, to_login
from web.pages import language_of, refusal_page, render, translations


@dataclass(frozen=True)
class Workplace:
    kind: str  # the principal's kind while working there: "agent" (a counter) or "agency"
    home: str  # its pages' root
    chooser: str  # the template asking which one, for staff of several
    field: str  # the chooser's form field
    not_staff: tuple[str, str]  # title and explanation (msgids) for everyone else

    def key(self, place: StaffPlace) -> str:
        """What the chooser sends: a counter's id, or an agency's code."""
        return (place.counter_id if self.kind == "agent" else place.owner_code) or ""


COUNTER = Workplace(
    "agent",
    "/counter",
    "counter_choose.html",
    "counter",
    (
        "You are not counter staff",
        "This page is for the staff of an agent's counters. Ask your administrator to "
        "register you, or go to your own authorizations.",
    ),
)
AGENCY = Workplace(
    "agency",
    "/agency",
    "agency_choose.html",
    "agency",
    (
        "You are not agency staff",
        "This page is for the staff of an agency. Ask your administrator.",
    ),
)


class NotAtWork(Exception):
    """The session is not (yet) a staff member's at this kind of workplace."""


def _csrf(request: Request) -> str:
    return str(request.app.state.browser_logins.csrf_token(request.cookies[SESSION_COOKIE]))


async def at_work(request: Request, workplace: Workplace) -> tuple[Principal, str]:
    """The staff member of this browser session and its CSRF token, or NotAtWork."""
    me = await session_principal(request)
    if me is None or me.kind != workplace.kind or me.staff_code is None:
        raise NotAtWork
    return me, _csrf(request)


def _refused(request: Request, me: Principal | None, title: str, detail: str) -> Response:
    _ = translations(language_of(request)).gettext
    csrf = _csrf(request) if me else None
    return render(request, "error.html", 403, title=_(title), detail=_(detail), me=me, csrf=csrf)


async def start_work(request: Request, workplace: Workplace) -> Response:
    """Logged in but not yet at work: log in at level 2 first, then the only workplace at
    once, or the choice among several."""
    me = await session_principal(request)
    if me is None or me.kind != "citizen" or (me.loa or 0) < STAFF_LOGIN_LEVEL:
        return RedirectResponse(
            f"/login?loa={STAFF_LOGIN_LEVEL}&next={workplace.home}", status_code=303
        )
    state = request.app.state

    def places() -> list[StaffPlace]:
        with Session(state.read_engine) as session:
            found = state.staff_directory.places(session, me.subject)
        return [p for p in found if p.kind == workplace.kind]

    found = await run_in_threadpool(places)
    if not found:
        return _refused(request, me, *workplace.not_staff)
    # Even with one workplace the person presses "start work" (a POST with the session's CSRF
    # token): a GET never turns a citizen's session into a staff one, so no link or image
    # planted by another site can make a clerk start work.
    return render(
        request,
        workplace.chooser,
        me=me,
        csrf=_csrf(request),
        places=[(workplace.key(p), p) for p in found],
    )


async def _work_at(request: Request, workplace: Workplace, key: str) -> Response:
    state = request.app.state
    session_id = request.cookies.get(SESSION_COOKIE, "")
    try:
        await run_in_threadpool(
            state.browser_logins.work_at,
            session_id,
            state.staff_directory,
            (workplace.kind, key),
            utcnow(),
        )
    except AppError as exc:
        return refusal_page(request, exc)
    return RedirectResponse(workplace.home, status_code=303)


async def choose(request: Request, workplace: Workplace) -> Response:
    """The chooser's answer (a form with the session's CSRF token and the workplace's key)."""
    if await session_principal(request) is None:
        return to_login(request, STAFF_LOGIN_LEVEL)
    form = await form_data(request)
    return await _work_at(request, workplace, str(form.get(workplace.field) or ""))
