"""Agents, their counters, agencies and the procedure catalogue."""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from agents.exceptions import (
    AgencyExists,
    AgencyNotFound,
    AgentExists,
    AgentNotFound,
    CounterNotFound,
    InvalidStaff,
    StaffExists,
    StaffNotFound,
    UnknownProcedure,
)
from agents.models import Agency, Agent, Counter, Procedure, StaffMember
from agents.schemas import (
    HANOI_WARDS,
    PROCEDURE_CODE,
    AgencyCreate,
    AgencyStaffCreate,
    AgentCreate,
    CounterCreate,
    CounterStaffCreate,
    StaffOut,
)
from audit import service as audit
from delegation import service as delegation_service
from identity import service as identity_service
from identity.service import NewClient, StaffPlace
from identity.vneid import is_valid_pid


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


def get_counter(session: Session, counter_id: str) -> Counter:
    counter = session.get(Counter, counter_id) if len(counter_id) <= 64 else None
    if counter is None:
        raise CounterNotFound(f"no counter {counter_id!r}")
    return counter


def ward_name(code: str) -> str:
    return HANOI_WARDS.get(code, code)


def counter_label(session: Session, counter_id: str) -> str | None:
    """How a person reads a counter: "Bưu điện Việt Nam: Bưu cục Kiến Hưng (Phường Kiến
    Hưng)"; None for a counter this service does not know (any more)."""
    row = session.execute(
        select(Agent.name, Counter.name, Counter.ward_code)
        .join(Agent, col(Agent.code) == col(Counter.agent_code))
        .where(col(Counter.id) == counter_id)
    ).first()
    return f"{row[0]}: {row[1]} ({ward_name(row[2])})" if row else None


def get_agency(session: Session, code: str) -> Agency:
    agency = session.get(Agency, code) if len(code) <= 64 else None
    if agency is None:
        raise AgencyNotFound(f"no agency with code {code!r}")
    return agency


def list_agencies(session: Session) -> list[Agency]:
    return list(session.exec(select(Agency).order_by(col(Agency.code))))


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

    def __init__(self) -> None:
        # Procedures are added to the catalogue, never taken out: a code once seen stays known,
        # so a grant usually needs no query for it. An unknown code is always looked up.
        self._known_procedures: set[str] = set()

    def agent_status(self, session: Session, code: str) -> str | None:
        if len(code) > 64:
            return None
        return session.execute(select(Agent.status).where(col(Agent.code) == code)).scalar()

    def known_procedures(self, session: Session, codes: list[str]) -> set[str]:
        wanted = set(codes)
        if wanted <= self._known_procedures:
            return wanted
        found = set(session.scalars(select(Procedure.code).where(col(Procedure.code).in_(codes))))
        self._known_procedures |= found
        return found


# -- staff ---------------------------------------------------------------------------------------
def _staff_out(m: StaffMember) -> StaffOut:
    return StaffOut(
        id=m.id,
        kind=m.owner_kind,  # type: ignore[arg-type]
        owner=m.owner_code,
        pid=m.pid,
        name=m.name,
        staff_code=m.staff_code,
        counters=json.loads(m.counters),
        active=m.active,
    )


def create_staff(
    session: Session,
    kind: str,
    owner_code: str,
    data: AgencyStaffCreate | CounterStaffCreate,
    now: datetime,
) -> StaffOut:
    """Register a staff member of an agent (with the counters they work at) or an agency."""
    if not is_valid_pid(data.pid):
        raise InvalidStaff("pid is not a valid 12-digit PID", code="invalid_pid")
    counters: list[str] = []
    if kind == "agent":
        if session.get(Agent, owner_code) is None:
            raise AgentNotFound(f"no agent {owner_code!r}")
        assert isinstance(data, CounterStaffCreate)
        counters = list(dict.fromkeys(data.counters))
        known = set(
            session.scalars(
                select(Counter.id).where(
                    col(Counter.agent_code) == owner_code, col(Counter.id).in_(counters)
                )
            )
        )
        unknown = [c for c in counters if c not in known]
        if unknown:
            raise InvalidStaff(
                f"not counters of {owner_code}: {', '.join(unknown[:5])}", code="unknown_counter"
            )
    elif session.get(Agency, owner_code) is None:
        raise AgencyNotFound(f"no agency {owner_code!r}")
    clash = session.scalars(
        select(StaffMember).where(
            col(StaffMember.owner_kind) == kind,
            col(StaffMember.owner_code) == owner_code,
            (col(StaffMember.staff_code) == data.staff_code) | (col(StaffMember.pid) == data.pid),
        )
    ).first()
    if clash is not None:
        if not clash.active and (clash.pid, clash.staff_code) == (data.pid, data.staff_code):
            # the same person back under the same staff code: registered again, reactivated
            clash.name, clash.counters = data.name, json.dumps(counters)
            return _set_staff_active(session, clash, True, now)
        raise StaffExists(f"{owner_code} already has this staff code or this person")
    member = StaffMember(
        id="stf_" + secrets.token_hex(10),
        owner_kind=kind,
        owner_code=owner_code,
        pid=data.pid,
        name=data.name,
        staff_code=data.staff_code,
        counters=json.dumps(counters),
        created_at=now,
    )
    session.add(member)
    try:
        session.flush()
    except IntegrityError:  # registered at the same moment by another request
        session.rollback()
        raise StaffExists(f"{owner_code} already has this staff code or this person") from None
    audit.record(
        session,
        "staff.registered",
        actor="admin",
        subjects=[data.pid],
        ref=owner_code,
        data={"kind": kind, "owner": owner_code, "staff_code": data.staff_code},
        now=now,
    )
    return _staff_out(member)


def set_staff_active(
    session: Session, kind: str, owner_code: str, staff_code: str, active: bool, now: datetime
) -> StaffOut:
    """Deactivate (their tokens and sessions stop at once) or reactivate a staff member."""
    member = session.scalars(
        select(StaffMember).where(
            col(StaffMember.owner_kind) == kind,
            col(StaffMember.owner_code) == owner_code,
            col(StaffMember.staff_code) == staff_code,
        )
    ).first()
    if member is None:
        raise StaffNotFound(f"{owner_code} has no staff member {staff_code!r}")
    return _set_staff_active(session, member, active, now)


def _set_staff_active(
    session: Session, member: StaffMember, active: bool, now: datetime
) -> StaffOut:
    if member.active != active:
        member.active = active
        member.deactivated_at = None if active else now
        session.add(member)
        session.flush()
        audit.record(
            session,
            "staff.reactivated" if active else "staff.deactivated",
            actor="admin",
            subjects=[member.pid],
            ref=member.owner_code,
            data={
                "kind": member.owner_kind,
                "owner": member.owner_code,
                "staff_code": member.staff_code,
            },
            now=now,
        )
    return _staff_out(member)


class StaffRoster:
    """Identity's view of staff (identity.service.StaffDirectory): who may act for a counter or
    an agency, and whether a staff member is still active."""

    def staff_for(
        self,
        session: Session | Connection,
        kind: str,
        owner_code: str,
        counter_id: str | None,
        pid: str,
    ) -> tuple[str, str] | None:
        member = session.execute(
            select(StaffMember.staff_code, StaffMember.name, StaffMember.counters).where(
                col(StaffMember.owner_kind) == kind,
                col(StaffMember.owner_code) == owner_code,
                col(StaffMember.pid) == pid,
                col(StaffMember.active).is_(True),
            )
        ).first()
        if member is None:
            return None
        if kind == "agent" and counter_id not in json.loads(member.counters):
            return None
        return member.staff_code, member.name

    def places(self, session: Session | Connection, pid: str) -> list[StaffPlace]:
        """Every counter and agency where this person is active staff, in a stable order."""
        members = session.execute(
            select(StaffMember)
            .where(col(StaffMember.pid) == pid, col(StaffMember.active).is_(True))
            .order_by(col(StaffMember.owner_kind), col(StaffMember.owner_code))
        ).scalars()
        found: list[StaffPlace] = []
        for m in list(members):
            if m.owner_kind == "agency":
                agency = session.execute(select(Agency).where(col(Agency.code) == m.owner_code))
                name = agency.scalar_one().name
                found.append(
                    StaffPlace(
                        "agency",
                        m.owner_code,
                        name,
                        None,
                        None,
                        None,
                        m.owner_code,
                        m.staff_code,
                        m.name,
                    )
                )
                continue
            rows = session.execute(
                select(Counter, Agent.name)
                .join(Agent, col(Agent.code) == col(Counter.agent_code))
                .where(
                    col(Counter.agent_code) == m.owner_code,
                    col(Counter.id).in_(json.loads(m.counters)),
                )
                .order_by(col(Counter.name), col(Counter.id))
            ).all()
            for counter, agent_name in rows:
                found.append(
                    StaffPlace(
                        "agent",
                        m.owner_code,
                        agent_name,
                        counter.id,
                        counter.name,
                        counter.ward_code,
                        counter.client_id,
                        m.staff_code,
                        m.name,
                    )
                )
        return found

    def owner_active(self, session: Session | Connection, kind: str, owner_code: str) -> bool:
        if kind == "agency":  # agencies are not suspended; one that exists may act
            found = session.execute(select(Agency.code).where(col(Agency.code) == owner_code))
            return found.first() is not None
        status = session.execute(
            select(Agent.status).where(col(Agent.code) == owner_code)
        ).scalar_one_or_none()
        return status == "active"

    def is_active(
        self, session: Session | Connection, kind: str, owner_code: str, staff_code: str
    ) -> bool:
        return (
            session.execute(
                select(StaffMember.id).where(
                    col(StaffMember.owner_kind) == kind,
                    col(StaffMember.owner_code) == owner_code,
                    col(StaffMember.staff_code) == staff_code,
                    col(StaffMember.active).is_(True),
                )
            ).first()
            is not None
        )
