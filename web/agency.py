"""The agency's pages: its clerk logs in with VNeID (the shared login), reads the inbox (received
or completed, a page at a time, searchable by submission id or procedure), opens a dossier (its
fields, receipt, authorization and who filed it) and uploads the result, which the service signs
at PAdES B-LTA with the agency's certificate, in the same sandbox as the API."""

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
from core.auth import SESSION_COOKIE, check_csrf
from core.clock import utcnow
from core.errors import AppError
from delegation import service as delegation_service
from identity.service import STAFF_LOGIN_LEVEL
from signing.uploads import checked_pdf
from web.common import problem_page, to_login
from web.pages import render
from web.staff import AGENCY, NotAtWork, at_work, choose, start_work

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
INBOX_STATES = ("received", "completed")


@router.post("/agency/choose", response_class=HTMLResponse)
async def choose_agency(request: Request) -> Response:
    return await choose(request, AGENCY)


@router.get("/agency", response_class=HTMLResponse)
async def inbox(
    request: Request, status: str = "received", q: str = "", after: str | None = None
) -> Response:
    try:
        me, csrf = await at_work(request, AGENCY)
    except NotAtWork:
        return await start_work(request, AGENCY)
    status = status if status in INBOX_STATES else "received"
    q = q.strip()[:100]

    def load() -> dict[str, Any]:
        with Session(request.app.state.read_engine) as session:
            names = {p.code: p.name for p in agents_service.list_procedures(session)}
            agency = agents_service.get_agency(session, me.agency_code or "")
            page = submissions_service.agency_inbox(
                session, me, status, PER_PAGE + 1, after, query=q or None
            )
            counters = {
                c: agents_service.counter_label(session, c) or c
                for c in {s.counter_id for s in page if s.counter_id}
            }
        return {
            "agency": agency.name,
            "rows": [
                {
                    "id": s.id,
                    "procedure": s.procedure,
                    "procedure_name": names.get(s.procedure, s.procedure),
                    "created_at": s.created_at,
                    "completed_at": s.completed_at,
                    "counter": counters.get(s.counter_id or ""),
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
        me, csrf = await at_work(request, AGENCY)
    except NotAtWork:
        return to_login(request, STAFF_LOGIN_LEVEL)

    def load() -> dict[str, Any]:
        with Session(request.app.state.read_engine) as session:
            s = submissions_service.get_visible(session, me, submission_id)
            names = {p.code: p.name for p in agents_service.list_procedures(session)}
            counter = s.counter_id and (
                agents_service.counter_label(session, s.counter_id) or s.counter_id
            )
            citizen = delegation_service.delegator_name(session, s.delegation_id)
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
            "citizen": citizen,
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
        me, csrf = await at_work(request, AGENCY)
    except NotAtWork:
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
