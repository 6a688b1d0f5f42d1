"""The agency's pages: its clerk logs in with VNeID (the shared login), reads the inbox (received
or completed, a page at a time, searchable by submission id or procedure), opens a dossier (its
fields, receipt, authorization and who filed it) and uploads the result, which the service signs
at PAdES B-LT with the agency's certificate, in the same sandbox as the API."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from agents import service as agents_service
from agents import submissions as submissions_service
from agents.exceptions import ResultFileRequired
from core.auth import SESSION_COOKIE, Principal, check_csrf, session_principal
from core.clock import utcnow
from core.errors import AppError
from signing.uploads import checked_pdf
from web.common import form_data, problem_page, to_login
from web.pages import language_of, render, translations

router = APIRouter(include_in_schema=False)

STAFF_LOGIN_LEVEL = 2
PER_PAGE = 20
INBOX_STATES = ("received", "completed")


class _NotAgencyClerk(Exception):
    pass


async def _agency_clerk(request: Request) -> tuple[Principal, str]:
    me = await session_principal(request)
    if me is None or me.kind != "agency" or me.staff_code is None:
        raise _NotAgencyClerk
    return me, request.app.state.browser_logins.csrf_token(request.cookies[SESSION_COOKIE])


async def _start_work(request: Request) -> Response:
    me = await session_principal(request)
    if me is None or me.kind != "citizen" or (me.loa or 0) < STAFF_LOGIN_LEVEL:
        return RedirectResponse(f"/login?loa={STAFF_LOGIN_LEVEL}&next=/agency", status_code=303)
    state = request.app.state

    def places() -> list[Any]:
        with Session(state.read_engine) as session:
            return [
                p for p in state.staff_directory.places(session, me.subject) if p.kind == "agency"
            ]

    found = await run_in_threadpool(places)
    csrf = state.browser_logins.csrf_token(request.cookies[SESSION_COOKIE])
    if not found:
        _ = translations(language_of(request)).gettext
        return render(
            request,
            "error.html",
            403,
            title=_("You are not agency staff"),
            detail=_("This page is for the staff of an agency. Ask your administrator."),
            me=me,
            csrf=csrf,
        )
    if len(found) == 1:
        return await _work_at(request, found[0].owner_code)
    return render(request, "agency_choose.html", me=me, csrf=csrf, places=found)


async def _work_at(request: Request, agency_code: str) -> Response:
    state = request.app.state
    session_id = request.cookies.get(SESSION_COOKIE, "")
    try:
        await run_in_threadpool(
            state.browser_logins.work_at,
            session_id,
            state.staff_directory,
            ("agency", agency_code),
            utcnow(),
        )
    except AppError as exc:
        return render(request, "error.html", exc.status, title=exc.title, detail=exc.detail)
    return RedirectResponse("/agency", status_code=303)


@router.post("/agency/choose", response_class=HTMLResponse)
async def choose_agency(request: Request) -> Response:
    if await session_principal(request) is None:
        return to_login(request, STAFF_LOGIN_LEVEL)
    form = await form_data(request)
    return await _work_at(request, str(form.get("agency") or ""))


@router.get("/agency", response_class=HTMLResponse)
async def inbox(
    request: Request, status: str = "received", q: str = "", after: str | None = None
) -> Response:
    try:
        me, csrf = await _agency_clerk(request)
    except _NotAgencyClerk:
        return await _start_work(request)
    status = status if status in INBOX_STATES else "received"
    q = q.strip()[:100]

    def load() -> dict[str, Any]:
        with Session(request.app.state.read_engine) as session:
            names = {p.code: p.name for p in agents_service.list_procedures(session)}
            agency = agents_service.get_agency(session, me.agency_code or "")
            page = submissions_service.agency_inbox(
                session, me, status, PER_PAGE + 1, after, query=q or None
            )
        return {
            "agency": agency.name,
            "rows": [
                {
                    "id": s.id,
                    "procedure": s.procedure,
                    "procedure_name": names.get(s.procedure, s.procedure),
                    "created_at": s.created_at,
                    "completed_at": s.completed_at,
                    "counter": s.counter_id,
                    "operator": s.operator,
                }
                for s in page[:PER_PAGE]
            ],
            "next": page[PER_PAGE - 1].id if len(page) > PER_PAGE else None,
        }

    try:
        context = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    return render(request, "agency.html", me=me, csrf=csrf, box=status, q=q, after=after, **context)


def _dossier_rows(dossier: str) -> list[tuple[str, str]] | None:
    """A flat dossier as name/value rows; a nested one is shown as formatted JSON instead."""
    value = json.loads(dossier)
    if isinstance(value, dict) and all(
        isinstance(v, str | int | float | bool) or v is None for v in value.values()
    ):
        return [(str(k), "" if v is None else str(v)) for k, v in value.items()]
    return None


@router.get("/agency/submissions/{submission_id}", response_class=HTMLResponse)
async def submission_page(request: Request, submission_id: str) -> Response:
    try:
        me, csrf = await _agency_clerk(request)
    except _NotAgencyClerk:
        return to_login(request, STAFF_LOGIN_LEVEL)

    def load() -> dict[str, Any]:
        with Session(request.app.state.read_engine) as session:
            s = submissions_service.get_visible(session, me, submission_id)
            names = {p.code: p.name for p in agents_service.list_procedures(session)}
            counter = None
            if s.counter_id:
                try:
                    c = agents_service.get_counter(session, s.counter_id)
                    agent = agents_service.get_agent(session, c.agent_code)
                    counter = f"{agent.name}: {c.name} ({c.ward_code})"
                except AppError:
                    counter = s.counter_id
        rows = _dossier_rows(s.dossier)
        return {
            "id": s.id,
            "status": s.status,
            "procedure": s.procedure,
            "procedure_name": names.get(s.procedure, s.procedure),
            "created_at": s.created_at,
            "completed_at": s.completed_at,
            "delegation": s.delegation_id,
            "delegator": s.delegator_pid,
            "counter": counter,
            "act": submissions_service.act_of(s.counter_id, s.operator, s.operator_authenticated),
            "dossier_rows": rows,
            "dossier_json": None
            if rows is not None
            else json.dumps(json.loads(s.dossier), ensure_ascii=False, indent=2),
            "dossier_sha256": s.dossier_sha256,
            "receipt": s.receipt,
        }

    try:
        s = await run_in_threadpool(load)
    except AppError as exc:
        return problem_page(request, me, csrf, exc)
    return render(
        request,
        "agency_submission.html",
        me=me,
        csrf=csrf,
        s=s,
        request_signed=request.query_params.get("signed") == "1",
    )


@router.post("/agency/submissions/{submission_id}/result", response_class=HTMLResponse)
async def upload_result(request: Request, submission_id: str) -> Response:
    try:
        me, csrf = await _agency_clerk(request)
    except _NotAgencyClerk:
        return to_login(request, STAFF_LOGIN_LEVEL)
    state = request.app.state
    async with request.form() as form:  # closes the uploaded file whatever happens
        token = form.get("csrf_token")
        session_id = request.cookies[SESSION_COOKIE]
        check_csrf(request, session_id, token if isinstance(token, str) else None)
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile):
                raise ResultFileRequired("choose the result PDF to upload")
            pdf = checked_pdf(upload, state.settings.max_upload_bytes)

            def attach() -> None:
                with Session(state.engine) as session:
                    submissions_service.attach_result(
                        session, state.signing, me, submission_id, pdf, utcnow()
                    )
                    session.commit()

            await run_in_threadpool(attach)
        except AppError as exc:
            return problem_page(request, me, csrf, exc)
    return RedirectResponse(f"/agency/submissions/{submission_id}?signed=1", status_code=303)
