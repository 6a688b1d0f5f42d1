from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlmodel import Session

from agents import service
from agents.schemas import (
    ORG_CODE,
    AgencyCreate,
    AgencyCreated,
    AgentCreate,
    AgentOut,
    ClientCreated,
    CounterCreate,
    CounterCreated,
    ProcedureOut,
)
from core.clock import utcnow
from core.db import get_read_session, get_session
from identity.dependencies import require_admin

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
        id=counter.id, agent=counter.agent_code, name=counter.name, ward_code=counter.ward_code,
        client_id=client.client_id, client_secret=client.client_secret,
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
def create_agency(body: AgencyCreate, session: SessionDep) -> AgencyCreated:
    """Register an agency, move the listed procedures to it, and issue its client credential."""
    agency, procedures, client = service.create_agency(session, body, utcnow())
    session.commit()
    return AgencyCreated(
        code=agency.code, name=agency.name, procedures=procedures,
        client_id=client.client_id, client_secret=client.client_secret,
    )


@router.post(
    "/v1/agencies/{code}/clients", status_code=201, response_model=ClientCreated, dependencies=admin
)
def create_agency_client(code: Code, session: SessionDep) -> ClientCreated:
    """Issue another client credential for an existing agency."""
    client = service.create_agency_client(session, code, utcnow())
    session.commit()
    return ClientCreated(agency=code, client_id=client.client_id, client_secret=client.client_secret)


@router.get("/v1/procedures", response_model=list[ProcedureOut], tags=["catalogue"])
def list_procedures(session: ReadSessionDep) -> list[ProcedureOut]:
    """The procedure catalogue, each with the code of the agency that handles it."""
    return [
        ProcedureOut(code=p.code, name=p.name, agency=p.agency_code)
        for p in service.list_procedures(session)
    ]
