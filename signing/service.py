"""Document signing for owners (agencies): which key signs, with which chain, timestamps and
revocation data; and verification against the trust anchors.

Keys come from a key source: the development PKI (signing.pki.DevPki) or configuration
(signing.configured.ConfiguredKeys). Knows nothing of agencies as such: an owner is a code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy.engine import Engine
from sqlmodel import Session

from signing.exceptions import (
    DamagedPdf,
    DocumentWorkersBusy,
    NoSignatureInPdf,
    NoSigningKey,
    TooComplex,
    TooManyDocuments,
)
from signing.hsm import Pkcs11Keys
from signing.keyring import Keyring
from signing.mandate import FoundMandate, Mandate, StoredResults, filed_under
from signing.pades import (
    Level,
    NoSignature,
    PadesService,
    RevocationSource,
    SigningIdentity,
    SignRequest,
    UnreadablePdf,
    etsi_report_in_worker,
    file_signer,
    renew_in_worker,
    sign_in_worker,
    verify_in_worker,
)
from signing.pki import DevPki, Identity
from signing.sandbox import SANDBOX, PdfTooComplex, SandboxBusy


class SigningUnavailable(Exception):
    """No key to sign with for this owner."""


@contextmanager
def _upload_problems() -> Iterator[None]:
    try:
        yield
    except UnreadablePdf as exc:
        raise DamagedPdf(str(exc)) from None
    except NoSignature as exc:
        raise NoSignatureInPdf(str(exc)) from None
    except PdfTooComplex as exc:
        raise TooComplex(str(exc)) from None
    except SigningUnavailable as exc:
        raise NoSigningKey(str(exc)) from None
    except SandboxBusy as exc:
        if exc.per_client:
            raise TooManyDocuments(str(exc)) from None
        raise DocumentWorkersBusy(str(exc)) from None


class KeySource(Protocol):
    def get(self, owner: str) -> Identity | None: ...
    def chain_for(self, owner: str) -> list[x509.Certificate]: ...
    def trust_anchors(self) -> list[x509.Certificate]: ...
    def timestamper(self) -> TimeStamper | None: ...
    def revocation(self) -> RevocationSource | None: ...
    def verification_crls(self) -> list[bytes]: ...


class SigningService:
    def __init__(
        self,
        engine: Engine,
        source: KeySource,
        hsm: Pkcs11Keys | None = None,
        timeout_s: float = 20.0,
        keyring: Keyring | None = None,
        issuer: str = "",
    ):
        self.keyring = keyring  # checks the receipts embedded in results (filed_under)
        # The results agents stored (filed_under compares a document with them); set by the
        # app once agents exist, since agents sit above signing.
        self.results: StoredResults | None = None
        self.issuer = issuer
        self.engine = engine
        self.timeout_s = timeout_s
        self.source = source
        self.hsm = hsm
        self._identities: dict[str, SigningIdentity] = {}
        self._lock = threading.Lock()
        self._pades: PadesService | None = None

    @property
    def pki(self) -> DevPki | None:
        """The development PKI, when that is where keys come from."""
        return self.source if isinstance(self.source, DevPki) else None

    @property
    def pades(self) -> PadesService:
        if self._pades is None:
            self._pades = PadesService(
                self.source.trust_anchors(), self.source.timestamper(), self.source.revocation()
            )
        return self._pades

    def issue_identity(self, session: Session, owner: str, display_name: str) -> None:
        """Give an owner a certificate from the development PKI (if keys come from there)."""
        if self.pki is None:
            return
        public_key = self.hsm.public_key(owner) if self.hsm and owner in self.hsm else None
        self.pki.ensure_identity(session, owner, display_name, datetime.now(UTC), public_key)

    def identity(self, owner: str) -> SigningIdentity:
        cached = self._identities.get(owner)
        if cached is not None:
            return cached
        found = self.source.get(owner)
        if found is None and self.pki is not None:
            with Session(self.engine) as session:
                self.issue_identity(session, owner, owner)
                session.commit()
            found = self.source.get(owner)
        if found is None:
            raise SigningUnavailable(f"no signing key is configured for {owner}")
        if found.revoked_at is not None:
            raise SigningUnavailable(f"the signing certificate of {owner} is revoked")
        chain = self.source.chain_for(owner)
        if self.hsm is not None and owner in self.hsm:
            signer = self.hsm.signer(owner, found.cert, chain)
        elif found.key is not None:
            signer = file_signer(found.cert, found.key, chain)
        else:
            raise SigningUnavailable(f"the key of {owner} is in an HSM that is not configured")
        names = found.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        display = str(names[0].value) if names else owner
        identity = SigningIdentity(owner, display, signer, found.cert, chain)
        with self._lock:
            self._identities[owner] = identity
        return identity

    def sign(
        self,
        pdf: IO[bytes],
        owner: str,
        level: Level,
        visible: bool = False,
        reason: str | None = None,
        *,
        timeout_s: float = 20.0,
        client: str | None = None,
        mandate: Mandate | None = None,
    ) -> bytes:
        """Sign an untrusted upload: the PDF is parsed and written in a sandbox worker (deadline,
        memory cap); the signature itself is made here, where the key is. A `mandate` (an
        agency's result) is embedded first, so the signature covers it."""
        identity = self.identity(owner)
        if level != "B-B" and self.source.timestamper() is None:
            raise SigningUnavailable("no timestamping authority is configured (UYQUYEN_TSA_URL)")
        pades = self.pades
        request = SignRequest(
            pdf=pdf.read(),
            level=level,
            visible=visible,
            reason=reason,
            display_name=identity.display_name,
            cert=identity.cert.public_bytes(serialization.Encoding.DER),
            chain=tuple(c.public_bytes(serialization.Encoding.DER) for c in identity.chain),
            mandate=mandate,
        )
        hsm_owner = self.hsm is not None and owner in self.hsm

        def answer(question: tuple[Any, ...]) -> Any:
            if hsm_owner:
                assert self.hsm is not None
                with self.hsm.sign_lock:  # one PKCS#11 session, used by one thread at a time
                    return pades.answer_worker(identity, question)
            return pades.answer_worker(identity, question)

        return SANDBOX.run(
            sign_in_worker,
            (request,),
            timeout_s=timeout_s,
            client=client or f"owner:{owner}",
            answer=answer,
        )

    def renew(self, pdf: bytes, owner: str, horizon: datetime) -> bytes | None:
        """`results renew` for one signed result: an archive timestamp (B-LTA) if what it rests
        on expires before `horizon`, else None. Parsed in a sandbox worker like any upload;
        revocation data comes from the owner's PKI, issued now."""
        identity = self.identity(owner)
        if self.source.timestamper() is None:
            raise SigningUnavailable("no timestamping authority is configured (UYQUYEN_TSA_URL)")
        pades = self.pades
        result: bytes | None = SANDBOX.run(
            renew_in_worker,
            (pdf, horizon),
            timeout_s=self.timeout_s,
            client="results-renew",
            answer=lambda question: pades.answer_worker(identity, question),
        )
        return result

    def sign_upload(
        self, pdf: IO[bytes], owner: str, level: Level, *, client: str, **options: Any
    ) -> bytes:
        """`sign`, with every refusal as a problem a client can act on."""
        with _upload_problems():
            return self.sign(pdf, owner, level, timeout_s=self.timeout_s, client=client, **options)

    def renew_upload(self, pdf: bytes, owner: str, horizon: datetime) -> bytes | None:
        """`renew`, with every refusal as an AppError (a damaged result, a busy sandbox)."""
        with _upload_problems():
            return self.renew(pdf, owner, horizon)

    def verify_upload(self, pdf: IO[bytes], *, client: str) -> dict[str, Any]:
        """`verify`, with every refusal as a problem a client can act on: API.md's report,
        with `filed_under` for a document that carries its mandate."""
        with _upload_problems():
            signatures, mandate = self.verify(pdf, timeout_s=self.timeout_s, client=client)
        report: dict[str, Any] = {
            "valid": all(s["valid"] for s in signatures),
            "signatures": signatures,
        }
        if mandate is not None and self.keyring is not None:
            covering = signatures[mandate.signature]
            report["filed_under"] = filed_under(
                mandate, bool(covering["valid"]), self.keyring, self.issuer, self.results
            )
        return report

    def verify(
        self,
        pdf: IO[bytes],
        revocation_mode: str = "soft-fail",
        timeout_s: float = 20.0,
        client: str = "anonymous",
    ) -> tuple[list[dict[str, Any]], FoundMandate | None]:
        """Verify an untrusted upload in a sandbox worker, with a deadline and a memory cap."""
        return SANDBOX.run(
            verify_in_worker,
            (
                pdf.read(),
                self.trust_anchors_pem(),
                self.source.verification_crls(),
                revocation_mode,
            ),
            timeout_s=timeout_s,
            client=client,
        )

    def etsi_report_upload(self, pdf: IO[bytes], *, client: str) -> str:
        """An ETSI TS 119 102-2 validation report (XML) of an upload, made in a sandbox worker;
        refusals as for `verify_upload`."""
        with _upload_problems():
            report: str = SANDBOX.run(
                etsi_report_in_worker,
                (pdf.read(), self.trust_anchors_pem()),
                timeout_s=self.timeout_s,
                client=client,
            )
        return report

    def trust_anchors_pem(self) -> bytes:
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in self.source.trust_anchors()
        )

    def timestamp_reply(self, request_der: bytes) -> bytes:
        """RFC 3161: a TimeStampResp for a TimeStampReq, from the development TSA."""
        timestamper = self.source.timestamper()
        assert timestamper is not None
        request = tsp.TimeStampReq.load(request_der)
        _ = request.native  # parse fully now: a malformed request fails here, not halfway
        return timestamper.request_tsa_response(request).dump()  # type: ignore[attr-defined]
