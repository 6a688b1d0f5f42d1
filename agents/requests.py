"""Counter-initiated authorization requests: the clerk prepares what is needed and shows a QR
code; the citizen reads the request on their own phone and approves it (a delegation to the
requesting agent, granted in the same transaction) or declines it.

Codes are 8 characters of an alphabet without 0/O and 1/I (easy to read aloud): 40 bits, in a
life of 10 minutes, with lookups throttled per citizen, is not guessable. Only a code's hash is
looked up; the code itself is kept sealed for the counter to show again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import bindparam, func, or_, select, update
from sqlmodel import Session, col

from agents.exceptions import (
    LoginNotFresh,
    RequestNotFound,
    RequestState,
    TooManyLookups,
    TooManyOpenRequests,
    TooManyRequestsMade,
)
from agents.models import Agent, AuthorizationRequest, Counter, Procedure
from agents.schemas import RequestCreate
from audit import service as audit
from core.auth import Principal, WrongCallerKind
from delegation import service as delegation_service
from delegation.exceptions import InsufficientAssurance, InvalidGrant
from delegation.ports import Directory
from delegation.schemas import DelegationCreate
from delegation.service import Delegation
from identity.throttle import LoginThrottle, Throttled
from identity.vneid import is_valid_pid
from signing.keyring import Keyring

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, no 1/I
CODE_LENGTH = 8
# Approving grants a mandate: a phone left logged in must not approve for someone else, so the
# level-2 login must be this recent, on the page and the API alike (bearer tokens carry the ID
# token's auth_time).
FRESH_LOGIN = timedelta(minutes=5)


@dataclass
class RequestConfig:
    ttl: timedelta
    max_open: int
    public_url: str
    sealer: Fernet
    # Code lookups per citizen and per address (loose: a shared NAT), sliding over a minute;
    # requests made per counter and per citizen asked, sliding over an hour.
    lookups: LoginThrottle
    creations: LoginThrottle

    def approve_url(self, code: str) -> str:
        return f"{self.public_url}/r/{code}"


def normalized_code(code: str) -> str:
    """A code as people type it from the counter's screen ("tdyr x7k2", "TDYR-X7K2"): case,
    spaces, dashes and anything else that is not a letter or digit do not matter (so a typed
    code never puts a slash or a dot into an address made from it)."""
    return "".join(c for c in code.upper() if c.isascii() and c.isalnum())[:64]


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalized_code(code).encode()).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def login_is_fresh(principal: Principal, now: datetime) -> bool:
    """A level-2 login at most FRESH_LOGIN old (and not dated in the future)."""
    if (principal.loa or 0) < 2 or principal.auth_time is None:
        return False
    age = now.timestamp() - principal.auth_time
    return -60 <= age <= FRESH_LOGIN.total_seconds()


def status_of(r: AuthorizationRequest, now: datetime) -> str:
    if r.status == "pending" and now >= r.expires_at:
        return "expired"
    return r.status


def code_of(config: RequestConfig, r: AuthorizationRequest) -> str:
    return config.sealer.decrypt(r.code_sealed.encode()).decode()


def _record(
    session: Session, kind: str, actor: str, r: AuthorizationRequest, now: datetime, **data: Any
) -> None:
    subjects = [r.delegator_pid, r.decided_by]
    audit.record(
        session,
        f"authorization_request.{kind}",
        actor=actor,
        subjects=subjects,
        ref=r.id,
        data={"request": r.id, "agent": r.agent_code, "counter": r.counter_id, **data},
        now=now,
    )


def create(
    session: Session,
    config: RequestConfig,
    delegation_config: delegation_service.DelegationConfig,
    directory: Directory,
    principal: Principal,
    body: RequestCreate,
    now: datetime,
) -> tuple[AuthorizationRequest, str]:
    if principal.kind != "agent" or not principal.agent_code or not principal.counter_id:
        raise WrongCallerKind("authorization requests are made by agent counters")
    if body.delegator_pid is not None and not is_valid_pid(body.delegator_pid):
        raise InvalidGrant("delegator_pid is not a valid 12-digit PID", code="invalid_delegator")
    procedures, _, valid_until = delegation_service.check_terms(
        session,
        delegation_config,
        directory,
        body.procedures,
        None,
        body.valid_until,
        body.max_uses,
        now,
    )
    open_now = session.scalar(
        select(func.count())
        .select_from(AuthorizationRequest)
        .where(
            col(AuthorizationRequest.counter_id) == principal.counter_id,
            col(AuthorizationRequest.status) == "pending",
            col(AuthorizationRequest.expires_at) > now,
        )
    )
    # Open requests are capped, and so is the pace: create-and-cancel in a loop against one
    # citizen would otherwise fill their activity with another's requests.
    keys = [f"request_counter:{principal.counter_id}"]
    if body.delegator_pid is not None:
        keys.append(f"request_citizen:{body.delegator_pid}")
    ts = now.timestamp()
    try:
        config.creations.check(config.creations.read(session, keys, ts), ts)
    except Throttled as exc:
        raise TooManyRequestsMade(
            "too many requests made lately from this counter, or for this citizen; "
            f"try again in {exc.retry_after_s} s",
            retry_after_s=exc.retry_after_s,
        ) from None
    config.creations.fail(session, keys, ts)
    if (open_now or 0) >= config.max_open:
        raise TooManyOpenRequests(
            f"this counter has {open_now} open requests; cancel one or wait for them to end",
            retry_after_s=60,
        )
    code = new_code()
    r = AuthorizationRequest(
        id="arq_" + secrets.token_hex(12),
        code_hash=_code_hash(code),
        code_sealed=config.sealer.encrypt(code.encode()).decode(),
        agent_code=principal.agent_code,
        counter_id=principal.counter_id,
        staff_code=principal.staff_code,  # who asks, for the citizen to see
        procedures=json.dumps(procedures),
        max_uses=body.max_uses,
        valid_until=valid_until,
        purpose=body.purpose,
        delegator_pid=body.delegator_pid,
        status="pending",
        created_at=now,
        expires_at=now + config.ttl,
    )
    session.add(r)
    session.flush()
    _record(session, "created", f"agent:{principal.subject}", r, now, procedures=procedures)
    return r, code


def for_agent(session: Session, principal: Principal, request_id: str) -> AuthorizationRequest:
    """A request, for the agent that made it (any of its counters); others get 404."""
    r = session.get(AuthorizationRequest, request_id) if len(request_id) <= 40 else None
    if r is None or principal.kind != "agent" or r.agent_code != principal.agent_code:
        raise RequestNotFound(f"no authorization request {request_id!r} for this caller")
    return r


def _claim(session: Session, where: Any, to: str, now: datetime, **values: Any) -> bool:
    """Move a pending, unexpired request to `to`: one statement, so that of two concurrent
    approvals (or an approval and a cancel) exactly one wins."""
    done = session.execute(
        update(AuthorizationRequest)
        .where(
            where,
            col(AuthorizationRequest.status) == "pending",
            col(AuthorizationRequest.expires_at) > now,
        )
        .values(status=to, decided_at=now, **values)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def _refuse_state(session: Session, r: AuthorizationRequest, actor: str, now: datetime) -> None:
    status = status_of(r, now)
    if status == "expired" and not audit.has_event(session, "authorization_request.expired", r.id):
        _record(session, "expired", actor, r, now)
        session.commit()  # the expiry is on the record even though this call is refused
    raise RequestState(f"the request is {status}", code=status)


def cancel(
    session: Session, principal: Principal, request_id: str, now: datetime
) -> AuthorizationRequest:
    r = for_agent(session, principal, request_id)
    if not _claim(session, col(AuthorizationRequest.id) == r.id, "cancelled", now):
        session.refresh(r)
        _refuse_state(session, r, f"agent:{principal.subject}", now)
    session.refresh(r)
    _record(session, "cancelled", f"agent:{principal.subject}", r, now)
    return r


def _count_lookup(
    session: Session, config: RequestConfig, principal: Principal, now: datetime, address: str
) -> None:
    """Every lookup by code counts against the citizen and the address it comes from (one
    statement each: the count after it), so that neither one account nor many accounts from
    one place can try codes."""
    if principal.kind != "citizen":
        raise WrongCallerKind("requests are read by code by citizens")
    ts = now.timestamp()
    keys = [f"lookup:{principal.subject}", f"lookup_address:{address[:64]}"]
    counts = config.lookups.fail(session, keys, ts)
    try:  # the count includes this lookup: the 11th of a window is refused
        config.lookups.check({k: n - 1 for k, n in counts.items()}, ts)
    except Throttled as exc:
        raise TooManyLookups(
            f"too many codes looked up; try again in {exc.retry_after_s} s",
            retry_after_s=exc.retry_after_s,
        ) from None


def _not_found(session: Session) -> RequestNotFound:
    session.commit()  # a wrong code still counts against the citizen who tried it
    return RequestNotFound("no authorization request with this code for you")


def _by_code(session: Session, principal: Principal, code: str) -> AuthorizationRequest | None:
    found = (
        session.scalars(
            select(AuthorizationRequest).where(
                col(AuthorizationRequest.code_hash) == _code_hash(code)
            )
        ).first()
        if len(code) == CODE_LENGTH
        else None
    )
    if found is None or (
        found.delegator_pid is not None and found.delegator_pid != principal.subject
    ):
        return None
    return found


def lookup(
    session: Session,
    config: RequestConfig,
    principal: Principal,
    code: str,
    now: datetime,
    *,
    address: str,
) -> AuthorizationRequest:
    """A request by its code, for a citizen; lookups are throttled per citizen and per address
    so that nobody can try codes (429 beyond about ten a minute)."""
    _count_lookup(session, config, principal, now, address)
    found = _by_code(session, principal, code)
    if found is None:
        raise _not_found(session)
    return found


def shown_to_citizen(session: Session, r: AuthorizationRequest) -> dict[str, Any]:
    agent = session.get(Agent, r.agent_code)
    counter = session.get(Counter, r.counter_id)
    codes = json.loads(r.procedures)
    names = {
        p.code: p.name
        for p in session.scalars(select(Procedure).where(col(Procedure.code).in_(codes)))
    }
    return {
        "agent": {"code": r.agent_code, "name": agent.name if agent else r.agent_code},
        "counter": {
            "id": r.counter_id,
            "name": counter.name if counter else "",
            "ward_code": counter.ward_code if counter else "",
        },
        "procedures": [{"code": c, "name": names.get(c, c)} for c in codes],
    }


_REQUESTS = AuthorizationRequest.__table__  # type: ignore[attr-defined]
# Approval claims the request by its code in one statement: pending, unexpired, for this citizen
# (or anyone), and names the delegation about to be granted in the same transaction. Of two
# concurrent approvals exactly one gets the row back.
_CLAIM_BY_CODE = (
    update(_REQUESTS)
    .where(
        _REQUESTS.c.code_hash == bindparam("b_hash"),
        _REQUESTS.c.status == "pending",
        _REQUESTS.c.expires_at > bindparam("b_now"),
        or_(_REQUESTS.c.delegator_pid.is_(None), _REQUESTS.c.delegator_pid == bindparam("b_pid")),
    )
    .values(
        status="approved",
        decided_at=bindparam("b_now"),
        decided_by=bindparam("b_pid"),
        delegation_id=bindparam("b_delegation"),
    )
    .returning(*_REQUESTS.columns)
)


def approve(
    session: Session,
    config: RequestConfig,
    keyring: Keyring,
    delegation_config: delegation_service.DelegationConfig,
    directory: Directory,
    principal: Principal,
    code: str,
    now: datetime,
    *,
    address: str,
) -> Delegation:
    """The citizen approves: the request is claimed and the delegation granted, together."""
    _count_lookup(session, config, principal, now, address)
    if principal.loa != 2:
        if _by_code(session, principal, code) is None:
            raise _not_found(session)
        raise InsufficientAssurance("approving needs a VNeID level-2 login")
    if not login_is_fresh(principal, now):
        raise LoginNotFresh("approving needs a VNeID login of the last 5 minutes: log in again")
    delegation_id = delegation_service.new_delegation_id()
    claimed = (
        session.execute(
            _CLAIM_BY_CODE,
            {
                "b_hash": _code_hash(code),
                "b_now": now,
                "b_pid": principal.subject,
                "b_delegation": delegation_id,
            },
        ).first()
        if len(code) == CODE_LENGTH
        else None
    )
    if claimed is None:  # only now read the request, to say why
        found = _by_code(session, principal, code)
        if found is None:
            raise _not_found(session)
        _refuse_state(session, found, f"citizen:{principal.subject}", now)
    r = AuthorizationRequest(**claimed._asdict())  # type: ignore[union-attr]
    terms = DelegationCreate.model_validate(
        {
            "delegate": {"type": "agent", "code": r.agent_code},
            "procedures": json.loads(r.procedures),
            "valid_until": r.valid_until,
            "max_uses": r.max_uses,
            "note": r.purpose,
        }
    )
    d = delegation_service.grant(
        session, keyring, delegation_config, directory, principal, terms, now, delegation_id
    )
    _record(session, "approved", f"citizen:{principal.subject}", r, now, delegation=d.id)
    return d


def decline(
    session: Session,
    config: RequestConfig,
    principal: Principal,
    code: str,
    now: datetime,
    *,
    address: str,
) -> AuthorizationRequest:
    r = lookup(session, config, principal, code, now, address=address)
    if not _claim(
        session, col(AuthorizationRequest.id) == r.id, "declined", now, decided_by=principal.subject
    ):
        session.refresh(r)
        _refuse_state(session, r, f"citizen:{principal.subject}", now)
    session.refresh(r)
    _record(session, "declined", f"citizen:{principal.subject}", r, now)
    return r


def delegation_token(session: Session, r: AuthorizationRequest) -> str | None:
    return delegation_service.token_of(session, r.delegation_id) if r.delegation_id else None
