"""Logging in with VNeID in a browser (OpenID Connect authorization code flow with PKCE, state
and nonce) and the sessions that follow, kept in the database so every process honours them.

The protocol's client side is Authlib's; what Authlib does not decide is here: where a login's
secrets live (nowhere: state, nonce and PKCE verifier are derived from a random login id with a
server key, and the id travels only in a cookie of the browser that started the login, so a
callback from any other browser fails), that the ID token passes every rule of token exchange
plus the nonce, that it is used once, and how long a session lives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from authlib.integrations.httpx_client import OAuth2Client
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from audit import service as audit
from core.auth import Principal
from core.db import read_only
from core.errors import BadRequest, Forbidden, ServiceUnavailable
from identity.models import WebSession
from identity.service import (
    STAFF_LOGIN_LEVEL,
    StaffDirectory,
    StaffPlace,
    first_use_of_id_token,
)
from identity.vneid import IdTokenRejected, IdTokenVerifier, IssuerKeys

LOGIN_TTL_S = 600  # a login started must come back within 10 minutes
# A session's last_seen is written at most this often (not on every request), and at most a
# quarter of the idle timeout, so a session in use never looks idle for want of a write.
LAST_SEEN_EVERY = timedelta(seconds=60)


class LoginFailed(BadRequest):
    code, title = "login_failed", "The login did not succeed"


class NotStaffHere(Forbidden):
    code, title = "not_staff_here", "Not staff there"


class StaffLoginTooWeak(Forbidden):
    code, title = "staff_login_level", "Staff need a level-2 VNeID login"


class VneidUnavailable(ServiceUnavailable):
    code, title = "vneid_unavailable", "VNeID cannot be reached"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def safe_next(path: str | None) -> str:
    """A local path to go to after login; anything else (an absolute or protocol-relative URL,
    a backslash trick) is ignored: no open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/app"
    if any(ord(c) < 0x20 for c in path) or len(path) > 512:
        return "/app"
    return path


@dataclass(frozen=True)
class StartedLogin:
    login_id: str  # the sealed login, for the browser's cookie only
    authorization_url: str


@dataclass(frozen=True)
class NewSession:
    session_id: str  # for the browser's cookie only
    next_path: str
    pid: str


class BrowserLogins:
    def __init__(
        self,
        engine: Engine,
        verifier: IdTokenVerifier,
        issuer_keys: IssuerKeys,
        *,
        secret: bytes,
        public_url: str,
        client_id: str,
        client_secret: str | None,
        idle_s: int,
        max_s: int,
    ):
        self.engine = engine
        self.verifier = verifier
        self.issuer_keys = issuer_keys
        self._secret = secret
        self.redirect_uri = f"{public_url}/auth/callback"
        self.client_id = client_id
        self.client_secret = client_secret
        self.idle = timedelta(seconds=idle_s)
        self.touch_every = min(LAST_SEEN_EVERY, self.idle / 4)
        self.max = timedelta(seconds=max_s)

    def _derive(self, purpose: str, value: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def _client(self) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            redirect_uri=self.redirect_uri,
            scope="openid",
            code_challenge_method="S256",
            timeout=10,
        )

    # -- the login -------------------------------------------------------------------------
    # Nothing is stored when a login starts: an anonymous caller can start millions. What the
    # callback needs (the login id, where to go next, the level asked for, when it started)
    # travels in the browser's cookie, sealed with a server key. The login is used once because
    # its ID token is (first_use_of_id_token), and its state, nonce and PKCE verifier are
    # derived from the id, so a callback in any other browser fails.
    def _seal(self, login_id: str, next_path: str, loa: int, started: int) -> str:
        body = base64.urlsafe_b64encode(
            json.dumps([login_id, next_path, loa, started], separators=(",", ":")).encode()
        ).decode()
        return f"{body}.{self._derive('login', body)}"

    def _open(self, sealed: str | None, now: datetime) -> tuple[str, str, int] | None:
        if not sealed or len(sealed) > 2048 or sealed.count(".") != 1:
            return None
        body, mac = sealed.split(".")
        if not hmac.compare_digest(mac, self._derive("login", body)):
            return None
        try:
            login_id, next_path, loa, started = json.loads(base64.urlsafe_b64decode(body))
            if not 0 <= now.timestamp() - int(started) <= LOGIN_TTL_S:
                return None
            return str(login_id), safe_next(str(next_path)), int(loa)
        except (ValueError, TypeError):
            return None

    def begin(self, next_path: str | None, loa: int, now: datetime) -> StartedLogin:
        endpoint = self.issuer_keys.endpoints().get("authorization_endpoint")
        if not isinstance(endpoint, str):
            raise VneidUnavailable("VNeID cannot be reached right now; try again in a minute")
        login_id = secrets.token_urlsafe(32)
        sealed = self._seal(login_id, safe_next(next_path), loa, int(now.timestamp()))
        extra = {"acr_values": "vneid:loa2"} if loa == 2 else {}
        url, _ = self._client().create_authorization_url(
            endpoint,
            state=self._derive("state", login_id),
            nonce=self._derive("nonce", login_id),
            code_verifier=self._derive("pkce", login_id),
            **extra,
        )
        return StartedLogin(sealed, url)

    def complete(
        self, sealed: str | None, code: str | None, state: str | None, now: datetime
    ) -> NewSession:
        if not sealed:
            raise LoginFailed("this login was not started in this browser; start again")
        opened = self._open(sealed, now)
        if opened is None:
            raise LoginFailed("this login has expired or was not started here; start again")
        login_id, next_path, wanted_loa = opened
        if not state or not hmac.compare_digest(state, self._derive("state", login_id)):
            raise LoginFailed("the login answer does not belong to this login (state)")
        if not code:
            raise LoginFailed("VNeID sent no authorization code")
        endpoint = self.issuer_keys.endpoints().get("token_endpoint")
        try:
            token = self._client().fetch_token(
                endpoint, code=code, code_verifier=self._derive("pkce", login_id)
            )
        except Exception as exc:  # the provider's refusal or its absence, both the same here
            raise LoginFailed(f"VNeID refused the code: {str(exc)[:200]}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("VNeID sent no ID token")
        try:
            verified = self.verifier.verify(id_token, now.timestamp())
        except IdTokenRejected as exc:
            raise LoginFailed(f"the ID token is not acceptable: {exc.reason}") from None
        if verified.nonce is None or not hmac.compare_digest(
            verified.nonce, self._derive("nonce", login_id)
        ):
            raise LoginFailed("the ID token was not issued for this login (nonce)")
        if verified.loa < wanted_loa:
            raise LoginFailed("this needs a level-2 VNeID login")
        session_id = secrets.token_urlsafe(32)
        with Session(self.engine) as session:
            expires = datetime.fromtimestamp(verified.expires_at, now.tzinfo) + timedelta(
                seconds=self.verifier.skew
            )
            if not first_use_of_id_token(session, verified.replay_key, expires):
                raise LoginFailed("this ID token has already been used")
            session.add(
                WebSession(
                    id_hash=_hash(session_id),
                    pid=verified.pid,
                    name=verified.name,
                    loa=verified.loa,
                    auth_time=verified.auth_time or int(now.timestamp()),
                    created_at=now,
                    last_seen_at=now,
                )
            )
            self._purge(session, now)
            audit.record(
                session,
                "login.browser",
                actor=f"citizen:{verified.pid}",
                subjects=[verified.pid],
                data={"loa": verified.loa},
                now=now,
            )
            session.commit()
        return NewSession(session_id, next_path, verified.pid)

    PURGE_BATCH = 200

    def _purge(self, session: Session, now: datetime) -> None:
        """Each new session removes up to PURGE_BATCH dead ones (past their absolute lifetime,
        or ended a day ago), so the table holds about the sessions alive, with no scheduler;
        the audit log, not this table, is the record of logins."""
        dead = (
            select(col(WebSession.id_hash))
            .where(
                (col(WebSession.created_at) < now - self.max)
                | (col(WebSession.ended_at) < now - timedelta(days=1))
            )
            .limit(self.PURGE_BATCH)
        )
        session.execute(
            delete(WebSession).where(col(WebSession.id_hash).in_(dead.scalar_subquery()))
        )

    # -- sessions --------------------------------------------------------------------------
    def principal(self, session_id: str, now: datetime) -> Principal | None:
        """The citizen of a live session, or None (ended, idle too long, too old, unknown)."""
        if len(session_id) > 128:
            return None
        with Session(read_only(self.engine)) as session:
            found = session.get(WebSession, _hash(session_id))
        if (
            found is None
            or found.ended_at is not None
            or now - found.last_seen_at > self.idle
            or now - found.created_at > self.max
        ):
            return None
        if now - found.last_seen_at > self.touch_every:
            with Session(self.engine) as session:
                session.execute(
                    update(WebSession)
                    .where(col(WebSession.id_hash) == found.id_hash)
                    .values(last_seen_at=now)
                )
                session.commit()
        expires = min(found.last_seen_at + self.idle, found.created_at + self.max)
        if found.acting_kind == "agent":  # a staff member at a counter
            return Principal(
                "agent",
                found.acting_client_id or "",
                agent_code=found.acting_owner,
                counter_id=found.acting_counter,
                expires_at=int(expires.timestamp()),
                auth_time=found.auth_time,
                staff_code=found.staff_code,
                staff_name=found.staff_name,
            )
        if found.acting_kind == "agency":
            return Principal(
                "agency",
                found.acting_client_id or "",
                agency_code=found.acting_owner,
                expires_at=int(expires.timestamp()),
                auth_time=found.auth_time,
                staff_code=found.staff_code,
                staff_name=found.staff_name,
            )
        return Principal(
            "citizen",
            found.pid,
            loa=found.loa,
            name=found.name,
            expires_at=int(expires.timestamp()),
            auth_time=found.auth_time,
        )

    def work_at(
        self,
        session_id: str,
        staff: StaffDirectory,
        place: tuple[str, str | None],
        now: datetime,
    ) -> StaffPlace:
        """The logged-in person starts working at a counter (kind "agent", the counter id) or an
        agency (kind "agency", its code): the session then acts for it in their name. Refused
        unless they are active staff there now, whatever the page asked for."""
        kind, where = place
        with Session(self.engine) as session:
            found = session.get(WebSession, _hash(session_id)) if len(session_id) <= 128 else None
            if found is None or found.ended_at is not None:
                raise NotStaffHere("log in again")
            if found.loa < STAFF_LOGIN_LEVEL:
                raise StaffLoginTooWeak("staff need a level-2 VNeID login: log in again")
            chosen = next(
                (
                    p
                    for p in staff.places(session, found.pid)
                    if p.kind == kind
                    and (p.counter_id if kind == "agent" else p.owner_code) == where
                ),
                None,
            )
            if chosen is None:
                raise NotStaffHere("you are not active staff there")
            found.acting_kind = chosen.kind
            found.acting_owner = chosen.owner_code
            found.acting_counter = chosen.counter_id
            found.acting_client_id = chosen.client_id
            found.staff_code = chosen.staff_code
            found.staff_name = chosen.staff_name
            session.add(found)
            audit.record(
                session,
                "login.staff",
                actor=f"citizen:{found.pid}",
                subjects=[found.pid],
                ref=chosen.owner_code,
                data={
                    "owner": chosen.owner_code,
                    "counter": chosen.counter_id,
                    "staff_code": chosen.staff_code,
                    "method": "browser",
                },
                now=now,
            )
            session.commit()
        return chosen

    def csrf_token(self, session_id: str) -> str:
        """The token every state-changing request made with this session must carry."""
        return self._derive("csrf", session_id)

    def end(self, session_id: str, now: datetime) -> None:
        with Session(self.engine) as session:
            session.execute(
                update(WebSession)
                .where(
                    col(WebSession.id_hash) == _hash(session_id), col(WebSession.ended_at).is_(None)
                )
                .values(ended_at=now)
            )
            session.commit()
