"""The citizen's pages: thin routes over the domains' services. Every page needs a live browser
session (else it sends the person to log in and back); every form that changes something
carries the session's CSRF token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from agents import requests as requests_service
from agents import service as agents_service
from agents import submissions as submissions_service
from core.auth import Principal, session_principal
from core.clock import utcnow
from core.errors import AppError
from core.http import client_address
from delegation import service as delegation_service
from delegation.models import Delegation
from delegation.schemas import DelegationCreate
from web.common import (
    Login,
    citizen,
    form_data,
    form_refusal,
    problem_page,
    qr_svg,
    to_login,
    until_and_uses,
)
from web.pages import (
    ERROR_TEXTS,
    HANOI,
    FieldProblem,
    field_problem,
    language_of,
    render,
    translations,
)

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {  # msgids of web/translations
    "active": "Active",
    "pending": "Pending: waiting for the person to accept",
    "pending_you": "Pending: waiting for you to accept",
    "revoked": "Revoked",
    "renounced": "Renounced",
    "expired": "Expired",
    "exhausted": "All uses made",
    "suspended": "Suspended: the agent is suspended",
}


FORM_TEXTS = {  # msgids
    "grant": "The form is not complete",
    "back": "Back to the form",
}
NEXT_STEP_TEXTS = {  # msgids: what happens next, after a grant or an approval
    "to_agent": "Signed. Show this QR code at the counter.",
    "approved": "Authorized. The counter already has your authorization: there is nothing to show.",
    "to_person": (
        "Signed. The person you authorized must now log in with VNeID and accept it; "
        "then they can use it."
    ),
}


@dataclass
class Shown:
    """An authorization as a page shows it."""

    id: str
    status: str
    status_label: str
    delegate_name: str
    delegator_name: str
    procedure_names: str
    max_uses: int
    uses_left: int
    valid_from: datetime
    valid_until: datetime


def _names(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    agents = {a.code: a.name for a in agents_service.list_agents(session)}
    procedures = {p.code: p.name for p in agents_service.list_procedures(session)}
    return agents, procedures


def _shown(
    d: Delegation, me: Principal, agents: dict[str, str], procedures: dict[str, str]
) -> Shown:
    now = utcnow()
    delegate = delegation_service.delegate_of(d)
    if delegate["type"] == "agent":
        delegate_name = agents.get(delegate["code"], delegate["code"])
    else:  # VNeID gives us the granter's name, not the delegate's: the PID they typed
        delegate_name = "you" if delegate["pid"] == me.subject else f"PID {delegate['pid']}"
    codes = json.loads(d.procedures)
    status = delegation_service.effective_status(d, now)
    label = STATUS_LABELS.get(status, status)
    if status == "pending" and d.delegate_pid == me.subject:  # the reader is the one to accept
        label = STATUS_LABELS["pending_you"]
    return Shown(
        id=d.id,
        status=status,
        status_label=label,
        delegate_name=delegate_name,
        delegator_name="you"
        if d.delegator_pid == me.subject
        else (d.delegator_name or f"PID {d.delegator_pid}"),
        procedure_names=", ".join(procedures.get(c, c) for c in codes),
        max_uses=d.max_uses,
        uses_left=max(d.max_uses - d.uses, 0),
        valid_from=d.valid_from,
        valid_until=d.valid_until,
    )


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    me = await session_principal(request)
    if me is not None:
        return RedirectResponse("/app", status_code=303)
    return render(request, "home.html")


@router.get("/app", response_class=HTMLResponse)
async def my_authorizations(request: Request) -> Response:
    try:
        me, csrf = await citizen(request)
    except Login as need:
        return to_login(request, need.level)

    def load() -> tuple[list[Shown], list[Shown]]:
        with Session(request.app.state.read_engine) as session:
            agents, procedures = _names(session)
            given = delegation_service.list_visible(session, me, "delegator")
            received = delegation_service.list_visible(session, me, "delegate")
            return (
                [_shown(d, me, agents, procedures) for d in given],
                [_shown(d, me, agents, procedures) for d in received],
            )

    given, received = await run_in_threadpool(load)
    return render(request, "app.html", me=me, csrf=csrf, given=given, received=received)


def _grant_form_context(request: Request, me: Principal) -> dict[str, Any]:
    with Session(request.app.state.read_engine) as session:
        agents = [a for a in agents_service.list_agents(session) if a.status == "active"]
        procedures = agents_service.list_procedures(session)
    max_days = request.app.state.delegation_config.max_days
    today = datetime.now(HANOI).date()
    return {
        "agents": agents,
        "procedures": procedures,
        "max_days": max_days,
        "today": today.isoformat(),
        "latest": (today + timedelta(days=max_days - 1)).isoformat(),
        "default_until": (today + timedelta(days=30)).isoformat(),
    }


# A grant form sent after the session ended: back to the form once logged in again, where the
# page says why and the browser puts back what was typed (app.js keeps the draft in the tab).
RESUME_GRANT = "/app/grant?resumed=1"


async def _level_2(request: Request) -> tuple[Principal, str] | Response:
    try:
        me, csrf = await citizen(request)
    except Login as need:
        return to_login(request, need.level, RESUME_GRANT if request.method == "POST" else None)
    if (me.loa or 0) < 2:
        _ = translations(language_of(request)).gettext
        return render(
            request,
            "error.html",
            403,
            title=_("This needs a level-2 VNeID login"),
            detail=_(
                "To authorize someone you must have logged in with VNeID at level 2. "
                "Log in again at level 2 and you will come back here."
            ),
            action={"href": "/login?loa=2&next=/app/grant", "label": _("Log in at level 2")},
            me=me,
            csrf=csrf,
        )
    return me, csrf


@router.get("/app/grant", response_class=HTMLResponse)
async def grant_form(request: Request) -> Response:
    checked = await _level_2(request)
    if isinstance(checked, Response):
        return checked
    me, csrf = checked
    context = await run_in_threadpool(_grant_form_context, request, me)
    form = {"delegate_type": "agent", "procedures": [], "valid_until": context["default_until"]}
    resumed = request.query_params.get("resumed") == "1"
    return render(request, "grant.html", me=me, csrf=csrf, form=form, resumed=resumed, **context)


def _grant_body(form: dict[str, Any]) -> DelegationCreate:
    """The form as the API's own request: the same validation as POST /v1/delegations."""
    if form.get("delegate_type") == "person":
        delegate: dict[str, Any] = {"type": "person", "pid": form.get("person_pid") or ""}
    else:
        delegate = {"type": "agent", "code": form.get("agent") or ""}
    until, max_uses = until_and_uses(form)
    return DelegationCreate.model_validate(
        {
            "delegate": delegate,
            "procedures": form.get("procedures") or [],
            "valid_until": until,
            "max_uses": max_uses,
        }
    )


@router.post("/app/grant", response_class=HTMLResponse)
async def grant_review(request: Request) -> Response:
    checked = await _level_2(request)
    if isinstance(checked, Response):
        return checked
    me, csrf = checked
    form = await form_data(request)
    context = await run_in_threadpool(_grant_form_context, request, me)
    if request.query_params.get("edit") == "1":  # "Sửa" on the review: the form as they left it
        form.setdefault("procedures", [])
        return render(request, "grant.html", me=me, csrf=csrf, form=form, **context)
    try:
        body = _grant_body(form)
        if not body.procedures:
            raise FieldProblem("procedures", "too_short")
    except (ValueError, ValidationError) as exc:
        problem = field_problem(request, exc)
        form.setdefault("procedures", [])
        return render(
            request, "grant.html", 422, me=me, csrf=csrf, form=form, problem=problem, **context
        )
    names = {a.code: a.name for a in context["agents"]}
    procedures = {p.code: p.name for p in context["procedures"]}
    delegate = body.delegate
    summary = Shown(
        id="",
        status="",
        status_label="",
        delegate_name=names.get(getattr(delegate, "code", ""), "")
        or f"PID {getattr(delegate, 'pid', '')}",
        delegator_name="you",
        procedure_names=", ".join(procedures.get(c, c) for c in body.procedures),
        max_uses=body.max_uses,
        uses_left=body.max_uses,
        valid_from=utcnow(),
        valid_until=body.valid_until,
    )
    hidden = [(k, v) for k, v in form.items() if k not in ("csrf_token", "procedures") and v]
    hidden += [("procedures", code) for code in body.procedures]
    return render(request, "grant_confirm.html", me=me, csrf=csrf, summary=summary, hidden=hidden)


@router.post("/app/grant/confirm", response_class=HTMLResponse)
async def grant_confirm(request: Request) -> Response:
    checked = await _level_2(request)
    if isinstance(checked, Response):
        return checked
    me, csrf = checked
    form = await form_data(request)
    state = request.app.state

    def granted() -> str:
        with Session(state.engine) as session:
            d = delegation_service.grant(
                session,
                state.keyring,
                state.delegation_config,
                state.directory,
                me,
                _grant_body(form),
                utcnow(),
            )
            session.commit()
            return d.id

    try:
        created = await run_in_threadpool(granted)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    except (ValueError, ValidationError) as exc:
        return form_refusal(
            request, me, csrf, exc, FORM_TEXTS["grant"], ("/app/grant", FORM_TEXTS["back"])
        )
    return RedirectResponse(f"/app/authorizations/{created}?new=1", status_code=303)


@router.get("/app/authorizations/{delegation_id}", response_class=HTMLResponse)
async def authorization(request: Request, delegation_id: str) -> Response:
    try:
        me, csrf = await citizen(request)
    except Login as need:
        return to_login(request, need.level)

    def load() -> tuple[Shown, Delegation, list[Any] | None, dict[str, str]]:
        with Session(request.app.state.read_engine) as session:
            d = delegation_service.get_visible(session, me, delegation_id)
            agents, procedures = _names(session)
            uses = None
            if delegation_service.is_delegator(me, d):
                label = agents_service.counter_label
                uses = [
                    (s, label(session, s.counter_id) if s.counter_id else None)
                    for s in submissions_service.uses_of(session, me, delegation_id)
                ]
            return _shown(d, me, agents, procedures), d, uses, procedures

    try:
        shown, d, found, procedure_names = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    uses = (
        [
            {
                "id": s.id,
                "number": submissions_service.dossier_number(s.id),
                "created_at": s.created_at,
                "counter": counter or s.counter_id or s.delegate_ref,
                "operator": s.operator,
                "authenticated": s.operator_authenticated,
                "procedure": procedure_names.get(s.procedure, s.procedure),
                # the citizen gets their signed result here, as the agency does on its page
                "status": s.status,
                "result": f"/v1/submissions/{s.id}/result.pdf" if s.status == "completed" else None,
            }
            for s, counter in found
        ]
        if found is not None
        else None
    )
    actions = []
    delegator = delegation_service.is_delegator(me, d)
    # nothing to revoke once every use is made: it can do nothing more
    if delegator and shown.status in ("active", "pending", "suspended"):
        actions.append({"name": "revoke", "label": "Revoke", "kind": "danger"})
    if not delegator and shown.status == "pending":
        actions.append({"name": "accept", "label": "Accept", "kind": ""})
    if not delegator and shown.status in ("active", "pending"):
        actions.append({"name": "renounce", "label": "Renounce", "kind": "danger"})
    qr = qr_svg(d.token) if shown.status in ("active", "pending") else None
    # What happens next, for this reader: a new grant to an agent is shown at its counter; one
    # approved at a counter's request is already there; a person must accept it first.
    to_person = delegation_service.delegate_of(d)["type"] == "person"
    if request.query_params.get("approved") == "1":
        notice = NEXT_STEP_TEXTS["approved"]
    elif request.query_params.get("new") != "1":
        notice = None
    else:
        notice = NEXT_STEP_TEXTS["to_person" if to_person else "to_agent"]
    return render(
        request,
        "authorization.html",
        me=me,
        csrf=csrf,
        a=shown,
        uses=uses,
        qr=qr,
        # the QR is for a counter that does not have the authorization yet
        qr_folded=to_person or request.query_params.get("approved") == "1",
        actions=actions,
        notice=notice,
    )


_CONFIRM = {
    "revoke": (
        "Revoke this authorization?",
        "Nobody can use it any more, from now on. This cannot be undone.",
        "Revoke",
    ),
    "renounce": (
        "Renounce this authorization?",
        "You will no longer be able to act under it. This cannot be undone.",
        "Renounce",
    ),
    "accept": ("Accept this authorization?", "You will be able to act under it.", "Accept"),
}


@router.get("/app/authorizations/{delegation_id}/{action}", response_class=HTMLResponse)
async def confirm_action(request: Request, delegation_id: str, action: str) -> Response:
    if action not in _CONFIRM:
        return RedirectResponse(f"/app/authorizations/{delegation_id}", status_code=303)
    try:
        me, csrf = await citizen(request)
    except Login as need:
        return to_login(request, need.level)

    def load() -> Shown:
        with Session(request.app.state.read_engine) as session:
            d = delegation_service.get_visible(session, me, delegation_id)
            agents, procedures = _names(session)
            return _shown(d, me, agents, procedures)

    try:
        shown = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    question, consequence, button = _CONFIRM[action]
    return render(
        request,
        "confirm.html",
        me=me,
        csrf=csrf,
        a=shown,
        action=action,
        question=question,
        consequence=consequence,
        button=button,
    )


@router.post("/app/authorizations/{delegation_id}/{action}", response_class=HTMLResponse)
async def act(request: Request, delegation_id: str, action: str) -> Response:
    try:
        me, csrf = await citizen(request)
    except Login as need:
        return to_login(request, need.level)
    await form_data(request)
    if action not in _CONFIRM:
        return RedirectResponse(f"/app/authorizations/{delegation_id}", status_code=303)

    def change() -> None:
        with Session(request.app.state.engine) as session:
            if action == "accept":
                delegation_service.accept(session, me, delegation_id, utcnow())
            else:
                delegation_service.end(session, me, delegation_id, action, utcnow())
            session.commit()

    try:
        await run_in_threadpool(change)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    return RedirectResponse(f"/app/authorizations/{delegation_id}", status_code=303)


# -- my activity -------------------------------------------------------------------------------
EVENT_TEXTS = {  # msgids of web/translations: each audit event in plain words, things by name
    "login.token_exchange": "You logged in with VNeID (level %(loa)s) in an app",
    "login.browser": "You logged in with VNeID (level %(loa)s) in the browser",
    "delegation.granted": "Granted: %(authorization)s",
    "delegation.accepted": "Accepted: %(authorization)s",
    "delegation.revoked": "Revoked: %(authorization)s",
    "delegation.renounced": "Renounced by the person authorized: %(authorization)s",
    "delegation.expired": "Expired: %(authorization)s",
    "submission.accepted": (
        "Dossier no. %(number)s (%(procedure)s) was filed under %(authorization)s"
    ),
    "submission.accepted+act": (
        "Dossier no. %(number)s (%(procedure)s) was filed at %(counter)s by clerk "
        "%(operator)s (%(how)s)"
    ),
    "authorization_request.created": "%(counter)s asked you for an authorization",
    "authorization_request.approved": "You approved the request of %(counter)s",
    "authorization_request.declined": "You declined the request of %(counter)s",
    "authorization_request.cancelled": "%(counter)s withdrew its request",
    "authorization_request.expired": "The request of %(counter)s expired",
    "login.staff": "You started work at %(counter)s as clerk %(staff_code)s",
    "submission.refused": "A dossier under %(authorization)s was refused: %(reason)s",
    "result.signed": "%(agency)s signed the result of dossier no. %(number)s (%(procedure)s)",
}
AUTHORIZATION_TEXTS = {  # msgids: an authorization named by who may do what, for whom
    "given": "your authorization for %(delegate)s to submit %(procedures)s",
    "received": "the authorization from %(delegator)s for you to submit %(procedures)s",
    "unknown": "an authorization",
    "person": "the person with ID number %(pid)s",
}
DOSSIER_TEXTS = {  # msgids
    "received": "Received, waiting for the agency",
    "completed": "The agency has answered",
}
PER_PAGE = 20


@dataclass
class _Names:
    """What the entries of one page of activity refer to, by name."""

    authorizations: dict[str, Shown]
    dossiers: dict[str, Any]
    counters: dict[str, str]
    procedures: dict[str, str]
    agencies: dict[str, str]


def _activity_names(session: Session, me: Principal, events: list[Any]) -> _Names:
    """Everything one page of entries names, in a handful of queries (the page's ids only)."""
    data = [json.loads(e.data) for e in events]
    delegation_ids = [str(d["delegation"]) for d in data if d.get("delegation")]
    delegation_ids += [e.ref for e in events if e.kind.startswith("delegation.") and e.ref]
    agents, procedures = _names(session)
    shown = {
        i: _shown(d, me, agents, procedures)
        for i, d in delegation_service.visible_by_id(session, me, delegation_ids).items()
    }
    dossiers = submissions_service.visible_by_id(
        session, me, [str(d["submission"]) for d in data if d.get("submission")]
    )
    counter_ids = {str(d["counter"]) for d in data if d.get("counter")}
    counters = {c: agents_service.counter_label(session, c) or c for c in counter_ids}
    agencies = {a.code: a.name for a in agents_service.list_agencies(session)}
    return _Names(shown, dossiers, counters, procedures, agencies)


def _authorization_words(_: Any, a: Shown | None) -> str:
    if a is None:
        return str(_(AUTHORIZATION_TEXTS["unknown"]))

    def who(name: str) -> str:
        if name.startswith("PID "):
            return str(_(AUTHORIZATION_TEXTS["person"]) % {"pid": name[4:]})
        return name

    key = "given" if a.delegator_name == "you" else "received"
    return str(
        _(AUTHORIZATION_TEXTS[key])
        % {
            "delegate": who(a.delegate_name),
            "delegator": who(a.delegator_name),
            "procedures": a.procedure_names,
        }
    )


def _activity_entry(_: Any, e: Any, names: _Names) -> dict[str, Any]:
    data = json.loads(e.data)
    kind = e.kind
    delegation_id = data.get("delegation") or (e.ref if kind.startswith("delegation.") else None)
    authorization = names.authorizations.get(str(delegation_id)) if delegation_id else None
    submission_id = data.get("submission")
    dossier = names.dossiers.get(str(submission_id)) if submission_id else None
    procedure = data.get("procedure") or (dossier.procedure if dossier else "")
    error_title = ERROR_TEXTS.get(str(data.get("code")), (str(data.get("code")), ""))[0]
    values = {
        **{k: v for k, v in data.items() if isinstance(v, str | int)},
        "authorization": _authorization_words(_, authorization),
        "number": submissions_service.dossier_number(str(submission_id or "")),
        "procedure": names.procedures.get(procedure, procedure),
        "counter": names.counters.get(str(data.get("counter")), _("a counter")),
        "agency": names.agencies.get(str(data.get("agency")), _("The agency")),
        "reason": _(error_title),
    }
    if kind == "submission.accepted" and data.get("operator") and data.get("counter"):
        kind = "submission.accepted+act"  # who filed it, and whether they logged in
        values["how"] = _(
            "logged in with VNeID"
            if data.get("operator_authenticated")
            else "declared by the counter"
        )
    template = EVENT_TEXTS.get(kind)
    try:
        text = _(template) % values if template else _("Recorded event")
    except (KeyError, ValueError):
        text = _("Recorded event")
    entry: dict[str, Any] = {
        "seq": e.seq,
        "leaf_hash": e.leaf_hash,
        "text": text,
        "at": e.occurred_at,
    }
    if authorization is not None and kind.startswith(("delegation.", "submission.")):
        entry["authorization"] = f"/app/authorizations/{authorization.id}"
    if dossier is not None:  # where it stands now, and its signed result once there is one
        entry["dossier"] = _(DOSSIER_TEXTS.get(dossier.status, dossier.status))
        if dossier.status == "completed":
            entry["result"] = f"/v1/submissions/{dossier.id}/result.pdf"
    return entry


@router.get("/app/activity", response_class=HTMLResponse)
async def activity(request: Request, page: int = 1, mine: bool = False) -> Response:
    """Everything recorded about the citizen, or (`mine`) only what they did themselves: what
    others did (a counter's requests, say) can never bury the citizen's own actions."""
    try:
        me, csrf = await citizen(request)
    except Login as need:
        return to_login(request, need.level)
    page = max(1, min(page, 10_000))
    state = request.app.state
    _ = translations(language_of(request)).gettext

    def load() -> tuple[list[dict[str, Any]], bool]:
        state.audit.sequence()  # what has just happened is in the log before it is shown
        events = list(reversed(list(state.audit.events(pid=me.subject, limit=5000))))
        if mine:
            events = [e for e in events if e.actor == f"citizen:{me.subject}"]
        on_page = events[(page - 1) * PER_PAGE : page * PER_PAGE]
        with Session(state.read_engine) as session:
            names = _activity_names(session, me, on_page)
        shown = [_activity_entry(_, e, names) for e in on_page]
        return shown, len(events) > page * PER_PAGE

    shown, more = await run_in_threadpool(load)
    return render(
        request,
        "activity.html",
        me=me,
        csrf=csrf,
        events=shown,
        page=page,
        mine=mine,
        more=more,
    )


# -- a counter's authorization request, approved on the citizen's phone --------------------------
REQUEST_STATES = {  # msgids of web/translations
    "approved": "You approved this request.",
    "declined": "You declined this request.",
    "expired": "This request has expired: ask the counter for a new one.",
    "cancelled": "The counter withdrew this request.",
}


def _fresh(me: Principal) -> bool:
    return requests_service.login_is_fresh(me, utcnow())


@router.get("/r", response_class=HTMLResponse)
async def code_box(request: Request, code: str = "") -> Response:
    """The code box (home page, the citizen's list): the code as shown at the counter, with its
    space or a dash, in any case, leads to its request."""
    code = requests_service.normalized_code(code)[:16]
    if not code:
        return RedirectResponse("/", status_code=303)
    return RedirectResponse(f"/r/{code}", status_code=303)


@router.get("/r/{code}", response_class=HTMLResponse)
async def approval_page(request: Request, code: str) -> Response:
    """What the counter's QR code opens. Looking a code up counts against the citizen's and
    the address's budgets, a state change: so the GET only asks, and the citizen's press (a
    POST with the session's CSRF token) shows the request. No link or image on another site
    can spend a citizen's lookups."""
    try:
        me, csrf = await citizen(request, level=2)
    except Login as need:
        return to_login(request, need.level)
    code = requests_service.normalized_code(code)[:16]
    return render(request, "request.html", me=me, csrf=csrf, r=None, code=code)


async def _show_request(request: Request, me: Principal, csrf: str, code: str) -> Response:
    state = request.app.state
    address = client_address(request)

    def load() -> tuple[dict[str, Any], str]:
        with Session(state.engine) as session:
            r = requests_service.lookup(
                session, state.requests, me, code, utcnow(), address=address
            )
            shown = {
                "max_uses": r.max_uses,
                "valid_until": r.valid_until,
                "purpose": r.purpose,
                "staff_code": r.staff_code,
                **requests_service.shown_to_citizen(session, r),
            }
            session.commit()  # the lookup counts against the citizen
            return shown, requests_service.status_of(r, utcnow())

    try:
        shown, status = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    return render(
        request,
        "request.html",
        me=me,
        csrf=csrf,
        r=shown,
        code=requests_service.normalized_code(code),
        request_status=status,
        status_label=REQUEST_STATES.get(status, status),
        fresh=_fresh(me),
    )


@router.post("/r/{code}/{decision}", response_class=HTMLResponse)
async def decide(request: Request, code: str, decision: str) -> Response:
    try:
        me, csrf = await citizen(request, level=2)
    except Login as need:
        return to_login(request, need.level)
    await form_data(request)
    if decision == "view":
        return await _show_request(request, me, csrf, code)
    if decision not in ("approve", "decline"):
        return RedirectResponse(f"/r/{code}", status_code=303)
    address = client_address(request)
    if decision == "approve" and not _fresh(me):
        return RedirectResponse(f"/login?loa=2&next=/r/{code}", status_code=303)
    state = request.app.state

    def decided() -> str | None:
        with Session(state.engine) as session:
            if decision == "approve":
                d = requests_service.approve(
                    session,
                    state.requests,
                    state.keyring,
                    state.delegation_config,
                    state.directory,
                    me,
                    code,
                    utcnow(),
                    address=address,
                )
                session.commit()
                return d.id
            requests_service.decline(session, state.requests, me, code, utcnow(), address=address)
            session.commit()
            return None

    try:
        granted = await run_in_threadpool(decided)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    if granted:
        # the counter that asked holds it already: the page must not send them to show a QR
        return RedirectResponse(f"/app/authorizations/{granted}?approved=1", status_code=303)
    return RedirectResponse(f"/r/{code}", status_code=303)
