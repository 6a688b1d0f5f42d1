"""The counter console: a clerk logs in with VNeID (choosing a counter when they work at several),
asks a citizen for an authorization with a QR code, finds the authorizations the agent holds,
files a dossier under one and prints the receipt. Thin routes over the domains' services; the
session acts for the counter in the clerk's name, exactly as a staff-bound token does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from agents import requests as requests_service
from agents import service as agents_service
from agents import submissions as submissions_service
from agents.schemas import RequestCreate, SubmissionCreate
from core.clock import utcnow
from core.errors import AppError
from delegation import service as delegation_service
from delegation.models import Delegation
from identity.service import STAFF_LOGIN_LEVEL
from web.common import form_data, form_refusal, problem_page, qr_svg, to_login, until_and_uses
from web.pages import HANOI, render
from web.router import STATUS_LABELS
from web.staff import COUNTER, NotAtWork, at_work, choose, start_work

router = APIRouter(include_in_schema=False)

FORM_TEXTS = {  # msgids
    "request": "The request is not complete",
    "dossier": "The dossier is not complete",
}
BACK_TO_COUNTER = ("/counter", "Back to the counter")

MAX_FIELDS = 30
RECEIPT_LAYOUTS = ("a5", "80mm")
REQUEST_STATES = {  # msgids of web/translations: what the clerk's screen says
    "pending": "Waiting for the citizen to approve on their phone",
    "approved": "Approved: the authorization is ready",
    "declined": "The citizen declined",
    "expired": "This request has expired",
    "cancelled": "You cancelled this request",
}


def _counter_of(session: Session, counter_id: str) -> dict[str, Any]:
    counter = agents_service.get_counter(session, counter_id)
    agent = agents_service.get_agent(session, counter.agent_code)
    return {"name": counter.name, "ward": counter.ward_code, "agent": agent.name}


def _held(d: Delegation, names: dict[str, str], now: datetime) -> dict[str, Any]:
    """A delegation the agent holds, as the console shows it."""
    status = delegation_service.effective_status(d, now)
    codes = json.loads(d.procedures)
    return {
        "id": d.id,
        "name": d.delegator_name or "",
        "pid": d.delegator_pid,
        "procedures": [(c, names.get(c, c)) for c in codes],
        "procedure_names": ", ".join(names.get(c, c) for c in codes),
        "uses_left": max(d.max_uses - d.uses, 0),
        "valid_until": d.valid_until,
        "status": status,
        "status_label": STATUS_LABELS.get(status, ""),
    }


@router.get("/counter", response_class=HTMLResponse)
async def console(request: Request, q: str = "") -> Response:
    try:
        me, csrf = await at_work(request, COUNTER)
    except NotAtWork:
        return await start_work(request, COUNTER)
    q = q.strip()[:100]

    def load() -> dict[str, Any]:
        with Session(request.app.state.read_engine) as session:
            procedures = agents_service.list_procedures(session)
            names = {p.code: p.name for p in procedures}
            held = delegation_service.list_visible(session, me, "delegate", q, limit=50)
            counter = _counter_of(session, me.counter_id or "")
        now = utcnow()
        return {
            "procedures": procedures,
            "held": [_held(d, names, now) for d in held],
            "counter": counter,
        }

    context = await run_in_threadpool(load)
    return render(
        request,
        "counter.html",
        me=me,
        csrf=csrf,
        q=q,
        form={"max_uses": 1, "valid_until": _default_until(request), "procedures": []},
        **context,
        **_date_limits(request),
    )


@router.post("/counter/choose", response_class=HTMLResponse)
async def choose_counter(request: Request) -> Response:
    return await choose(request, COUNTER)


def _date_limits(request: Request) -> dict[str, Any]:
    max_days = request.app.state.delegation_config.max_days
    today = datetime.now(HANOI).date()
    return {
        "max_days": max_days,
        "today": today.isoformat(),
        "latest": (today + timedelta(days=max_days - 1)).isoformat(),
    }


def _default_until(request: Request) -> str:
    return (datetime.now(HANOI).date() + timedelta(days=30)).isoformat()


def _request_body(form: dict[str, Any]) -> RequestCreate:
    """The form as the API's own request: the same validation as POST
    /v1/authorization-requests."""
    until, max_uses = until_and_uses(form)
    return RequestCreate.model_validate(
        {
            "procedures": form.get("procedures") or [],
            "max_uses": max_uses,
            "valid_until": until,
            "purpose": str(form.get("purpose") or "").strip(),
            "delegator_pid": str(form.get("delegator_pid") or "").strip() or None,
        }
    )


@router.post("/counter/requests", response_class=HTMLResponse)
async def create_request(request: Request) -> Response:
    try:
        me, csrf = await at_work(request, COUNTER)
    except NotAtWork:
        return to_login(request, STAFF_LOGIN_LEVEL)
    form = await form_data(request)
    state = request.app.state

    def create() -> str:
        body = _request_body(form)
        with Session(state.engine) as session:
            r, _ = requests_service.create(
                session,
                state.requests,
                state.delegation_config,
                state.directory,
                me,
                body,
                utcnow(),
            )
            session.commit()
            return r.id

    try:
        created = await run_in_threadpool(create)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    except (ValueError, ValidationError) as exc:
        return form_refusal(request, me, csrf, exc, FORM_TEXTS["request"], BACK_TO_COUNTER)
    return RedirectResponse(f"/counter/requests/{created}", status_code=303)


@router.get("/counter/requests/{request_id}", response_class=HTMLResponse)
async def show_request(request: Request, request_id: str) -> Response:
    try:
        me, csrf = await at_work(request, COUNTER)
    except NotAtWork:
        return to_login(request, STAFF_LOGIN_LEVEL)
    state = request.app.state

    def load() -> dict[str, Any]:
        with Session(state.read_engine) as session:
            r = requests_service.for_agent(session, me, request_id)
            code = requests_service.code_of(state.requests, r)
            shown = requests_service.shown_to_citizen(session, r)
        return {
            "id": r.id,
            "status": requests_service.status_of(r, utcnow()),
            "code": code,
            "approve_url": state.requests.approve_url(code),
            "expires_at": r.expires_at,
            "delegation_id": r.delegation_id,
            "procedures": shown["procedures"],
            "max_uses": r.max_uses,
            "valid_until": r.valid_until,
            "purpose": r.purpose,
        }

    try:
        r = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    return render(
        request,
        "counter_request.html",
        me=me,
        csrf=csrf,
        r=r,
        qr=qr_svg(r["approve_url"]) if r["status"] == "pending" else None,
        status_label=REQUEST_STATES.get(r["status"], r["status"]),
        labels=REQUEST_STATES,  # for the page to follow the request without a reload
    )


@router.post("/counter/requests/{request_id}/cancel", response_class=HTMLResponse)
async def cancel_request(request: Request, request_id: str) -> Response:
    try:
        me, csrf = await at_work(request, COUNTER)
    except NotAtWork:
        return to_login(request, STAFF_LOGIN_LEVEL)
    await form_data(request)
    state = request.app.state

    def cancel() -> None:
        with Session(state.engine) as session:
            requests_service.cancel(session, me, request_id, utcnow())
            session.commit()

    try:
        await run_in_threadpool(cancel)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    return RedirectResponse(f"/counter/requests/{request_id}", status_code=303)


# -- filing a dossier ---------------------------------------------------------------------------
DRAFT = re.compile(r"[A-Za-z0-9_-]{16,40}")


def draft_key(csrf: str, delegation_id: str, draft: str) -> str:
    """The idempotency key of one draft dossier, derived on the server from the session (its
    CSRF secret), the delegation and the draft's id, which lives in the form's address: however
    the form comes back (Back, reload, a restored tab, a double click), it carries the same key,
    and submitting it again shows the receipt of what was filed instead of filing again."""
    mac = hmac.new(csrf.encode(), f"draft:{delegation_id}:{draft}".encode(), hashlib.sha256)
    return "draft-" + base64.urlsafe_b64encode(mac.digest()[:18]).decode()


@router.get("/counter/delegations/{delegation_id}", response_class=HTMLResponse)
async def file_form(request: Request, delegation_id: str, draft: str | None = None) -> Response:
    try:
        me, csrf = await at_work(request, COUNTER)
    except NotAtWork:
        return to_login(request, STAFF_LOGIN_LEVEL)
    if draft is None or not DRAFT.fullmatch(draft):  # a new dossier: give it its own address
        fresh = secrets.token_urlsafe(12)
        return RedirectResponse(
            f"/counter/delegations/{quote(delegation_id, safe='')}?draft={fresh}", status_code=303
        )

    def load() -> dict[str, Any]:
        with Session(request.app.state.read_engine) as session:
            d = delegation_service.get_visible(session, me, delegation_id)
            names = {p.code: p.name for p in agents_service.list_procedures(session)}
        return _held(d, names, utcnow())

    try:
        d = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    return render(
        request,
        "counter_file.html",
        me=me,
        csrf=csrf,
        d=d,
        idempotency_key=draft_key(csrf, delegation_id, draft),
        rows=range(6),
    )


def _dossier(form: Any) -> dict[str, str]:
    keys, values = form.getlist("field_name"), form.getlist("field_value")
    dossier: dict[str, str] = {}
    for key, value in list(zip(keys, values, strict=False))[:MAX_FIELDS]:
        if isinstance(key, str) and isinstance(value, str) and key.strip():
            dossier[key.strip()[:200]] = value.strip()
    return dossier


@router.post("/counter/delegations/{delegation_id}", response_class=HTMLResponse)
async def file_dossier(request: Request, delegation_id: str) -> Response:
    try:
        me, csrf = await at_work(request, COUNTER)
    except NotAtWork:
        return to_login(request, STAFF_LOGIN_LEVEL)
    form = await form_data(request)
    raw = await request.form()
    state = request.app.state

    def file() -> str:
        with Session(state.engine) as session:
            d = delegation_service.get_visible(session, me, delegation_id)
            body = SubmissionCreate.model_validate(
                {
                    "delegation_token": d.token,
                    "procedure": str(form.get("procedure") or ""),
                    "dossier": _dossier(raw),
                }
            )
            _, answer = submissions_service.file_and_commit(
                session,
                state.keyring,
                state.delegation_config,
                me,
                body,
                str(form.get("idempotency_key") or ""),
                utcnow(),
            )
        return str(json.loads(answer)["id"])

    try:
        filed = await run_in_threadpool(file)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    except ValidationError as exc:
        return form_refusal(request, me, csrf, exc, FORM_TEXTS["dossier"], BACK_TO_COUNTER)
    return RedirectResponse(f"/counter/submissions/{filed}", status_code=303)


@router.get("/counter/submissions/{submission_id}", response_class=HTMLResponse)
async def receipt(request: Request, submission_id: str, layout: str = "a5") -> Response:
    try:
        me, csrf = await at_work(request, COUNTER)
    except NotAtWork:
        return to_login(request, STAFF_LOGIN_LEVEL)
    state = request.app.state

    def load() -> dict[str, Any]:
        with Session(state.read_engine) as session:
            s = submissions_service.get_visible(session, me, submission_id)
            names = {p.code: p.name for p in agents_service.list_procedures(session)}
            agency = agents_service.get_agency(session, s.agency_code)
            d = delegation_service.get_visible(session, me, s.delegation_id)
            # where it was filed, which need not be where this clerk works today
            counter = _counter_of(session, s.counter_id or "")
        return {
            "counter": counter,
            "id": s.id,
            "created_at": s.created_at,
            "procedure": s.procedure,
            "procedure_name": names.get(s.procedure, s.procedure),
            "agency": agency.name,
            "delegation": s.delegation_id,
            "citizen": d.delegator_name or "",
            "pid_masked": "•" * 8 + d.delegator_pid[-4:],
            "staff_code": s.operator,
            "authenticated": s.operator_authenticated,
            "dossier_sha256": s.dossier_sha256,
            "receipt": s.receipt,
        }

    try:
        r = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    verify_url = f"{state.settings.public_url}/verify#receipt={r['receipt']}"
    return render(
        request,
        "counter_receipt.html",
        me=me,
        csrf=csrf,
        r=r,
        counter=r["counter"],
        layout=layout if layout in RECEIPT_LAYOUTS else "a5",
        layouts=RECEIPT_LAYOUTS,
        qr=qr_svg(verify_url, error="l", border=4),  # a printed code needs its quiet zone
        verify_url=verify_url,
    )
