"""Verify a delegation token offline, with nothing but this service's JWKS and a status list.

For agencies, banks and counters that must check a delegation without calling uyquyen:

    import json
    from delegation.offline import verify_offline

    jwks = json.load(open("jwks.json"))                       # GET /.well-known/jwks.json
    lists = {"https://.../v1/status-lists/1": open("1.jwt").read()}   # GET /v1/status-lists/1
    result = verify_offline(token, jwks, lists, issuer="https://uyquyen.hanoi.gov.vn")
    result.valid, result.status, result.reason

What offline verification can tell: the token is genuine (our key), unaltered, issued by us, in
its window (`nbf`..`exp`), and what its status list said when the list was signed: valid,
pending (a person delegate has not accepted yet), suspended (its agent is), or ended. What it
cannot tell: which end (revoked, renounced and exhausted share one value, reported "revoked"),
how many uses are left, and anything that happened after the list was signed (a list lives for
its `ttl`; fetch a fresh one for a decision that matters). The online
`POST /v1/delegations/verify` tells all of it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jose.backends import ECKey

from delegation import status_list
from signing.jws import InvalidJWS, public_key_from_jwk, verify_compact

_STATUS = {
    status_list.VALID: "active",
    status_list.INVALID: "revoked",
    status_list.SUSPENDED: "suspended",
    status_list.PENDING: "pending",
}


@dataclass(frozen=True)
class OfflineResult:
    valid: bool
    status: str  # active | revoked | suspended | expired | not_yet_valid | unknown | invalid
    reason: str
    claims: dict[str, Any] | None = None


def _keys(jwks: Mapping[str, Any]) -> dict[str, ECKey]:
    keys = {}
    for jwk in jwks.get("keys", []):
        if (
            isinstance(jwk, dict)
            and jwk.get("alg", "ES256") == "ES256"
            and isinstance(jwk.get("kid"), str)
        ):
            public = public_key_from_jwk(jwk)
            if public is not None and jwk.get("kty") == "EC":
                keys[jwk["kid"]] = ECKey(public, "ES256")
    return keys


@dataclass(frozen=True)
class _List:
    raw: bytes
    exp: int


class OfflineVerifier:
    """Checks many tokens against one JWKS and a set of status lists: key objects are built and
    each list is verified and decompressed once, so a token costs one signature check."""

    def __init__(
        self,
        jwks: Mapping[str, Any],
        status_lists: Mapping[str, str],
        *,
        issuer: str | None = None,
        clock_skew_s: int = 60,
    ):
        self.keys = _keys(jwks)
        self.issuer = issuer
        self.skew = clock_skew_s
        self.lists: dict[str, _List | str] = {}  # uri -> decoded list, or why it is unusable
        for uri, token in status_lists.items():
            self.lists[uri] = self._load_list(uri, token)

    def _load_list(self, uri: str, token: str) -> _List | str:
        try:
            lst = verify_compact(token, self.keys.get, typ="statuslist+jwt")
        except InvalidJWS as exc:
            return f"status list not genuine: {exc}"
        if lst.get("sub") != uri:
            return "status list is for another URI"
        try:
            spec = lst["status_list"]
            if spec["bits"] != status_list.BITS or not isinstance(lst.get("exp"), int):
                raise ValueError("unexpected bits or no exp")
            return _List(status_list.decode(spec["lst"]), lst["exp"])
        except (KeyError, TypeError, ValueError) as exc:
            return f"status list unreadable: {exc}"

    def verify(self, token: str, now: float | None = None) -> OfflineResult:
        now = time.time() if now is None else now
        try:
            claims = verify_compact(token, self.keys.get, typ="delegation+jwt")
        except InvalidJWS as exc:
            return OfflineResult(False, "invalid", f"not a genuine delegation token: {exc}")
        if self.issuer is not None and claims.get("iss") != self.issuer:
            return OfflineResult(False, "invalid", "issued by another service", claims)
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int) or now > exp + self.skew:
            return OfflineResult(False, "expired", "the delegation's validity has ended", claims)
        if isinstance(nbf, int) and now + self.skew < nbf:
            return OfflineResult(False, "not_yet_valid", "the delegation is not valid yet", claims)
        try:
            ref = claims["status"]["status_list"]
            idx, uri = int(ref["idx"]), str(ref["uri"])
        except (KeyError, TypeError, ValueError):
            return OfflineResult(False, "invalid", "no status list reference", claims)
        lst = self.lists.get(uri)
        if lst is None:
            return OfflineResult(False, "unknown", f"status list {uri} not available", claims)
        if isinstance(lst, str):
            return OfflineResult(False, "unknown", lst, claims)
        if now > lst.exp + self.skew:
            return OfflineResult(
                False, "unknown", "status list has expired; fetch a fresh one", claims
            )
        try:
            value = status_list.value_at(lst.raw, idx)
        except IndexError as exc:
            return OfflineResult(False, "unknown", f"status list unreadable: {exc}", claims)
        status = _STATUS.get(value, "invalid")
        if status != "active":
            return OfflineResult(False, status, f"status list says {status}", claims)
        return OfflineResult(
            True, "active", "genuine, in its window, and valid in the status list", claims
        )


def verify_offline(
    token: str,
    jwks: Mapping[str, Any],
    status_lists: Mapping[str, str],
    *,
    issuer: str | None = None,
    now: float | None = None,
    clock_skew_s: int = 60,
) -> OfflineResult:
    """One token; for many, build an OfflineVerifier once."""
    verifier = OfflineVerifier(jwks, status_lists, issuer=issuer, clock_skew_s=clock_skew_s)
    return verifier.verify(token, now)


def verify_signed(token: str, jwks: Mapping[str, Any], typ: str) -> dict[str, Any]:
    """Any token this service signs (a receipt, a checkpoint) checked with its JWKS alone:
    returns the claims, or raises InvalidJWS."""
    return verify_compact(token, _keys(jwks).get, typ=typ)
