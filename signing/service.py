"""Document signing for owners (agencies): which key signs, with which chain, timestamps and
revocation data; and verification against the configured trust anchors.

Knows nothing of agencies as such: an owner is a code and a display name.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import IO, Any

from asn1crypto import tsp
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import Engine
from sqlmodel import Session

from signing.hsm import Pkcs11Keys
from signing.pades import (
    Level,
    PadesService,
    RevocationSource,
    SigningIdentity,
    dev_timestamper,
    file_signer,
    ocsp_request_for,
)
from signing.pki import AGENCY_CA, ROOT, TSA, DevPki
from signing.sandbox import VERIFIERS


class SigningUnavailable(Exception):
    """No key to sign with for this owner."""


def _now() -> datetime:
    return datetime.now(UTC)


class SigningService:
    def __init__(self, engine: Engine, pki: DevPki | None, hsm: Pkcs11Keys | None = None):
        self.engine = engine
        self.pki = pki
        self.hsm = hsm
        self._identities: dict[str, SigningIdentity] = {}
        self._lock = threading.Lock()
        self._pades: PadesService | None = None

    @property
    def pades(self) -> PadesService:
        if self._pades is None:
            if self.pki is None:
                raise SigningUnavailable("no PKI is configured for signing")
            ca, root, tsa_identity = (self.pki.get(n) for n in (AGENCY_CA, ROOT, TSA))
            if ca is None or root is None or tsa_identity is None:
                raise SigningUnavailable("the PKI is not set up")
            chain = [ca.cert, root.cert]
            revocation = RevocationSource(
                crls=lambda: [self.pki.crl(AGENCY_CA, _now()), self.pki.crl(ROOT, _now())],
                ocsp_for=lambda cert: self.pki.ocsp_response(
                    ocsp_request_for(cert, ca.cert), _now()
                ),
            )
            self._pades = PadesService(
                [root.cert], dev_timestamper(tsa_identity.cert, tsa_identity.key, chain), revocation
            )
        return self._pades

    def issue_identity(self, session: Session, owner: str, display_name: str) -> None:
        """Give an owner a signing certificate from the development PKI (if there is one)."""
        if self.pki is None:
            return
        public_key = self.hsm.public_key(owner) if self.hsm and owner in self.hsm else None
        self.pki.ensure_identity(session, owner, display_name, _now(), public_key=public_key)

    def identity(self, owner: str) -> SigningIdentity:
        cached = self._identities.get(owner)
        if cached is not None:
            return cached
        if self.pki is None:
            raise SigningUnavailable("no PKI is configured for signing")
        found = self.pki.get(owner)
        if found is None:
            with Session(self.engine) as session:
                self.issue_identity(session, owner, owner)
                session.commit()
            found = self.pki.get(owner)
            assert found is not None
        if found.revoked_at is not None:
            raise SigningUnavailable(f"the signing certificate of {owner} is revoked")
        chain = self.pki.chain()
        display = found.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        if self.hsm is not None and owner in self.hsm:
            signer = self.hsm.signer(owner, found.cert, chain)
        elif found.key is not None:
            signer = file_signer(found.cert, found.key, chain)
        else:
            raise SigningUnavailable(f"the key of {owner} is in an HSM that is not configured")
        identity = SigningIdentity(owner, str(display), signer, found.cert, chain)
        with self._lock:
            self._identities[owner] = identity
        return identity

    def forget(self, owner: str) -> None:
        self._identities.pop(owner, None)

    def sign(
        self,
        pdf: IO[bytes],
        owner: str,
        level: Level,
        visible: bool = False,
        reason: str | None = None,
    ) -> bytes:
        identity = self.identity(owner)
        if self.hsm is not None and owner in self.hsm:
            with self.hsm.sign_lock:  # one PKCS#11 session, used by one thread at a time
                return self.pades.sign(pdf, identity, level, visible=visible, reason=reason)
        return self.pades.sign(pdf, identity, level, visible=visible, reason=reason)

    def verify(
        self, pdf: IO[bytes], revocation_mode: str = "soft-fail", timeout_s: float = 20.0
    ) -> list[dict[str, Any]]:
        """Verify an untrusted upload in a worker process, with a deadline."""
        crls = [self.pki.crl(AGENCY_CA, _now()), self.pki.crl(ROOT, _now())] if self.pki else []
        return VERIFIERS.verify(
            pdf.read(), self.trust_anchors_pem(), crls, revocation_mode, timeout_s
        )

    def trust_anchors_pem(self) -> bytes:
        return self.pki.trust_anchors_pem() if self.pki else b""

    def timestamp_reply(self, request_der: bytes) -> bytes:
        """RFC 3161: a TimeStampResp for a TimeStampReq, from the development TSA."""
        timestamper = self.pades.timestamper
        assert timestamper is not None
        request = tsp.TimeStampReq.load(request_der)
        _ = request.native  # parse fully now: a malformed request fails here, not halfway
        return timestamper.request_tsa_response(request).dump()  # type: ignore[attr-defined]
