"""The service keyring: ES256 keys that sign access tokens, delegations, receipts and status lists.

Keys live in the database (private halves encrypted with the key passphrase) so that every
process on every host signs with the same current key and publishes the same JWKS. Each process
keeps the loaded keys in memory: a private key is decrypted once, a key object is built once per
`kid`, and the database is read again only every `refresh_s` seconds or when a token names a `kid`
this process has not seen (another process may have rotated).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws as jose_jws
from jose.backends import ECKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import read_only
from signing.jws import (
    InvalidJWS,
    ec_public_jwk,
    jwk_thumbprint,
    public_key_from_jwk,
    verify_compact,
)
from signing.models import ServiceKey

ALG = "ES256"
# Our own tokens are small; anything bigger is not ours.
MAX_TOKEN_LENGTH = 16_384


class InvalidServiceToken(Exception):
    """A token that is not a genuine, currently published signature of this service."""


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    public_jwk: dict[str, str]
    verifier: ECKey
    signer: ECKey | None  # only the current key's private half is decrypted
    publish_until: datetime | None


def generate_key(passphrase: bytes, now: datetime) -> ServiceKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = ec_public_jwk(private.public_key())
    kid = jwk_thumbprint(jwk)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    ).decode("ascii")
    return ServiceKey(
        kid=kid, alg=ALG, public_jwk=json.dumps(jwk), private_key_pem=pem, created_at=now
    )


def ensure_current_key(session: Session, passphrase: bytes, now: datetime) -> ServiceKey:
    current = _current_row(session)
    if current is None:
        current = generate_key(passphrase, now)
        session.add(current)
        session.flush()
    return current


def rotate(
    session: Session, passphrase: bytes, now: datetime, publish_for: timedelta
) -> ServiceKey:
    """Make a new key current; keep the old ones published while their tokens may be alive."""
    for row in session.exec(select(ServiceKey).where(col(ServiceKey.retired_at).is_(None))):
        row.retired_at = now
        row.publish_until = now + publish_for
        session.add(row)
    new = generate_key(passphrase, now)
    session.add(new)
    session.flush()
    return new


def _current_row(session: Session) -> ServiceKey | None:
    stmt = (
        select(ServiceKey)
        .where(col(ServiceKey.retired_at).is_(None))
        .order_by(col(ServiceKey.created_at).desc(), col(ServiceKey.kid))
        .limit(1)
    )
    return session.exec(stmt).first()


class Keyring:
    def __init__(
        self,
        engine: Engine,
        passphrase: bytes,
        *,
        refresh_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ):
        self._engine = engine
        self._passphrase = passphrase
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, LoadedKey] = {}
        self._current: LoadedKey | None = None
        self._jwks_body = b'{"keys":[]}'
        self._loaded_at = float("-inf")
        self._unknown_kid_reload_at = float("-inf")
        self.reload()

    # -- loading -----------------------------------------------------------------------------
    def reload(self) -> None:
        with Session(read_only(self._engine)) as session:
            rows = list(session.exec(select(ServiceKey)))
            current_row = _current_row(session)
        if current_row is None:
            raise RuntimeError("no service key: run `python main.py db upgrade` (bootstrap) first")
        keys: dict[str, LoadedKey] = {}
        for row in rows:
            known = self._keys.get(row.kid)
            is_current = row.kid == current_row.kid
            if known is not None and (known.signer is not None or not is_current):
                keys[row.kid] = LoadedKey(
                    row.kid,
                    known.public_jwk,
                    known.verifier,
                    known.signer if is_current else None,
                    row.publish_until,
                )
                continue
            jwk = json.loads(row.public_jwk)
            signer = None
            if is_current:
                private = serialization.load_pem_private_key(
                    row.private_key_pem.encode("ascii"), password=self._passphrase
                )
                assert isinstance(private, ec.EllipticCurvePrivateKey)
                signer = ECKey(private, ALG)
                verifier = ECKey(private.public_key(), ALG)
            else:
                verifier = ECKey(public_key_from_jwk(jwk), ALG)
            keys[row.kid] = LoadedKey(row.kid, jwk, verifier, signer, row.publish_until)
        with self._lock:
            self._keys = keys
            self._current = keys[current_row.kid]
            self._loaded_at = self._clock()
            self._jwks_body = self._render_jwks()

    def _render_jwks(self) -> bytes:
        now = self._now_dt()
        published = [
            {**k.public_jwk, "kid": k.kid, "alg": ALG, "use": "sig"}
            for k in sorted(self._keys.values(), key=lambda k: k is not self._current)
            if k.publish_until is None or k.publish_until > now
        ]
        return json.dumps({"keys": published}, separators=(",", ":")).encode()

    def _now_dt(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _maybe_refresh(self) -> None:
        if self._clock() - self._loaded_at >= self._refresh_s:
            self.reload()

    # -- use ---------------------------------------------------------------------------------
    @property
    def current_kid(self) -> str:
        self._maybe_refresh()
        assert self._current is not None
        return self._current.kid

    def jwks_json(self) -> bytes:
        self._maybe_refresh()
        return self._jwks_body

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        self._maybe_refresh()
        key = self._current
        assert key is not None and key.signer is not None
        return jose_jws.sign(
            claims, key.signer, headers={"kid": key.kid, "typ": typ}, algorithm=ALG
        )

    def verify(self, token: str, typ: str) -> dict[str, Any]:
        """Signature, algorithm, type and key of one of our tokens; claims are the caller's."""
        try:
            return verify_compact(
                token, self._verifier_for, typ=typ, alg=ALG, max_length=MAX_TOKEN_LENGTH
            )
        except InvalidJWS as exc:
            raise InvalidServiceToken(str(exc)) from None

    def _verifier_for(self, kid: str) -> ECKey | None:
        key = self._key_for(kid)
        return key.verifier if key else None

    def _key_for(self, kid: str) -> LoadedKey | None:
        self._maybe_refresh()
        key = self._keys.get(kid)
        if key is None and self._clock() - self._unknown_kid_reload_at >= 1.0:
            # Another process may have rotated; look once, but not on every forged kid.
            self._unknown_kid_reload_at = self._clock()
            self.reload()
            key = self._keys.get(kid)
        if key is None:
            return None
        if key.publish_until is not None and key.publish_until <= self._now_dt():
            return None
        return key
