"""Verification of VNeID ID tokens (OpenID Connect), as a relying party.

The issuer's keys are found through its discovery document and JWKS, over HTTP, and cached in
the process: a JWKS older than `max_age_s` is refreshed on next use, and when the issuer cannot
be reached the cached keys keep working. An unknown `kid` draws on a small refetch budget (a
token bucket: `refetch_burst` fetches, refilled one per `refetch_interval_s`), so a rotation
right after a junk token is still seen at once while a storm of unknown kids costs the issuer a
handful of requests. Every check of API.md is here; a rejection says why, for the logs and the
`error_description`, never anything that helps forge a token.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx
from jose.backends.base import Key

from core.jsonshape import loads_bounded
from signing.jws import (
    MalformedJWS,
    algorithms_for_public_key,
    parse_compact,
    public_key_from_jwk,
    verification_key,
)

log = logging.getLogger("uyquyen.vneid")

ALLOWED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256"})
ACR_TO_LOA = {"vneid:loa1": 1, "vneid:loa2": 2}
# Real ID tokens are 1-3 KB; a bigger one is refused before any parsing or cryptography.
MAX_ID_TOKEN_LENGTH = 16_384
MAX_DOCUMENT_BYTES = 512 * 1024
# Header parameters that would tell us where to find the key: never followed, refused.
KEY_LOCATION_HEADERS = ("jku", "x5u", "jwk")

# Province codes that open a 12-digit PID (the 63 codes of Circular 07/2016/TT-BCA; PIDs kept
# their codes through the 2025 province mergers).
PROVINCE_CODES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 "
    "035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 "
    "070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)
_PID = re.compile(r"[0-9]{12}", re.ASCII)


def is_valid_pid(value: object) -> bool:
    return isinstance(value, str) and bool(_PID.fullmatch(value)) and value[:3] in PROVINCE_CODES


class IdTokenRejected(Exception):
    def __init__(self, reason: str, error: str = "invalid_grant"):
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(frozen=True)
class VerifiedIdToken:
    pid: str
    loa: int
    name: str | None
    expires_at: float
    replay_key: str  # hex SHA-256 of the signing input
    nonce: str | None = None  # browser logins bind the token to their request with it
    auth_time: int | None = None  # when the person actually authenticated


@dataclass
class _IssuerKey:
    public_key: object
    algorithms: tuple[str, ...]
    jwk: dict[str, Any]
    _verifiers: dict[str, Key] = field(default_factory=dict)

    def verifier(self, alg: str) -> Key:
        # Built once per (kid, alg): rebuilding a key object per call costs 1.6-2.5x.
        key = self._verifiers.get(alg)
        if key is None:
            key = self._verifiers[alg] = verification_key(self.public_key, alg)
        return key


def http_get_json(url: str, timeout: float = 3.0) -> Any:
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        with client.stream("GET", url, headers={"Accept": "application/json"}) as resp:
            resp.raise_for_status()
            body = b""
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ValueError(f"{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
    return loads_bounded(body, max_bytes=MAX_DOCUMENT_BYTES, max_depth=16)


class IssuerKeys:
    """The issuer's signing keys, fetched over HTTP and cached in this process."""

    def __init__(
        self,
        issuer: str,
        *,
        refetch_interval_s: float = 20.0,
        refetch_burst: int = 3,
        max_age_s: float = 300.0,
        fetch_json: Callable[[str], Any] = http_get_json,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.issuer = issuer
        self._refetch_interval = refetch_interval_s
        self._burst = refetch_burst
        self._budget = float(refetch_burst)
        self._budget_at = clock()
        self._max_age = max_age_s
        self._fetch_json = fetch_json
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, _IssuerKey] | None = None  # by kid ("" for a key without kid)
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self.fetch_count = 0
        self.discovery: dict[str, Any] = {}

    def endpoints(self) -> dict[str, Any]:
        """The issuer's discovery document (fetched with its keys when first needed)."""
        if not self.discovery:
            self._refresh("endpoints needed")
        return self.discovery

    def _download(self) -> dict[str, _IssuerKey]:
        # OpenID Connect Discovery 1.0, 4: strip one trailing slash, then append the path; the
        # issuer itself is compared exactly as configured.
        discovery_url = self.issuer.removesuffix("/") + "/.well-known/openid-configuration"
        discovery = self._fetch_json(discovery_url)
        if not isinstance(discovery, dict) or discovery.get("issuer") != self.issuer:
            raise ValueError("discovery document names another issuer")
        self.discovery = discovery  # its endpoints, for the browser login
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("discovery document has no usable jwks_uri")
        jwks = self._fetch_json(jwks_uri)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("JWKS has no keys")
        old = self._keys or {}
        keys: dict[str, _IssuerKey] = {}
        for jwk in jwks["keys"]:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            kid = jwk.get("kid", "")
            if not isinstance(kid, str) or kid in keys:
                continue
            previous = old.get(kid)
            if previous is not None and previous.jwk == jwk:
                keys[kid] = previous  # keep its already-built key objects
                continue
            public_key = public_key_from_jwk(jwk)
            algorithms = algorithms_for_public_key(public_key) if public_key else ()
            if "alg" in jwk:
                algorithms = tuple(a for a in algorithms if a == jwk["alg"])
            if algorithms:
                keys[kid] = _IssuerKey(public_key, algorithms, jwk)
        return keys

    def _refresh(self, reason: str, force: bool = False) -> None:
        with self._lock:
            now = self._clock()
            if (
                not force
                and now - self._attempted_at < min(self._refetch_interval, self._max_age)
                and self._keys is not None
            ):
                return  # another thread just did it
            self._attempted_at = now
            try:
                self._keys = self._download()
                self._fetched_at = now
                self.fetch_count += 1
                log.info("fetched JWKS of %s (%s): %d keys", self.issuer, reason, len(self._keys))
            except Exception as exc:  # network, HTTP status, JSON: keep the cache
                log.warning("could not fetch JWKS of %s (%s): %s", self.issuer, reason, exc)

    def _take_refetch(self, now: float) -> bool:
        """One fetch from the budget, if there is one left."""
        with self._lock:
            if self._refetch_interval > 0:
                refill = (now - self._budget_at) / self._refetch_interval
                self._budget = min(float(self._burst), self._budget + refill)
            else:
                self._budget = float(self._burst)
            self._budget_at = now
            if self._budget < 1:
                return False
            self._budget -= 1
            return True

    def key_for(self, kid: str | None) -> _IssuerKey | None:
        now = self._clock()
        if self._keys is None or (
            now - self._fetched_at >= self._max_age
            and now - self._attempted_at >= self._refetch_interval
        ):
            self._refresh("cache empty or stale")
        key = self._lookup(kid)
        if key is None and self._take_refetch(now):
            self._refresh(f"unknown kid {str(kid)[:64]!r}", force=True)
            key = self._lookup(kid)
        return key

    def _lookup(self, kid: str | None) -> _IssuerKey | None:
        keys = self._keys or {}
        if kid is None:
            # A token without kid is acceptable only when there is no choice to make.
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)


# NumericDate (RFC 7519) bounded to what a date can be: 1e20 or a 400-digit integer is no
# time at all (and would overflow every datetime conversion).
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z


def _is_number(v: object) -> TypeGuard[int | float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float) and not math.isfinite(v):
        return False
    return 0 <= v <= MAX_NUMERIC_DATE  # compared exactly: a huge int never becomes a float


class IdTokenVerifier:
    def __init__(self, keys: IssuerKeys, *, client_id: str, clock_skew_s: int):
        self.keys = keys
        self.issuer = keys.issuer
        self.client_id = client_id
        self.skew = clock_skew_s

    def verify(self, token: str, now: float) -> VerifiedIdToken:
        if len(token) > MAX_ID_TOKEN_LENGTH:
            raise IdTokenRejected("subject_token is too long", "invalid_request")
        try:
            jws = parse_compact(token, max_length=MAX_ID_TOKEN_LENGTH)
        except MalformedJWS as exc:
            raise IdTokenRejected(f"subject_token is not a signed JWT: {exc}") from None
        header = jws.header
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise IdTokenRejected("signature algorithm not allowed")
        for name in KEY_LOCATION_HEADERS:
            if name in header:
                raise IdTokenRejected(f"header parameter {name!r} is not accepted")
        if "crit" in header:
            # We implement no JWS extension, so any critical one must be refused (RFC 7515 4.1.11).
            raise IdTokenRejected("critical header parameters not understood")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() != "jwt"):
            raise IdTokenRejected("not an ID token (typ)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise IdTokenRejected("malformed kid")

        key = self.keys.key_for(kid)
        if key is None:
            raise IdTokenRejected("signing key is not in the issuer's JWKS")
        if alg not in key.algorithms:
            raise IdTokenRejected("algorithm does not match the issuer's key")
        try:
            good = key.verifier(alg).verify(jws.signing_input, jws.signature)
        except Exception:
            good = False
        if not good:
            raise IdTokenRejected("bad signature")

        try:
            claims = jws.claims()
        except MalformedJWS:
            raise IdTokenRejected("claims are not a JSON object") from None
        return self._check_claims(claims, now, hashlib.sha256(jws.signing_input).hexdigest())

    def _check_claims(self, c: dict[str, Any], now: float, replay_key: str) -> VerifiedIdToken:
        if c.get("iss") != self.issuer:
            raise IdTokenRejected("wrong issuer")
        aud = c.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or self.client_id not in audiences:
            raise IdTokenRejected("token is not for this service (aud)")
        if "azp" in c and c["azp"] != self.client_id:
            raise IdTokenRejected("token was issued to another party (azp)")
        exp, iat, nbf = c.get("exp"), c.get("iat"), c.get("nbf")
        if not _is_number(exp):
            raise IdTokenRejected("exp missing or not a valid date")
        if now > exp + self.skew:
            raise IdTokenRejected("token expired")
        if not _is_number(iat):
            raise IdTokenRejected("iat missing or not a number")
        if iat > now + self.skew:
            raise IdTokenRejected("token issued in the future")
        if nbf is not None and (not _is_number(nbf) or nbf > now + self.skew):
            raise IdTokenRejected("token not yet valid (nbf)")
        if not is_valid_pid(c.get("sub")):
            raise IdTokenRejected("sub is not a valid PID")
        loa = ACR_TO_LOA.get(c.get("acr"))  # type: ignore[arg-type]
        if loa is None:
            raise IdTokenRejected("unknown level of assurance (acr)")
        name = c.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            name = None
        nonce = c.get("nonce") if isinstance(c.get("nonce"), str) else None
        auth_time = c.get("auth_time") if _is_number(c.get("auth_time")) else None
        return VerifiedIdToken(
            c["sub"],
            loa,
            name,
            float(exp),
            replay_key,
            nonce,
            int(auth_time) if auth_time is not None else None,
        )
