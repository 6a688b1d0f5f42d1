"""Agents, their counters, agencies and the procedure catalogue."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from agents.exceptions import (
    AgencyExists,
    AgencyNotFound,
    AgentExists,
    AgentNotFound,
    UnknownProcedure,
)
from agents.models import Agency, Agent, Counter, Procedure
from agents.schemas import PROCEDURE_CODE, AgencyCreate, AgentCreate, CounterCreate
from audit import service as audit
from delegation import service as delegation_service
from identity import service as identity_service
from identity.service import NewClient


def create_agent(session: Session, data: AgentCreate, now: datetime) -> Agent:
    agent = Agent(code=data.code, name=data.name, kind=data.kind, created_at=now)
    try:
        with session.begin_nested():
            session.add(agent)
    except IntegrityError:
        raise AgentExists(f"agent {data.code} already exists") from None
    audit.record(
        session,
        "admin.agent_created",
        actor="admin",
        ref=agent.code,
        data={"agent": agent.code, "kind": agent.kind},
        now=now,
    )
    return agent


def get_agent(session: Session, code: str) -> Agent:
    agent = session.get(Agent, code)
    if agent is None:
        raise AgentNotFound(f"no agent with code {code!r}")
    return agent


def list_agents(session: Session) -> list[Agent]:
    return list(session.exec(select(Agent).order_by(col(Agent.code))))


def create_counter(
    session: Session, agent_code: str, data: CounterCreate, now: datetime
) -> tuple[Counter, NewClient]:
    agent = get_agent(session, agent_code)
    counter_id = "ctr-" + secrets.token_hex(8)
    client = identity_service.create_client(
        session, "agent", agent.code, now, counter_id=counter_id
    )
    counter = Counter(
        id=counter_id,
        agent_code=agent.code,
        name=data.name,
        ward_code=data.ward_code,
        client_id=client.client_id,
        created_at=now,
    )
    session.add(counter)
    if agent.status == "suspended":
        identity_service.set_owner_clients_disabled(session, "agent", agent.code, True)
    session.flush()
    audit.record(
        session,
        "admin.counter_created",
        actor="admin",
        ref=agent.code,
        data={"agent": agent.code, "counter": counter.id, "client_id": client.client_id},
        now=now,
    )
    return counter, client


def set_agent_status(session: Session, code: str, status: str) -> Agent:
    """Suspend or reinstate: the agent's counters lose (or regain) their credentials at once."""
    agent = get_agent(session, code)
    agent.status = status
    session.add(agent)
    identity_service.set_owner_clients_disabled(session, "agent", code, status == "suspended")
    delegation_service.set_agent_suspended(session, code, status == "suspended")
    session.flush()
    audit.record(
        session,
        f"agent.{'suspended' if status == 'suspended' else 'reinstated'}",
        actor="admin",
        ref=code,
        data={"agent": code},
    )
    return agent


def create_agency(
    session: Session, data: AgencyCreate, now: datetime
) -> tuple[Agency, list[str], NewClient]:
    codes = list(dict.fromkeys(data.procedures))  # keep order, drop repeats
    bad = [c for c in codes if not re.fullmatch(PROCEDURE_CODE, c)]
    procedures = (
        list(session.exec(select(Procedure).where(col(Procedure.code).in_(codes)))) if codes else []
    )
    unknown = bad or sorted(set(codes) - {p.code for p in procedures})
    if unknown:
        raise UnknownProcedure(
            f"not in the catalogue: {', '.join(unknown[:10])}", procedures=unknown[:50]
        )
    agency = Agency(code=data.code, name=data.name, created_at=now)
    try:
        with session.begin_nested():
            session.add(agency)
    except IntegrityError:
        raise AgencyExists(f"agency {data.code} already exists") from None
    for procedure in procedures:  # listing a procedure moves it to this agency
        procedure.agency_code = agency.code
        session.add(procedure)
    client = identity_service.create_client(session, "agency", agency.code, now)
    audit.record(
        session,
        "admin.agency_created",
        actor="admin",
        ref=agency.code,
        data={"agency": agency.code, "procedures": codes, "client_id": client.client_id},
        now=now,
    )
    return agency, codes, client


def create_agency_client(session: Session, code: str, now: datetime) -> NewClient:
    if session.get(Agency, code) is None:
        raise AgencyNotFound(f"no agency with code {code!r}")
    client = identity_service.create_client(session, "agency", code, now)
    audit.record(
        session,
        "admin.client_created",
        actor="admin",
        ref=code,
        data={"agency": code, "client_id": client.client_id},
        now=now,
    )
    return client


def list_procedures(session: Session) -> list[Procedure]:
    return list(session.exec(select(Procedure).order_by(col(Procedure.code))))


class CatalogueDirectory:
    """The delegation domain's view of agents and the catalogue (delegation.ports.Directory)."""

    def agent_status(self, session: Session, code: str) -> str | None:
        agent = session.get(Agent, code) if len(code) <= 64 else None
        return agent.status if agent else None

    def known_procedures(self, session: Session, codes: list[str]) -> set[str]:
        if not codes:
            return set()
        return set(session.scalars(select(Procedure.code).where(col(Procedure.code).in_(codes))))
