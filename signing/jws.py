"""Strict compact-JWS parsing and JWK key objects, around python-jose.

python-jose (3.5) verifies whatever a token's header asks for: it ignores `crit`, tries every key
of a set regardless of `kid`, and takes the algorithm from the header. So this module parses the
token itself, and callers pick the key by `kid` and pin the algorithm to the key's type before
asking python-jose's key object to check the signature. It also has no PS256, which VNeID-like
issuers use, hence `PS256Key`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from jose.backends import ECKey, RSAKey
from jose.backends.base import Key

from core.jsonshape import nesting_depth

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
MIN_RSA_BITS = 2048


class MalformedJWS(ValueError):
    """Not a compact JWS this service will even look at."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    if not _B64URL.match(segment) or len(segment) % 4 == 1:
        raise MalformedJWS("not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedJWS("not base64url") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise MalformedJWS(f"duplicate member {k!r}")
        out[k] = v
    return out


# Headers and claims are flat objects with a few nested ones (delegate, status, address): the
# depth is checked before parsing (~1,000 nested arrays made the parser raise RecursionError).
MAX_JSON_DEPTH = 8
MAX_HEADER_CHARS = 4096


def json_object(data: bytes) -> dict[str, Any]:
    if nesting_depth(data) > MAX_JSON_DEPTH:
        raise MalformedJWS(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        obj = json.loads(data, object_pairs_hook=_no_duplicates)
    except MalformedJWS:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJWS("not a JSON object") from exc
    if not isinstance(obj, dict):
        raise MalformedJWS("not a JSON object")
    return obj


@dataclass(frozen=True)
class CompactJWS:
    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def claims(self) -> dict[str, Any]:
        return json_object(self.payload)


def parse_compact(token: str, *, max_length: int) -> CompactJWS:
    if not isinstance(token, str) or not token:
        raise MalformedJWS("empty token")
    if len(token) > max_length:
        raise MalformedJWS(f"token longer than {max_length} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJWS("not a compact JWS (three dot-separated parts expected)")
    h, p, s = parts
    if len(h) > MAX_HEADER_CHARS:
        raise MalformedJWS(f"header longer than {MAX_HEADER_CHARS} characters")
    header = json_object(b64url_decode(h))
    payload = b64url_decode(p)
    signature = b64url_decode(s)
    if not signature:
        raise MalformedJWS("unsigned token")
    return CompactJWS(header, payload, f"{h}.{p}".encode("ascii"), signature)


class PS256Key(Key):
    """RSASSA-PSS with SHA-256 and a 32-byte salt (RFC 7518 section 3.5), verify only."""

    def __init__(self, key: rsa.RSAPublicKey, algorithm: str = "PS256"):
        self.prepared_key = key

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            self.prepared_key.verify(
                sig,
                msg,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
            return True
        except InvalidSignature:
            return False


def algorithms_for_public_key(key: object) -> tuple[str, ...]:
    """The algorithms a key may be used with: pinned by its type, never by a token header."""
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return ("ES256",)
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return ("RS256", "PS256")
    return ()


def verification_key(public_key: object, alg: str) -> Key:
    """Build the python-jose key object once; callers cache it per (kid, alg)."""
    if alg == "ES256":
        return ECKey(public_key, "ES256")
    if alg == "RS256":
        return RSAKey(public_key, "RS256")
    if alg == "PS256":
        return PS256Key(public_key)  # type: ignore[arg-type]
    raise MalformedJWS(f"algorithm {alg} not allowed")


def public_key_from_jwk(jwk: dict[str, Any]) -> object | None:
    """An RSA (>= 2048 bits) or P-256 public key from a JWK, or None for anything else."""
    try:
        kty = jwk.get("kty")
        if kty == "RSA":
            n = int.from_bytes(b64url_decode(jwk["n"]), "big")
            e = int.from_bytes(b64url_decode(jwk["e"]), "big")
            key = rsa.RSAPublicNumbers(e, n).public_key()
            return key if key.key_size >= MIN_RSA_BITS else None
        if kty == "EC" and jwk.get("crv") == "P-256":
            x = int.from_bytes(b64url_decode(jwk["x"]), "big")
            y = int.from_bytes(b64url_decode(jwk["y"]), "big")
            return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except (KeyError, TypeError, ValueError, MalformedJWS):
        return None
    return None


def ec_public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    nums = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(nums.x.to_bytes(32, "big")),
        "y": b64url_encode(nums.y.to_bytes(32, "big")),
    }


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint, used as `kid`: the same key always gets the same id."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


class InvalidJWS(Exception):
    """Not a genuine token of the expected type from one of the given keys."""


def verify_compact(
    token: str,
    key_for_kid: Callable[[str], Key | None],
    *,
    typ: str,
    alg: str = "ES256",
    max_length: int = 16_384,
) -> dict[str, Any]:
    """Verify one of *our* token types: a single pinned algorithm, an exact `typ`, a `kid` that
    picks the key, and no critical extensions. Returns the claims; time checks are the caller's."""
    try:
        jws = parse_compact(token, max_length=max_length)
        header = jws.header
        if header.get("alg") != alg:
            raise InvalidJWS("algorithm not allowed")
        if header.get("typ") != typ:
            raise InvalidJWS(f"not a {typ} token")
        if "crit" in header:
            raise InvalidJWS("unsupported critical header")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidJWS("no key id")
        key = key_for_kid(kid)
        if key is None:
            raise InvalidJWS("unknown signing key")
        try:
            good = key.verify(jws.signing_input, jws.signature)
        except Exception:
            good = False
        if not good:
            raise InvalidJWS("bad signature")
        return jws.claims()
    except MalformedJWS as exc:
        raise InvalidJWS(str(exc)) from None
