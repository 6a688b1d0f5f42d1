from __future__ import annotations

import io
import json
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Depends, File, Header, Path, Query, Request, Response, UploadFile
from sqlmodel import Session

from agents import requests, service, submissions
from agents.models import AuthorizationRequest, Submission
from agents.schemas import (
    ORG_CODE,
    STAFF_CODE,
    AgencyCreate,
    AgencyCreated,
    AgencyStaffCreate,
    AgentCreate,
    AgentOut,
    ClientCreated,
    CounterCreate,
    CounterCreated,
    CounterStaffCreate,
    ProcedureOut,
    RequestCreate,
    RequestForCitizen,
    RequestOut,
    StaffOut,
    SubmissionCreate,
    SubmissionCreated,
    SubmissionOut,
    UseOut,
)
from core.auth import Principal, require_admin, require_kind
from core.clock import utcnow
from core.concurrency import run_blocking
from core.db import get_read_session, get_session
from core.http import client_address
from delegation import service as delegation_service
from delegation.schemas import DelegationOut
from signing.uploads import checked_pdf

router = APIRouter(tags=["administration"])
admin = [Depends(require_admin)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
Code = Annotated[str, Path(pattern=ORG_CODE)]


@router.post("/v1/agents", status_code=201, response_model=AgentOut, dependencies=admin)
def create_agent(body: AgentCreate, session: SessionDep) -> AgentOut:
    """Register an agent organization."""
    agent = service.create_agent(session, body, utcnow())
    session.commit()
    return AgentOut.model_validate(agent, from_attributes=True)


@router.get("/v1/agents", response_model=list[AgentOut], dependencies=admin)
def list_agents(session: ReadSessionDep) -> list[AgentOut]:
    """Every agent organization."""
    return [AgentOut.model_validate(a, from_attributes=True) for a in service.list_agents(session)]


@router.post(
    "/v1/agents/{code}/counters", status_code=201, response_model=CounterCreated, dependencies=admin
)
def create_counter(code: Code, body: CounterCreate, session: SessionDep) -> CounterCreated:
    """Open a counter of an agent and issue its client credential (the secret is shown once)."""
    counter, client = service.create_counter(session, code, body, utcnow())
    session.commit()
    return CounterCreated(
        id=counter.id,
        agent=counter.agent_code,
        name=counter.name,
        ward_code=counter.ward_code,
        client_id=client.client_id,
        client_secret=client.client_secret,
    )


@router.post("/v1/agents/{code}/suspend", response_model=AgentOut, dependencies=admin)
def suspend_agent(code: Code, session: SessionDep) -> AgentOut:
    """Suspend an agent: its counters can no longer log in or act."""
    agent = service.set_agent_status(session, code, "suspended")
    session.commit()
    return AgentOut.model_validate(agent, from_attributes=True)


@router.post("/v1/agents/{code}/reinstate", response_model=AgentOut, dependencies=admin)
def reinstate_agent(code: Code, session: SessionDep) -> AgentOut:
    """Lift an agent's suspension."""
    agent = service.set_agent_status(session, code, "active")
    session.commit()
    return AgentOut.model_validate(agent, from_attributes=True)


@router.post("/v1/agencies", status_code=201, response_model=AgencyCreated, dependencies=admin)
def create_agency(body: AgencyCreate, session: SessionDep, request: Request) -> AgencyCreated:
    """Register an agency, move the listed procedures to it, and issue its client credential."""
    agency, procedures, client = service.create_agency(session, body, utcnow())
    request.app.state.signing.issue_identity(session, agency.code, agency.name)
    session.commit()
    return AgencyCreated(
        code=agency.code,
        name=agency.name,
        procedures=procedures,
        client_id=client.client_id,
        client_secret=client.client_secret,
    )


@router.post(
    "/v1/agencies/{code}/clients", status_code=201, response_model=ClientCreated, dependencies=admin
)
def create_agency_client(code: Code, session: SessionDep) -> ClientCreated:
    """Issue another client credential for an existing agency."""
    client = service.create_agency_client(session, code, utcnow())
    session.commit()
    return ClientCreated(
        agency=code, client_id=client.client_id, client_secret=client.client_secret
    )


@router.get("/v1/procedures", response_model=list[ProcedureOut], tags=["catalogue"])
def list_procedures(session: ReadSessionDep) -> list[ProcedureOut]:
    """The procedure catalogue, each with the code of the agency that handles it."""
    return [
        ProcedureOut(code=p.code, name=p.name, agency=p.agency_code)
        for p in service.list_procedures(session)
    ]


# -- submissions -------------------------------------------------------------------------------
Delegate = Annotated[Principal, Depends(require_kind("agent", "citizen"))]
AnyParty = Annotated[Principal, Depends(require_kind("agent", "citizen", "agency"))]
AgencyCaller = Annotated[Principal, Depends(require_kind("agency"))]
Citizen = Annotated[Principal, Depends(require_kind("citizen"))]


def _delegate(s: Submission) -> dict[str, str]:
    return {
        "type": s.delegate_type,
        "code" if s.delegate_type == "agent" else "pid": s.delegate_ref,
    }


def _submission_json(s: Submission) -> bytes:
    """A submission as JSON, its dossier spliced in as stored (canonical JSON, written by us):
    a read never re-parses or re-serializes what a caller sent, so no dossier can break it."""
    head = SubmissionOut(
        id=s.id,
        status=s.status,  # type: ignore[arg-type]
        delegation=s.delegation_id,
        procedure=s.procedure,
        agency=s.agency_code,
        delegator=s.delegator_pid,
        delegate=_delegate(s),
        operator=s.operator,
        act=submissions.act_of(s.counter_id, s.operator, s.operator_authenticated),
        dossier=None,
        dossier_sha256=s.dossier_sha256,
        receipt=s.receipt,
        created_at=s.created_at,
        completed_at=s.completed_at,
    ).model_dump_json(exclude={"dossier"})
    return f'{head[:-1]},"dossier":{s.dossier}}}'.encode()


@router.post(
    "/v1/submissions", status_code=201, response_model=SubmissionCreated, tags=["submissions"]
)
async def submit(
    body: SubmissionCreate,
    principal: Delegate,
    session: SessionDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """File a dossier under a delegation (agent counter or person delegate); consumes one use."""
    state = request.app.state

    def submitted() -> Response:
        status, answer = submissions.file_and_commit(
            session,
            state.keyring,
            state.delegation_config,
            principal,
            body,
            idempotency_key,
            utcnow(),
        )
        return Response(answer, status_code=status, media_type="application/json")

    return await run_blocking(submitted)


@router.get("/v1/submissions/{submission_id}", response_model=SubmissionOut, tags=["submissions"])
def get_submission(submission_id: str, principal: AnyParty, session: ReadSessionDep) -> Response:
    """One submission: for the submitting delegate, the delegator and the responsible agency."""
    found = submissions.get_visible(session, principal, submission_id)
    return Response(_submission_json(found), media_type="application/json")


@router.get("/v1/agency/submissions", response_model=list[SubmissionOut], tags=["submissions"])
def agency_inbox(
    principal: AgencyCaller,
    session: ReadSessionDep,
    request: Request,
    status: Literal["received", "completed"] = "received",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        str | None, Query(max_length=40, description="the last id of the previous page")
    ] = None,
) -> Response:
    """The agency's inbox, oldest first, a page at a time: when the page is full, the `Link`
    header (rel="next") gives the next one."""
    page = submissions.agency_inbox(session, principal, status, limit, after)
    headers = {}
    if len(page) == limit:
        following = request.url.include_query_params(after=page[-1].id)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    body = b"[" + b",".join(_submission_json(s) for s in page) + b"]"
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/v1/delegations/{delegation_id}/uses", response_model=list[UseOut], tags=["delegations"]
)
def delegation_uses(
    delegation_id: str, principal: Citizen, session: ReadSessionDep
) -> list[UseOut]:
    """Every submission made under a delegation (its delegator)."""
    return [
        UseOut(
            submission=s.id,
            procedure=s.procedure,
            agency=s.agency_code,
            delegate=_delegate(s),
            operator=s.operator,
            act=submissions.act_of(s.counter_id, s.operator, s.operator_authenticated),
            status=s.status,
            dossier_sha256=s.dossier_sha256,  # type: ignore[arg-type]
            created_at=s.created_at,
        )
        for s in submissions.uses_of(session, principal, delegation_id)
    ]


@router.post("/v1/submissions/{submission_id}/result", status_code=201, tags=["submissions"])
def post_result(
    submission_id: str,
    principal: AgencyCaller,
    session: SessionDep,
    request: Request,
    file: Annotated[UploadFile, File(description="The result document (PDF)")],
) -> dict[str, str]:
    """The responsible agency posts its result; the service signs it (PAdES B-LTA) with the
    agency's certificate and the submission becomes completed."""
    pdf = checked_pdf(file, request.app.state.settings.max_upload_bytes)
    result = submissions.attach_result(
        session, request.app.state.signing, principal, submission_id, pdf, utcnow()
    )
    session.commit()
    return {
        "submission": submission_id,
        "status": "completed",
        "sha256": result.sha256,
        "level": result.level,
        "result": f"/v1/submissions/{submission_id}/result.pdf",
    }


@router.get(
    "/v1/submissions/{submission_id}/result.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    tags=["submissions"],
)
def get_result(submission_id: str, principal: AnyParty, session: ReadSessionDep) -> Response:
    """The signed result document (delegator, delegate, agency)."""
    result = submissions.result_of(session, principal, submission_id)
    return Response(
        result.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{submission_id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


# -- counter-initiated authorization requests --------------------------------------------------
CounterCaller = Annotated[Principal, Depends(require_kind("agent"))]


def _request_out(request: Request, session: Session, r: AuthorizationRequest) -> RequestOut:
    config: requests.RequestConfig = request.app.state.requests
    code = requests.code_of(config, r)
    return RequestOut(
        id=r.id,
        status=requests.status_of(r, utcnow()),  # type: ignore[arg-type]
        code=code,
        approve_url=config.approve_url(code),
        agent=r.agent_code,
        counter=r.counter_id,
        staff_code=r.staff_code,
        procedures=json.loads(r.procedures),
        max_uses=r.max_uses,
        valid_until=r.valid_until,
        purpose=r.purpose,
        delegator_pid=r.delegator_pid,
        created_at=r.created_at,
        expires_at=r.expires_at,
        delegation_id=r.delegation_id,
        delegation_token=requests.delegation_token(session, r),
    )


def _for_citizen(session: Session, r: AuthorizationRequest, code: str) -> RequestForCitizen:
    return RequestForCitizen(
        code=code.upper(),
        status=requests.status_of(r, utcnow()),  # type: ignore[arg-type]
        staff_code=r.staff_code,
        max_uses=r.max_uses,
        valid_until=r.valid_until,
        purpose=r.purpose,
        expires_at=r.expires_at,
        **requests.shown_to_citizen(session, r),
    )


@router.post(
    "/v1/authorization-requests",
    status_code=201,
    response_model=RequestOut,
    tags=["authorization requests"],
)
def create_request(
    body: RequestCreate, principal: CounterCaller, session: SessionDep, request: Request
) -> RequestOut:
    """A counter asks a citizen for a delegation; the citizen approves at `approve_url`."""
    state = request.app.state
    r, _ = requests.create(
        session, state.requests, state.delegation_config, state.directory, principal, body, utcnow()
    )
    session.commit()
    return _request_out(request, session, r)


@router.get(
    "/v1/authorization-requests/by-code/{code}",
    response_model=RequestForCitizen,
    tags=["authorization requests"],
)
def request_by_code(
    code: Annotated[str, Path(max_length=16)],
    principal: Citizen,
    session: SessionDep,
    request: Request,
) -> RequestForCitizen:
    """What is asked and by whom, for the citizen (lookups are throttled)."""
    r = requests.lookup(
        session,
        request.app.state.requests,
        principal,
        code,
        utcnow(),
        address=client_address(request),
    )
    session.commit()  # the lookup counts against the citizen
    return _for_citizen(session, r, code)


@router.post(
    "/v1/authorization-requests/by-code/{code}/approve",
    status_code=201,
    response_model=DelegationOut,
    tags=["authorization requests"],
)
async def approve_request(
    code: Annotated[str, Path(max_length=16)],
    principal: Citizen,
    session: SessionDep,
    request: Request,
) -> DelegationOut:
    """Approve (VNeID level 2): the delegation to the requesting agent is granted at once."""
    state = request.app.state

    def approved() -> DelegationOut:
        d = requests.approve(
            session,
            state.requests,
            state.keyring,
            state.delegation_config,
            state.directory,
            principal,
            code,
            utcnow(),
            address=client_address(request),
        )
        session.commit()
        return delegation_service.describe(d, state.delegation_config, utcnow())

    return await run_blocking(approved)


@router.post(
    "/v1/authorization-requests/by-code/{code}/decline",
    response_model=RequestForCitizen,
    tags=["authorization requests"],
)
def decline_request(
    code: Annotated[str, Path(max_length=16)],
    principal: Citizen,
    session: SessionDep,
    request: Request,
) -> RequestForCitizen:
    """Decline: the counter sees `declined`, nothing is granted."""
    r = requests.decline(
        session,
        request.app.state.requests,
        principal,
        code,
        utcnow(),
        address=client_address(request),
    )
    session.commit()
    return _for_citizen(session, r, code)


@router.get(
    "/v1/authorization-requests/{request_id}",
    response_model=RequestOut,
    tags=["authorization requests"],
)
def get_request(
    request_id: Annotated[str, Path(max_length=40)],
    principal: CounterCaller,
    session: ReadSessionDep,
    request: Request,
) -> RequestOut:
    """A request, for the agent that made it: once approved, with the delegation and token."""
    return _request_out(request, session, requests.for_agent(session, principal, request_id))


@router.post(
    "/v1/authorization-requests/{request_id}/cancel",
    response_model=RequestOut,
    tags=["authorization requests"],
)
def cancel_request(
    request_id: Annotated[str, Path(max_length=40)],
    principal: CounterCaller,
    session: SessionDep,
    request: Request,
) -> RequestOut:
    """The counter withdraws a pending request."""
    r = requests.cancel(session, principal, request_id, utcnow())
    session.commit()
    return _request_out(request, session, r)


@router.get(
    "/v1/authorization-requests/{request_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    tags=["authorization requests"],
)
def request_qr(
    request_id: Annotated[str, Path(max_length=40)],
    principal: CounterCaller,
    session: ReadSessionDep,
    request: Request,
) -> Response:
    """A QR code of the approve URL, for the citizen's phone to scan."""
    r = requests.for_agent(session, principal, request_id)
    config = request.app.state.requests
    out = io.BytesIO()
    segno.make_qr(config.approve_url(requests.code_of(config, r)), error="m").save(
        out, kind="svg", scale=6, border=4, title="uyquyen authorization request"
    )
    return Response(
        out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "private, no-store"}
    )


# -- staff ---------------------------------------------------------------------------------------
StaffCode = Annotated[str, Path(pattern=STAFF_CODE)]


@router.post(
    "/v1/agents/{code}/staff", status_code=201, response_model=StaffOut, dependencies=admin
)
def register_counter_staff(code: Code, body: CounterStaffCreate, session: SessionDep) -> StaffOut:
    """Register a person who works at some of an agent's counters."""
    created = service.create_staff(session, "agent", code, body, utcnow())
    session.commit()
    return created


@router.post(
    "/v1/agencies/{code}/staff", status_code=201, response_model=StaffOut, dependencies=admin
)
def register_agency_staff(code: Code, body: AgencyStaffCreate, session: SessionDep) -> StaffOut:
    """Register a person who works at an agency."""
    created = service.create_staff(session, "agency", code, body, utcnow())
    session.commit()
    return created


Switch = Annotated[str, Path(pattern="^(deactivate|reactivate)$")]


@router.post(
    "/v1/agents/{code}/staff/{staff_code}/{action}", response_model=StaffOut, dependencies=admin
)
def switch_counter_staff(
    code: Code, staff_code: StaffCode, action: Switch, session: SessionDep
) -> StaffOut:
    """`deactivate`: that person's staff-bound tokens and sessions stop at once;
    `reactivate`: they may log in again (registering them again does the same)."""
    done = service.set_staff_active(
        session, "agent", code, staff_code, action == "reactivate", utcnow()
    )
    session.commit()
    return done


@router.post(
    "/v1/agencies/{code}/staff/{staff_code}/{action}",
    response_model=StaffOut,
    dependencies=admin,
)
def switch_agency_staff(
    code: Code, staff_code: StaffCode, action: Switch, session: SessionDep
) -> StaffOut:
    """`deactivate`: that person's staff-bound tokens and sessions stop at once;
    `reactivate`: they may log in again (registering them again does the same)."""
    done = service.set_staff_active(
        session, "agency", code, staff_code, action == "reactivate", utcnow()
    )
    session.commit()
    return done
