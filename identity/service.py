"""Identity rules: token exchange, client credentials, access tokens, credential lifecycle."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from passlib.context import CryptContext
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from audit import service as audit
from core.auth import NotAuthenticated, Principal
from core.db import InsertIfAbsent
from identity.exceptions import InvalidClient, InvalidGrant, InvalidRequest
from identity.models import ExchangedIdToken, OAuthClient
from identity.throttle import LoginThrottle, failures_in_window
from identity.vneid import IdTokenRejected, IdTokenVerifier
from signing.keyring import InvalidServiceToken, Keyring

ACCESS_TOKEN_TYP = "at+jwt"  # RFC 9068
# Staff act for citizens and agencies: they log in at VNeID's stronger level on every path (the
# counter software's token exchange and the browser's workplaces alike).
STAFF_LOGIN_LEVEL = 2
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"

# Client secrets are 256 random bits from `secrets`, not passwords a person chose: nobody can
# guess one, so a deliberately slow hash (bcrypt, argon2: 50-300 ms) would buy no safety and cap
# the token endpoint at a few grants per second per core. A salted SHA-256 (passlib's
# ldap_salted_sha256, a few microseconds) keeps stored hashes useless to a thief while the
# endpoint serves thousands of grants per second.
_secret_hasher = CryptContext(schemes=["ldap_salted_sha256"])
# Verified when the client_id is unknown, so timing does not tell which clients exist.
_DUMMY_HASH = _secret_hasher.hash(secrets.token_urlsafe(32))
SECRET_PREFIX = "uyq_cs_"  # lets secret scanners recognise a leaked credential


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str


class AccessTokens:
    """Issues and checks this service's access tokens (JWT, RFC 9068 profile, ES256)."""

    def __init__(self, keyring: Keyring, issuer: str, ttl_s: int, clock_skew_s: int):
        self.keyring = keyring
        self.issuer = issuer
        self.ttl_s = ttl_s
        self.skew = clock_skew_s

    def issue(self, principal_claims: dict[str, Any], now: float) -> IssuedToken:
        iat = int(now)
        claims = {
            "iss": self.issuer,
            "aud": self.issuer,
            "iat": iat,
            "exp": iat + self.ttl_s,
            "jti": secrets.token_urlsafe(16),
            **principal_claims,
        }
        return IssuedToken(self.keyring.sign(claims, ACCESS_TOKEN_TYP), self.ttl_s)

    def principal(self, token: str, now: float) -> Principal:
        try:
            c = self.keyring.verify(token, ACCESS_TOKEN_TYP)
        except InvalidServiceToken as exc:
            raise NotAuthenticated(f"invalid access token: {exc}") from None
        if c.get("iss") != self.issuer or c.get("aud") != self.issuer:
            raise NotAuthenticated("access token not issued by this service")
        exp = c.get("exp")
        if not isinstance(exp, int) or now > exp + self.skew:
            raise NotAuthenticated("access token expired")
        kind, sub = c.get("kind"), c.get("sub")
        if not isinstance(sub, str):
            raise NotAuthenticated("access token has no subject")
        if kind == "citizen":
            auth_time = c.get("auth_time")
            return Principal(
                "citizen",
                sub,
                loa=c.get("loa"),
                name=c.get("name"),
                expires_at=exp,
                auth_time=auth_time if isinstance(auth_time, int) else None,
            )
        staff: dict[str, Any] = c["staff"] if isinstance(c.get("staff"), dict) else {}
        staff_code, staff_name = staff.get("code"), staff.get("name")
        if kind == "agent":
            return Principal(
                "agent",
                sub,
                agent_code=c.get("agent"),
                counter_id=c.get("counter"),
                expires_at=exp,
                staff_code=staff_code,
                staff_name=staff_name,
            )
        if kind == "agency":
            return Principal(
                "agency",
                sub,
                agency_code=c.get("agency"),
                expires_at=exp,
                staff_code=staff_code,
                staff_name=staff_name,
            )
        raise NotAuthenticated("access token of an unknown kind")


_EXCHANGED = ExchangedIdToken.__table__  # type: ignore[attr-defined]
# One statement, built once, no savepoint: the row is new, or the token was already exchanged.
_RECORD_EXCHANGE = InsertIfAbsent(
    _EXCHANGED,
    _EXCHANGED.c.token_hash,
    token_hash=bindparam("b_hash"),
    expires_at=bindparam("b_expires"),
)


def first_use_of_id_token(session: Session, replay_key: str, expires_at: datetime) -> bool:
    """Record an ID token as used; False if it was, in any process."""
    return _RECORD_EXCHANGE(session, {"b_hash": replay_key, "b_expires": expires_at})


@dataclass(frozen=True)
class StaffPlace:
    """Where a staff member may work: a counter (kind "agent") or an agency."""

    kind: str
    owner_code: str
    owner_name: str
    counter_id: str | None
    counter_name: str | None
    ward_code: str | None
    client_id: str  # whose credential a session working there acts with
    staff_code: str
    staff_name: str


class StaffDirectory(Protocol):
    """Who is active staff of a counter or an agency (kept by agents, above identity)."""

    def places(self, session: Session | Connection, pid: str) -> list[StaffPlace]: ...

    def staff_for(
        self,
        session: Session | Connection,
        kind: str,
        owner_code: str,
        counter_id: str | None,
        pid: str,
    ) -> tuple[str, str] | None: ...

    def is_active(
        self, session: Session | Connection, kind: str, owner_code: str, staff_code: str
    ) -> bool: ...

    def owner_active(self, session: Session | Connection, kind: str, owner_code: str) -> bool:
        """Whether the agent (kind "agent") or agency may act now: not suspended."""
        ...


def staff_token_exchange(
    session: Session,
    verifier: IdTokenVerifier,
    tokens: AccessTokens,
    throttle: LoginThrottle,
    staff: StaffDirectory,
    client_id: str,
    client_secret: str,
    subject_token: str,
    address: str,
    now: float,
) -> IssuedToken:
    """RFC 8693 with the counter's (or agency's) client credentials: a staff member's VNeID ID
    token for a token bound to that person, at that counter."""
    client = authenticate_client(session, throttle, client_id, client_secret, address, now)
    # A failed staff exchange counts against the counter's credential and the address, and is
    # put on the record: a stolen counter secret must not be a free oracle for clerks' logins.
    keys = [f"staff:{client.client_id}", f"address:{address}"]
    throttle.check(throttle.read(session, keys, now), now)

    def refuse(reason: str) -> InvalidGrant:
        session.rollback()
        login_failed(
            session,
            throttle,
            keys,
            now,
            method="staff_token_exchange",
            reason=reason,
            address=address,
            client_id=client.client_id,
        )
        return InvalidGrant(reason)

    try:
        verified = verifier.verify(subject_token, now)
    except IdTokenRejected as exc:
        raise refuse(exc.reason) from None
    if verified.loa < STAFF_LOGIN_LEVEL:
        raise refuse("staff need a level-2 VNeID login")
    member = staff.staff_for(
        session, client.kind, client.owner_code, client.counter_id, verified.pid
    )
    if member is None:
        raise refuse("this person is not active staff of this counter")
    expires_at = datetime.fromtimestamp(verified.expires_at + verifier.skew, UTC)
    if not first_use_of_id_token(session, verified.replay_key, expires_at):
        raise refuse("this ID token has already been exchanged")
    staff_code, staff_name = member
    audit.record(
        session,
        "login.staff",
        actor=f"{client.kind}:{client.client_id}",
        subjects=[verified.pid],
        ref=client.owner_code,
        data={"owner": client.owner_code, "counter": client.counter_id, "staff_code": staff_code},
    )
    claims: dict[str, Any] = {
        "sub": client.client_id,
        "client_id": client.client_id,
        "kind": client.kind,
        "staff": {"code": staff_code, "name": staff_name},
    }
    if client.kind == "agent":
        claims["agent"] = client.owner_code
        claims["counter"] = client.counter_id
    else:
        claims["agency"] = client.owner_code
    return tokens.issue(claims, now)


def login_failed(
    conn: Session | Connection,
    throttle: LoginThrottle,
    keys: list[str],
    now: float,
    *,
    method: str,
    reason: str,
    address: str,
    client_id: str | None = None,
) -> None:
    """Count a failed login against its keys and put it on the record (committed here: the
    caller raises next, and the failure must outlive that)."""
    counts = throttle.fail(conn, keys, now)
    data: dict[str, Any] = {"method": method, "reason": reason[:200], "address": address}
    if client_id is not None:
        data["client_id"] = client_id[:64]
    data["failures"] = max(counts.values())
    audit.record(conn, "login.failed", actor=f"address:{address}"[:96], ref=client_id, data=data)
    conn.commit()


def exchange_id_token(
    session: Session,
    verifier: IdTokenVerifier,
    tokens: AccessTokens,
    throttle: LoginThrottle,
    subject_token: str,
    address: str,
    now: float,
) -> IssuedToken:
    """RFC 8693 token exchange: a VNeID ID token, once, for one of our access tokens."""
    keys = [f"address:{address}"]
    throttle.check(throttle.read(session, keys, now), now)
    try:
        verified = verifier.verify(subject_token, now)
    except IdTokenRejected as exc:
        login_failed(
            session,
            throttle,
            keys,
            now,
            method="token_exchange",
            reason=exc.reason,
            address=address,
        )
        if exc.error == "invalid_request":
            raise InvalidRequest(exc.reason) from None
        raise InvalidGrant(exc.reason) from None

    # The replay check lives in the database so it holds across every server process: the
    # primary key makes the second insert of the same token fail, whichever process does it.
    expires_at = datetime.fromtimestamp(verified.expires_at + verifier.skew, UTC)
    if not _RECORD_EXCHANGE(session, {"b_hash": verified.replay_key, "b_expires": expires_at}):
        session.rollback()
        reason = "this ID token has already been exchanged"
        login_failed(
            session, throttle, keys, now, method="token_exchange", reason=reason, address=address
        )
        raise InvalidGrant(reason)
    if random.random() < 0.01:  # keep the table small without a scheduler
        session.execute(
            delete(ExchangedIdToken).where(
                col(ExchangedIdToken.expires_at) < datetime.fromtimestamp(now, UTC)
            )
        )

    audit.record(
        session,
        "login.token_exchange",
        actor=f"citizen:{verified.pid}",
        subjects=[verified.pid],
        data={"loa": verified.loa},
    )
    # RFC 9068 2.2: client_id is who asked for the token; a citizen's app exchanging a VNeID ID
    # token for us acts as our VNeID client (the ID token's audience).
    claims: dict[str, Any] = {
        "sub": verified.pid,
        "client_id": verifier.client_id,
        "kind": "citizen",
        "loa": verified.loa,
    }
    if verified.name:
        claims["name"] = verified.name
    if verified.auth_time is not None:  # how fresh the login is (approvals need a recent one)
        claims["auth_time"] = verified.auth_time
    return tokens.issue(claims, now)


@dataclass(frozen=True)
class AuthenticatedClient:
    client_id: str
    kind: str
    owner_code: str
    counter_id: str | None


_CLIENTS = OAuthClient.__table__  # type: ignore[attr-defined]
# A Core SELECT of the five columns the grant needs: this runs on every login, and loading an
# ORM instance into the identity map costs more than the query.
# The failed-login counts of the client and of the address come with it, in the same statement.
_SELECT_CLIENT = select(
    _CLIENTS.c.secret_hash,
    _CLIENTS.c.kind,
    _CLIENTS.c.owner_code,
    _CLIENTS.c.counter_id,
    _CLIENTS.c.disabled,
    failures_in_window("client_key", "w").label("client_failures"),
    failures_in_window("address_key", "w").label("address_failures"),
).where(_CLIENTS.c.client_id == bindparam("client_id"))


def authenticate_client(
    conn: Session | Connection,
    throttle: LoginThrottle,
    client_id: str,
    client_secret: str,
    address: str,
    now: float,
) -> AuthenticatedClient:
    keys = [f"client:{client_id}", f"address:{address}"]
    row = (
        conn.execute(
            _SELECT_CLIENT,
            {
                "client_id": client_id,
                "client_key": keys[0],
                "address_key": keys[1],
                "w": throttle.window(now),
                **throttle.window_params(now),
            },
        ).first()
        if len(client_id) <= 64
        else None
    )
    if row is not None:
        counts = {keys[0]: row.client_failures, keys[1]: row.address_failures}
    else:
        counts = throttle.read(conn, keys, now)
    throttle.check(counts, now)  # before the secret is looked at: no oracle while throttled
    ok = _secret_hasher.verify(client_secret, row.secret_hash if row else _DUMMY_HASH)
    if row is None or not ok:
        reason = "unknown client" if row is None else "wrong secret"
        login_failed(
            conn,
            throttle,
            keys,
            now,
            method="client_credentials",
            reason=reason,
            address=address,
            client_id=client_id,
        )
        raise InvalidClient("unknown client or wrong secret")
    if row.disabled:
        raise InvalidClient("this client is disabled (its agent is suspended)")
    return AuthenticatedClient(client_id, row.kind, row.owner_code, row.counter_id)


def client_credentials_grant(
    session: Session | Connection,
    tokens: AccessTokens,
    throttle: LoginThrottle,
    client_id: str,
    client_secret: str,
    address: str,
    now: float,
) -> IssuedToken:
    client = authenticate_client(session, throttle, client_id, client_secret, address, now)
    audit.record(
        session,
        "login.client_credentials",
        actor=f"{client.kind}:{client.client_id}",
        ref=client.owner_code,
        data={"kind": client.kind, "owner": client.owner_code},
    )
    claims: dict[str, Any] = {
        "sub": client.client_id,
        "client_id": client.client_id,  # RFC 9068 2.2
        "kind": client.kind,
    }
    if client.kind == "agent":
        claims["agent"] = client.owner_code
        claims["counter"] = client.counter_id
    else:
        claims["agency"] = client.owner_code
    return tokens.issue(claims, now)


def create_client(
    session: Session, kind: str, owner_code: str, now: datetime, counter_id: str | None = None
) -> NewClient:
    """A new client credential; the secret is returned here once and stored only hashed."""
    prefix = {"agent": "ctr_", "agency": "agc_"}[kind]
    client_id = prefix + secrets.token_hex(12)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    session.add(
        OAuthClient(
            client_id=client_id,
            secret_hash=_secret_hasher.hash(secret),
            kind=kind,
            owner_code=owner_code,
            counter_id=counter_id,
            created_at=now,
        )
    )
    session.flush()
    return NewClient(client_id, secret)


def set_owner_clients_disabled(
    session: Session, kind: str, owner_code: str, disabled: bool
) -> None:
    """Suspending an agent disables every counter credential of it at once."""
    session.execute(
        update(OAuthClient)
        .where(col(OAuthClient.kind) == kind, col(OAuthClient.owner_code) == owner_code)
        .values(disabled=disabled)
    )
