"""The mandate's rules: grant, accept, revoke, renounce, verify, and consume one use atomically."""

from __future__ import annotations

import json
import secrets
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from audit import service as audit
from core.auth import Principal, WrongCallerKind
from core.db import InsertIfAbsent, UTCDateTime
from core.text import search_key
from delegation import status_list
from delegation.exceptions import (
    DelegationNotFound,
    InsufficientAssurance,
    InvalidDelegation,
    InvalidGrant,
    NotUsable,
    WrongState,
)
from delegation.models import Delegation, StatusList
from delegation.ports import Directory
from delegation.schemas import (
    AgentDelegate,
    DelegationCreate,
    DelegationOut,
    StatusRef,
    VerifyResult,
)
from identity.vneid import is_valid_pid
from signing.keyring import InvalidServiceToken, Keyring

DELEGATION_TYP = "delegation+jwt"
STATUS_LIST_TYP = "statuslist+jwt"
# 65,536 two-bit entries (16 KiB raw) per list; indexes are drawn at random (the draft's advice,
# so that neighbouring indexes say nothing about who granted when) and a list is closed once
# half full, which keeps collisions rare.
LIST_SIZE = 65_536
LIST_FILL = LIST_SIZE // 2
ENDED_STATES = ("revoked", "renounced")


@dataclass(frozen=True)
class DelegationConfig:
    issuer: str  # the public URL
    max_days: int
    clock_skew_s: int
    status_list_ttl_s: int = 60
    status_list_lifetime_s: int = 3600

    def status_list_uri(self, n: int) -> str:
        return f"{self.issuer}/v1/status-lists/{n}"


# -- reading ---------------------------------------------------------------------------------
def effective_status(d: Delegation, now: datetime) -> str:
    if d.state in ("pending", *ENDED_STATES):
        return d.state
    if d.uses >= d.max_uses:
        return "exhausted"
    if now >= d.valid_until:
        return "expired"
    if d.agent_suspended:
        return "suspended"
    return "active"


def usability(d: Delegation, now: datetime) -> str:
    """ "usable" or the 409 code that says why not."""
    status = effective_status(d, now)
    if status != "active":
        return status
    if now < d.valid_from:
        return "not_yet_valid"
    return "usable"


def delegate_of(d: Delegation) -> dict[str, str]:
    if d.delegate_type == "agent":
        return {"type": "agent", "code": d.delegate_code or ""}
    return {"type": "person", "pid": d.delegate_pid or ""}


def is_delegator(principal: Principal, d: Delegation) -> bool:
    return principal.kind == "citizen" and principal.subject == d.delegator_pid


def is_delegate(principal: Principal, d: Delegation) -> bool:
    if d.delegate_type == "agent":
        return principal.kind == "agent" and principal.agent_code == d.delegate_code
    return principal.kind == "citizen" and principal.subject == d.delegate_pid


def describe(d: Delegation, config: DelegationConfig, now: datetime) -> DelegationOut:
    """A delegation as the API answers it (POST /v1/delegations, and a counter's approved
    request)."""
    return DelegationOut(
        id=d.id,
        status=effective_status(d, now),  # type: ignore[arg-type]
        delegator=d.delegator_pid,
        delegate=delegate_of(d),
        procedures=json.loads(d.procedures),
        valid_from=d.valid_from,
        valid_until=d.valid_until,
        max_uses=d.max_uses,
        uses=d.uses,
        uses_left=max(d.max_uses - d.uses, 0),
        note=d.note,
        token=d.token,
        status_list=StatusRef(idx=d.status_list_idx, uri=config.status_list_uri(d.status_list_n)),
        created_at=d.created_at,
        accepted_at=d.accepted_at,
        ended_at=d.ended_at,
    )


def token_of(session: Session, delegation_id: str) -> str | None:
    """The signed token of a delegation (for the counter whose request it answered)."""
    d = session.get(Delegation, delegation_id)
    return d.token if d else None


def delegator_name(session: Session, delegation_id: str) -> str | None:
    """The granter's name as VNeID gave it, for whoever may already see their dossier."""
    d = session.get(Delegation, delegation_id) if len(delegation_id) <= 40 else None
    return d.delegator_name if d else None


def get_visible(session: Session, principal: Principal, delegation_id: str) -> Delegation:
    """The delegation if the caller is its delegator or delegate; otherwise it does not exist."""
    d = session.get(Delegation, delegation_id) if len(delegation_id) <= 40 else None
    if d is None or not (is_delegator(principal, d) or is_delegate(principal, d)):
        raise DelegationNotFound(f"no delegation {delegation_id!r} for this caller")
    return d


def visible_by_id(
    session: Session, principal: Principal, delegation_ids: list[str]
) -> dict[str, Delegation]:
    """Those of these delegations the caller may see, by id (one query, for a page of them)."""
    ids = [i for i in set(delegation_ids) if len(i) <= 40][:500]
    if not ids:
        return {}
    found = session.scalars(select(Delegation).where(col(Delegation.id).in_(ids)))
    return {d.id: d for d in found if is_delegator(principal, d) or is_delegate(principal, d)}


def list_visible(
    session: Session,
    principal: Principal,
    role: str,
    query: str | None = None,
    limit: int = 500,
) -> list[Delegation]:
    """The caller's delegations, newest first. An agent counter may look one up by the
    citizen's PID or by part of their name, typed with or without diacritics."""
    stmt = select(Delegation).order_by(col(Delegation.created_at).desc(), col(Delegation.id))
    if principal.kind == "agent":
        stmt = stmt.where(
            col(Delegation.delegate_type) == "agent",
            col(Delegation.delegate_code) == principal.agent_code,
        )
        wanted = search_key(query or "")[:100]
        if wanted.isdigit():
            stmt = stmt.where(col(Delegation.delegator_pid) == wanted)
        elif wanted:
            escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(col(Delegation.delegator_name_key).like(f"%{escaped}%", escape="\\"))
    elif principal.kind == "citizen":
        if role == "delegate":
            stmt = stmt.where(
                col(Delegation.delegate_type) == "person",
                col(Delegation.delegate_pid) == principal.subject,
            )
        else:
            stmt = stmt.where(col(Delegation.delegator_pid) == principal.subject)
    else:
        raise WrongCallerKind("delegations are listed for citizens and agent counters")
    return list(session.scalars(stmt.limit(limit)))


# -- granting --------------------------------------------------------------------------------
def check_terms(
    session: Session,
    config: DelegationConfig,
    directory: Directory,
    wanted: list[str],
    valid_from: datetime | None,
    valid_until: datetime,
    max_uses: int,
    now: datetime,
) -> tuple[list[str], datetime, datetime]:
    """The terms of a delegation as a grant checks them (procedures in the catalogue, a window
    in the future and not too long, uses), also for a counter's request before it is approved.
    Returns the procedures without repeats and the window in whole seconds."""
    procedures = list(dict.fromkeys(wanted))
    unknown = sorted(set(procedures) - directory.known_procedures(session, procedures))
    if unknown:
        raise InvalidGrant(
            f"not in the catalogue: {', '.join(unknown[:10])}",
            code="unknown_procedure",
            procedures=unknown,
        )

    skew = timedelta(seconds=config.clock_skew_s)
    valid_from = valid_from or now
    if valid_from < now - skew:
        raise InvalidGrant("valid_from is in the past", code="invalid_window")
    if valid_until <= valid_from or valid_until <= now:
        raise InvalidGrant(
            "valid_until must be after valid_from and in the future", code="invalid_window"
        )
    if valid_until - valid_from > timedelta(days=config.max_days):
        raise InvalidGrant(
            f"a delegation lasts at most {config.max_days} days", code="window_too_long"
        )
    if max_uses < 1 or max_uses > 10_000:
        raise InvalidGrant("max_uses must be between 1 and 10000", code="invalid_max_uses")

    # Timestamps are whole seconds, as in the token, so the row and the token agree exactly.
    valid_from = valid_from.replace(microsecond=0)
    valid_until = valid_until.replace(microsecond=0)
    return procedures, valid_from, valid_until


def new_delegation_id() -> str:
    return "dlg_" + secrets.token_hex(12)


def grant(
    session: Session,
    keyring: Keyring,
    config: DelegationConfig,
    directory: Directory,
    principal: Principal,
    data: DelegationCreate,
    now: datetime,
    delegation_id: str | None = None,
) -> Delegation:
    """A citizen's delegation, checked, signed and stored (not yet committed). `delegation_id`
    lets a caller name it beforehand (an approved request records it in the same statement
    that claims the request)."""
    if principal.kind != "citizen":
        raise WrongCallerKind("only a citizen can grant a delegation")
    if principal.loa != 2:
        raise InsufficientAssurance("granting a delegation needs a VNeID level-2 login")

    delegate = data.delegate
    if isinstance(delegate, AgentDelegate):
        status = directory.agent_status(session, delegate.code)
        if status is None:
            raise InvalidGrant(f"no agent with code {delegate.code!r}", code="unknown_agent")
        if status != "active":
            raise InvalidGrant(f"agent {delegate.code} is suspended", code="agent_suspended")
    else:
        if not is_valid_pid(delegate.pid):
            raise InvalidGrant(
                "the delegate's PID is not a valid 12-digit PID", code="invalid_delegate"
            )
        if delegate.pid == principal.subject:
            raise InvalidGrant("a citizen cannot delegate to themself", code="self_delegation")

    procedures, valid_from, valid_until = check_terms(
        session,
        config,
        directory,
        data.procedures,
        data.valid_from,
        data.valid_until,
        data.max_uses,
        now,
    )
    d = Delegation(
        id=delegation_id or new_delegation_id(),
        delegator_pid=principal.subject,
        delegator_name=principal.name,
        delegator_name_key=search_key(principal.name)[:200] if principal.name else None,
        delegate_type=delegate.type,
        delegate_code=delegate.code if isinstance(delegate, AgentDelegate) else None,
        delegate_pid=None if isinstance(delegate, AgentDelegate) else delegate.pid,
        procedures=json.dumps(procedures),
        note=data.note,
        valid_from=valid_from,
        valid_until=valid_until,
        max_uses=data.max_uses,
        state="active" if delegate.type == "agent" else "pending",
        status_list_n=0,
        status_list_idx=0,
        token="",
        created_at=now,
    )
    _insert_in_status_list(session, keyring, config, d, now)
    if d.state == "pending":
        _bump_list(session, d.status_list_n)  # its entry reads PENDING, not the default VALID
    _record(
        session,
        "delegation.granted",
        principal,
        d,
        now,
        {
            "delegate": delegate_of(d),
            "procedures": procedures,
            "max_uses": d.max_uses,
            "valid_from": d.valid_from.isoformat(),
            "valid_until": d.valid_until.isoformat(),
        },
    )
    return d


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.agent_code or principal.subject}"


def _record(
    session: Session,
    kind: str,
    principal: Principal,
    d: Delegation,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """An event about a delegation: it concerns its delegator, and its delegate if a person."""
    audit.record(
        session,
        kind,
        actor=_actor(principal),
        subjects=[d.delegator_pid, d.delegate_pid],
        ref=d.id,
        data={"delegation": d.id, **(data or {})},
        now=now,
    )


def _token_claims(d: Delegation, config: DelegationConfig, now: datetime) -> dict[str, Any]:
    return {
        "iss": config.issuer,
        "jti": d.id,
        "sub": d.delegator_pid,
        "iat": int(now.timestamp()),
        "nbf": int(d.valid_from.timestamp()),
        "exp": int(d.valid_until.timestamp()),
        "delegate": delegate_of(d),
        "procedures": json.loads(d.procedures),
        "max_uses": d.max_uses,
        "status": {
            "status_list": {
                "idx": d.status_list_idx,
                "uri": config.status_list_uri(d.status_list_n),
            }
        },
    }


_DELEGATIONS = Delegation.__table__  # type: ignore[attr-defined]
# One statement per grant: the row, at a random free index of the current list, or nothing if
# that index is taken (then another is drawn). No savepoint, no ORM flush.
_INSERT_DELEGATION = InsertIfAbsent(
    _DELEGATIONS,
    _DELEGATIONS.c.id,
    **{column.name: bindparam(f"d_{column.name}") for column in _DELEGATIONS.columns},
)
LIST_CHECK_EVERY = 256  # grants between two looks at how full the current list is


class _ListCursor:
    """Which status list this process grants into. Counting on a shared row would make every
    grant in every process wait for the previous one's commit; instead each process looks, every
    LIST_CHECK_EVERY grants, at how full the newest list is, and opens the next one when it is
    half full. Processes may overshoot the fill a little before they look again; the unique
    (list, index) constraint keeps every index to one delegation whatever happens."""

    def __init__(self) -> None:
        self.n: int | None = None
        self.since_check = 0
        self.lock = threading.Lock()

    def current(self, session: Session) -> int:
        with self.lock:
            if self.n is not None and self.since_check < LIST_CHECK_EVERY:
                self.since_check += 1
                return self.n
        n = session.scalar(select(func.max(StatusList.n))) or 1
        used = session.scalar(
            select(func.count()).select_from(Delegation).where(col(Delegation.status_list_n) == n)
        )
        if (used or 0) >= LIST_FILL:  # open the next list (another process may beat us)
            _OPEN_LIST(session, {"b_n": n + 1})
            n += 1
        with self.lock:
            self.n, self.since_check = n, 1
        return n


_OPEN_LIST = InsertIfAbsent(
    StatusList.__table__,  # type: ignore[attr-defined]
    StatusList.__table__.c.n,  # type: ignore[attr-defined]
    n=bindparam("b_n"),
    version=0,
)
_CURSORS: weakref.WeakKeyDictionary[Engine, _ListCursor] = weakref.WeakKeyDictionary()
_CURSORS_LOCK = threading.Lock()


def _cursor(session: Session) -> _ListCursor:
    engine = session.get_bind().engine  # type: ignore[union-attr]
    with _CURSORS_LOCK:
        return _CURSORS.setdefault(engine, _ListCursor())


def _insert_in_status_list(
    session: Session, keyring: Keyring, config: DelegationConfig, d: Delegation, now: datetime
) -> None:
    """Insert the delegation at a random free index of the current status list, with its token
    (which names that index) signed before the row is written."""
    d.status_list_n = _cursor(session).current(session)
    for _ in range(32):
        d.status_list_idx = secrets.randbelow(LIST_SIZE)
        d.token = keyring.sign(_token_claims(d, config, now), DELEGATION_TYP)
        row = {f"d_{c.name}": getattr(d, c.name) for c in _DELEGATIONS.columns}
        if _INSERT_DELEGATION(session, row):
            return
    raise RuntimeError("could not find a free status-list index")


# -- lifecycle -------------------------------------------------------------------------------
def _bump_list(session: Session, n: int) -> None:
    session.execute(
        update(StatusList).where(col(StatusList.n) == n).values(version=StatusList.version + 1)
    )


def accept(session: Session, principal: Principal, delegation_id: str, now: datetime) -> Delegation:
    d = get_visible(session, principal, delegation_id)
    if not is_delegate(principal, d) or d.delegate_type != "person":
        raise WrongCallerKind("only the person named as delegate can accept")
    status = effective_status(d, now)
    if status != "pending":
        raise WrongState(f"the delegation is {status}", code=status)
    if now >= d.valid_until:
        raise WrongState("the delegation has expired", code="expired")
    d.state, d.accepted_at = "active", now
    session.add(d)
    _bump_list(session, d.status_list_n)  # PENDING becomes VALID
    session.flush()
    _record(session, "delegation.accepted", principal, d, now)
    return d


def end(
    session: Session, principal: Principal, delegation_id: str, action: str, now: datetime
) -> Delegation:
    """Revoke (the delegator) or renounce (the delegate); effective for every later use."""
    d = get_visible(session, principal, delegation_id)
    allowed = is_delegator(principal, d) if action == "revoke" else is_delegate(principal, d)
    if not allowed:
        who = "delegator" if action == "revoke" else "delegate"
        raise WrongCallerKind(f"only the {who} can {action} a delegation")
    new_state = "revoked" if action == "revoke" else "renounced"
    if d.state == new_state:
        return d  # repeating it changes nothing
    if d.state in ENDED_STATES:
        raise WrongState(f"the delegation is already {d.state}", code=d.state)
    d.state, d.ended_at = new_state, now
    session.add(d)
    _bump_list(session, d.status_list_n)
    session.flush()
    _record(session, f"delegation.{new_state}", principal, d, now)
    return d


def set_agent_suspended(session: Session, agent_code: str, suspended: bool) -> None:
    """Called by agents in the same transaction as the agent's own status change."""
    lists = (
        select(col(Delegation.status_list_n))
        .where(
            col(Delegation.delegate_type) == "agent", col(Delegation.delegate_code) == agent_code
        )
        .distinct()
    )
    session.execute(
        update(StatusList)
        .where(col(StatusList.n).in_(lists))
        .values(version=StatusList.version + 1)
    )
    session.execute(
        update(Delegation)
        .where(
            col(Delegation.delegate_type) == "agent", col(Delegation.delegate_code) == agent_code
        )
        .values(agent_suspended=suspended)
        .execution_options(synchronize_session=False)
    )


# -- tokens and use --------------------------------------------------------------------------
def genuine_claims(keyring: Keyring, config: DelegationConfig, token: str) -> dict[str, Any]:
    """Claims of a delegation token this service signed; the time window is checked on use."""
    try:
        claims = keyring.verify(token, DELEGATION_TYP)
    except InvalidServiceToken as exc:
        raise InvalidDelegation(f"not a genuine delegation token: {exc}") from None
    if claims.get("iss") != config.issuer or not isinstance(claims.get("jti"), str):
        raise InvalidDelegation("not a delegation issued by this service")
    if not isinstance(claims.get("delegate"), dict) or not isinstance(
        claims.get("procedures"), list
    ):
        raise InvalidDelegation("delegation token without delegate or procedures")
    return claims


@dataclass(frozen=True)
class UseTaken:
    """What a caller needs of the delegation whose use it just took."""

    id: str
    delegator_pid: str
    uses: int
    max_uses: int


_DELEGATIONS = Delegation.__table__  # type: ignore[attr-defined]
_NOW = bindparam("now", type_=UTCDateTime)
# Built once: this runs on every submission, and building the expression per call costs more
# CPU than the round trip.
_TAKE_USE = (
    update(_DELEGATIONS)
    .where(
        _DELEGATIONS.c.id == bindparam("delegation_id"),
        _DELEGATIONS.c.state == "active",
        _DELEGATIONS.c.uses < _DELEGATIONS.c.max_uses,
        _DELEGATIONS.c.valid_from <= _NOW,
        _DELEGATIONS.c.valid_until > _NOW,
        _DELEGATIONS.c.agent_suspended.is_(False),
    )
    .values(uses=_DELEGATIONS.c.uses + 1)
    .returning(
        _DELEGATIONS.c.id,
        _DELEGATIONS.c.delegator_pid,
        _DELEGATIONS.c.uses,
        _DELEGATIONS.c.max_uses,
        _DELEGATIONS.c.status_list_n,
    )
)


def consume_use(session: Session, delegation_id: str, now: datetime) -> UseTaken:
    """Take one use, or say why not. One conditional UPDATE: N concurrent callers against k
    remaining uses get exactly k rows back, whichever process or database serves them."""
    row = session.execute(_TAKE_USE, {"delegation_id": delegation_id, "now": now}).first()
    if row is None:  # only now read the row, to say why
        d = session.get(Delegation, delegation_id, populate_existing=True)
        if d is None:
            raise InvalidDelegation("no such delegation")
        code = usability(d, now)
        raise NotUsable(
            f"the delegation cannot be used: {code.replace('_', ' ')}",
            code=code if code != "usable" else "conflict",
        )
    if row.uses >= row.max_uses:
        _bump_list(session, row.status_list_n)  # the list now says INVALID for it
    return UseTaken(row.id, row.delegator_pid, row.uses, row.max_uses)


def verify(
    session: Session, keyring: Keyring, config: DelegationConfig, token: str, now: datetime
) -> VerifyResult:
    """The public, online verification: signature, then the live status in the database."""
    try:
        claims = genuine_claims(keyring, config, token)
    except InvalidDelegation as exc:
        return VerifyResult(valid=False, status="invalid", reason=exc.detail)
    d = session.get(Delegation, claims["jti"])
    if d is None or d.delegator_pid != claims.get("sub"):
        return VerifyResult(valid=False, status="invalid", reason="unknown delegation")
    code = usability(d, now)
    if code == "usable":
        return VerifyResult(
            valid=True, status="active", reason="the delegation is usable now", claims=claims
        )
    status = "active" if code == "not_yet_valid" else code
    return VerifyResult(valid=False, status=status, reason=code.replace("_", " "), claims=claims)  # type: ignore[arg-type]


# -- status lists ----------------------------------------------------------------------------
class StatusListPublisher:
    """Renders and signs status lists; keeps the rendering until an entry of the list changes."""

    def __init__(self, keyring: Keyring, config: DelegationConfig):
        self.keyring = keyring
        self.config = config
        self._cache: dict[int, tuple[int, int, str]] = {}  # n -> (version, iat, token)
        self._lock = threading.Lock()

    def token(self, session: Session, n: int, now: datetime) -> tuple[str, int] | None:
        version = session.scalar(select(col(StatusList.version)).where(col(StatusList.n) == n))
        if version is None:
            return None
        t = int(now.timestamp())
        cached = self._cache.get(n)
        # Re-sign before the token ages past half its lifetime, even when nothing changed.
        if (
            cached
            and cached[0] == version
            and t - cached[1] < self.config.status_list_lifetime_s // 2
        ):
            return cached[2], version
        rows = session.execute(
            select(
                col(Delegation.status_list_idx),
                col(Delegation.state),
                col(Delegation.uses),
                col(Delegation.max_uses),
                col(Delegation.agent_suspended),
            ).where(col(Delegation.status_list_n) == n)
        )
        entries = {}
        for idx, state, uses, max_uses, suspended in rows:
            if state in ENDED_STATES or uses >= max_uses:
                entries[idx] = status_list.INVALID
            elif suspended:
                entries[idx] = status_list.SUSPENDED
            elif state == "pending":
                entries[idx] = status_list.PENDING
        claims = {
            "sub": self.config.status_list_uri(n),
            "iat": t,
            "exp": t + self.config.status_list_lifetime_s,
            "ttl": self.config.status_list_ttl_s,
            "status_list": {
                "bits": status_list.BITS,
                "lst": status_list.encode(entries, LIST_SIZE),
            },
        }
        token = self.keyring.sign(claims, STATUS_LIST_TYP)
        with self._lock:
            self._cache[n] = (version, t, token)
        return token, version
