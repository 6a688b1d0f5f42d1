from __future__ import annotations

import hashlib
import io
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Session

from core.auth import Principal, require_kind
from core.clock import utcnow
from core.concurrency import run_blocking
from core.db import DB_INT_MAX, get_read_session, get_session
from core.errors import NotFound
from delegation import service
from delegation.models import Delegation
from delegation.schemas import (
    DelegationCreate,
    DelegationOut,
    VerifyRequest,
    VerifyResult,
)

router = APIRouter(tags=["delegations"])
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
Citizen = Annotated[Principal, Depends(require_kind("citizen"))]
CitizenOrAgent = Annotated[Principal, Depends(require_kind("citizen", "agent"))]


def to_out(d: Delegation, request: Request) -> DelegationOut:
    return service.describe(d, request.app.state.delegation_config, utcnow())


@router.post("/v1/delegations", status_code=201, response_model=DelegationOut)
async def grant(
    body: DelegationCreate, principal: Citizen, session: SessionDep, request: Request
) -> DelegationOut:
    """Grant a signed delegation (citizen, VNeID level 2)."""
    state = request.app.state

    def granted() -> DelegationOut:
        d = service.grant(
            session,
            state.keyring,
            state.delegation_config,
            state.directory,
            principal,
            body,
            utcnow(),
        )
        session.commit()
        return to_out(d, request)

    return await run_blocking(granted)


@router.get("/v1/delegations", response_model=list[DelegationOut])
def list_delegations(
    principal: CitizenOrAgent,
    session: ReadSessionDep,
    request: Request,
    role: Literal["delegator", "delegate"] = "delegator",
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> list[DelegationOut]:
    """Delegations the caller granted (role=delegator) or received (role=delegate); a counter
    sees those given to its agent, and may find them with `q`: a citizen's PID or part of
    their name (with or without diacritics)."""
    return [to_out(d, request) for d in service.list_visible(session, principal, role, q)]


@router.get("/v1/delegations/{delegation_id}", response_model=DelegationOut)
def get_delegation(
    delegation_id: str, principal: CitizenOrAgent, session: ReadSessionDep, request: Request
) -> DelegationOut:
    """One delegation, for its delegator or delegate."""
    return to_out(service.get_visible(session, principal, delegation_id), request)


@router.post("/v1/delegations/{delegation_id}/accept", response_model=DelegationOut)
def accept(
    delegation_id: str, principal: Citizen, session: SessionDep, request: Request
) -> DelegationOut:
    """The person named as delegate accepts; the delegation becomes active."""
    d = service.accept(session, principal, delegation_id, utcnow())
    session.commit()
    return to_out(d, request)


@router.post("/v1/delegations/{delegation_id}/revoke", response_model=DelegationOut)
def revoke(
    delegation_id: str, principal: Citizen, session: SessionDep, request: Request
) -> DelegationOut:
    """The delegator revokes, effective at once for every later use and verification."""
    d = service.end(session, principal, delegation_id, "revoke", utcnow())
    session.commit()
    return to_out(d, request)


@router.post("/v1/delegations/{delegation_id}/renounce", response_model=DelegationOut)
def renounce(
    delegation_id: str, principal: CitizenOrAgent, session: SessionDep, request: Request
) -> DelegationOut:
    """The delegate gives the delegation up."""
    d = service.end(session, principal, delegation_id, "renounce", utcnow())
    session.commit()
    return to_out(d, request)


@router.get(
    "/v1/delegations/{delegation_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def qr_code(delegation_id: str, principal: CitizenOrAgent, session: ReadSessionDep) -> Response:
    """The delegation token as a QR code, to show at a counter."""
    d = service.get_visible(session, principal, delegation_id)
    out = io.BytesIO()
    segno.make_qr(d.token, error="m").save(
        out, kind="svg", scale=4, border=4, title=f"uyquyen delegation {d.id}"
    )
    return Response(
        out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "private, no-store"}
    )


@router.post(
    "/v1/delegations/verify", response_model=VerifyResult, response_model_exclude_none=True
)
async def verify(body: VerifyRequest, session: ReadSessionDep, request: Request) -> VerifyResult:
    """Check a delegation token: genuine, and usable now (public)."""
    state = request.app.state
    return await run_blocking(
        service.verify, session, state.keyring, state.delegation_config, body.token, utcnow()
    )


@router.get(
    "/v1/status-lists/{n}",
    response_class=Response,
    tags=["status lists"],
    responses={200: {"content": {"application/statuslist+jwt": {}}}},
)
def status_list(
    n: Annotated[int, Path(ge=0, le=DB_INT_MAX)], request: Request, session: ReadSessionDep
) -> Response:
    """A signed Token Status List (2 bits per delegation: 0 valid, 1 invalid, 2 suspended)."""
    publisher: service.StatusListPublisher = request.app.state.status_lists
    found = publisher.token(session, n, utcnow()) if 1 <= n <= 1_000_000 else None
    if found is None:
        raise NotFound(f"no status list {n}", code="status_list_not_found")
    token, _version = found
    etag = '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"'
    ttl = request.app.state.delegation_config.status_list_ttl_s
    headers = {"Cache-Control": f"public, max-age={ttl}", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(token, media_type="application/statuslist+jwt", headers=headers)
