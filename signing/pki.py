"""The development PKI: a root CA, an intermediate CA for agencies, a timestamping authority, and
one signing certificate per owner (agency), with the CRLs and OCSP responses that go with them.

Certificates and encrypted private keys live in the database (`pki_*` tables) so that every
server process signs with, and answers revocation queries for, the same PKI. X.509, CRL and
OCSP structures are built with `cryptography`; nothing here writes ASN.1 by hand.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.db import read_only
from signing.models import PkiCertificate
from signing.pades import RevocationSource, dev_timestamper, ocsp_request_for

ROOT, AGENCY_CA, TSA = "root", "agency-ca", "tsa"
CA_YEARS, LEAF_YEARS = 20, 3
CRL_VALIDITY = timedelta(days=7)


@dataclass(frozen=True)
class Identity:
    """A certificate with its private key (decrypted, loaded once)."""

    name: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None  # None: the key is in an HSM
    revoked_at: datetime | None = None

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def signing_key(self) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
        """The private key of an authority of ours (never in an HSM)."""
        if self.key is None:
            raise RuntimeError(f"{self.name} has no private key here")
        return self.key


# RFC 5280's upper bound of a common name and an organizational unit, which the cryptography
# library counts in UTF-8 bytes: "Ủy ban nhân dân phường ..." reaches it in ~45 characters.
UB_NAME_BYTES = 64


def _fit(text: str) -> str:
    """A name cut to what a certificate holds (an agency's name may be 200 characters)."""
    if len(text.encode()) <= UB_NAME_BYTES:
        return text
    cut = text
    while len(cut.encode()) > UB_NAME_BYTES - len("…".encode()):
        cut = cut[:-1]
    if " " in cut[len(cut) // 2 :]:
        cut = cut.rsplit(" ", 1)[0]  # at a word boundary
    return cut.rstrip(" ,;-—") + "…"


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    common_name, unit = _fit(common_name), _fit(unit) if unit else unit
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uyquyen development PKI"),
    ]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


class DevPki:
    def __init__(self, engine: Engine, passphrase: bytes, public_url: str):
        self._engine = engine
        self._passphrase = passphrase
        self.public_url = public_url
        self._lock = threading.Lock()
        self._loaded: dict[str, Identity] = {}

    # -- URLs this service answers ---------------------------------------------------------
    def crl_url(self, ca: str) -> str:
        return f"{self.public_url}/pki/crl/{ca}.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.public_url}/pki/ocsp"

    @property
    def tsa_url(self) -> str:
        return f"{self.public_url}/pki/tsa"

    # -- storage ---------------------------------------------------------------------------
    def _store(
        self,
        session: Session,
        name: str,
        issuer: str | None,
        cert: x509.Certificate,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None,
    ) -> None:
        pem = (
            b""
            if key is None
            else key.private_bytes(  # no key: it lives in an HSM
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(self._passphrase),
            )
        )
        session.add(
            PkiCertificate(
                name=name,
                issuer=issuer,
                serial=format(cert.serial_number, "x"),
                cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                key_pem=pem.decode("ascii"),
                created_at=cert.not_valid_before_utc,
            )
        )

    def get(self, name: str) -> Identity | None:
        """A stored identity, loaded (and its key decrypted) once per process."""
        found = self._loaded.get(name)
        if found is not None:
            return found
        with Session(read_only(self._engine)) as session:
            row = session.get(PkiCertificate, name)
        if row is None:
            return None
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None
        if row.key_pem:
            loaded = serialization.load_pem_private_key(
                row.key_pem.encode(), password=self._passphrase
            )
            assert isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
            key = loaded
        identity = Identity(
            name, x509.load_pem_x509_certificate(row.cert_pem.encode()), key, row.revoked_at
        )
        if row.revoked_at is None:
            self._loaded[name] = identity  # revoked ones are re-read: they must not be used
        return identity

    def _require(self, name: str) -> Identity:
        identity = self.get(name)
        if identity is None:
            raise RuntimeError(f"the development PKI has no {name!r}: run bootstrap first")
        return identity

    # -- creation --------------------------------------------------------------------------
    def ensure_authorities(self, session: Session, now: datetime) -> None:
        """Root, agency CA and TSA, created once (first start)."""
        if session.get(PkiCertificate, ROOT) is not None:
            return
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = self._ca_cert(
            _name("uyquyen Dev Root CA"), root_key, None, root_key, now, path_len=1
        )
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = self._ca_cert(
            _name("uyquyen Dev Agency CA"), ca_key, root, root_key, now, path_len=0, crl_of=ROOT
        )
        # pyHanko's RFC 3161 token builder signs with RSA only.
        tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tsa = self._leaf(
            _name("uyquyen Dev Timestamping Authority"),
            tsa_key.public_key(),
            ca,
            ca_key,
            now,
            timestamping=True,
        )
        self._store(session, ROOT, None, root, root_key)
        self._store(session, AGENCY_CA, ROOT, ca, ca_key)
        self._store(session, TSA, AGENCY_CA, tsa, tsa_key)
        session.flush()

    def ensure_identity(
        self, session: Session, name: str, display_name: str, now: datetime, public_key: Any = None
    ) -> Identity:
        """The signing identity of an owner (an agency code), issued on first need: with a key
        made here, or for `public_key` whose private half is held elsewhere (an HSM)."""
        existing = self.get(name)
        if existing is not None:
            return existing
        ca = self._require(AGENCY_CA)
        key = ec.generate_private_key(ec.SECP256R1()) if public_key is None else None
        subject_key = key.public_key() if key is not None else public_key
        cert = self._leaf(_name(display_name, unit=name), subject_key, ca.cert, ca.signing_key, now)
        try:
            with session.begin_nested():
                self._store(session, name, AGENCY_CA, cert, key)
        except IntegrityError:  # another process issued it first
            pass
        return Identity(name, cert, key)

    def revoke(self, session: Session, name: str, when: datetime) -> None:
        row = session.get(PkiCertificate, name)
        if row is None or name in (ROOT, AGENCY_CA):
            raise KeyError(name)
        row.revoked_at = when
        session.add(row)
        session.flush()
        self._loaded.pop(name, None)

    def _ca_cert(
        self,
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Certificate | None,
        issuer_key: Any,
        now: datetime,
        path_len: int,
        crl_of: str | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if crl_of:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(self.crl_url(crl_of))], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def _leaf(
        self,
        subject: x509.Name,
        public_key: Any,
        ca: x509.Certificate,
        ca_key: Any,
        now: datetime,
        timestamping: bool = False,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * LEAF_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(self.crl_url(AGENCY_CA))],
                            None,
                            None,
                            None,
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            x509.AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(self.ocsp_url),
                        )
                    ]
                ),
                critical=False,
            )
        )
        if timestamping:
            builder = builder.add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
        else:
            # digitalSignature + nonRepudiation (contentCommitment): a document signing certificate.
            builder = builder.add_extension(
                x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                critical=True,
            )
        return builder.sign(ca_key, hashes.SHA256())

    # -- revocation ------------------------------------------------------------------------
    def _revoked_under(self, issuer: str) -> list[PkiCertificate]:
        with Session(read_only(self._engine)) as session:
            return list(
                session.exec(
                    select(PkiCertificate).where(
                        col(PkiCertificate.issuer) == issuer,
                        col(PkiCertificate.revoked_at).is_not(None),
                    )
                )
            )

    def crl(self, ca_name: str, now: datetime, issued_after: datetime | None = None) -> bytes:
        """A fresh DER CRL of the given CA (root or agency-ca). Backdated a minute for relying
        parties' clocks, but never before `issued_after` (a signature's timestamp: B-LT)."""
        ca = self._require(ca_name)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(_issue_time(now, issued_after))
            .next_update(now + CRL_VALIDITY)
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.signing_key.public_key()),
                critical=False,
            )
        )
        for row in self._revoked_under(ca_name):
            assert row.revoked_at is not None
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(row.serial, 16))
                .revocation_date(row.revoked_at)
                .build()
            )
        return builder.sign(ca.signing_key, hashes.SHA256()).public_bytes(
            serialization.Encoding.DER
        )

    def ocsp_response(
        self, request_der: bytes, now: datetime, issued_after: datetime | None = None
    ) -> bytes:
        """Answer an OCSP request about a certificate issued by the agency CA (thisUpdate as
        for `crl`)."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            ).public_bytes(serialization.Encoding.DER)
        ca = self._require(AGENCY_CA)
        serial = format(request.serial_number, "x")
        with Session(read_only(self._engine)) as session:
            row = session.exec(
                select(PkiCertificate).where(
                    col(PkiCertificate.serial) == serial, col(PkiCertificate.issuer) == AGENCY_CA
                )
            ).first()
        if row is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(serialization.Encoding.DER)
        cert = x509.load_pem_x509_certificate(row.cert_pem.encode())
        status = ocsp.OCSPCertStatus.REVOKED if row.revoked_at else ocsp.OCSPCertStatus.GOOD
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=cert,
                issuer=ca.cert,
                algorithm=request.hash_algorithm,
                cert_status=status,
                this_update=_issue_time(now, issued_after),
                next_update=now + timedelta(days=1),
                revocation_time=row.revoked_at,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert)
        )
        nonce = next((e for e in request.extensions if isinstance(e.value, x509.OCSPNonce)), None)
        if nonce is not None:
            builder = builder.add_extension(nonce.value, critical=False)
        return builder.sign(ca.signing_key, hashes.SHA256()).public_bytes(
            serialization.Encoding.DER
        )

    def trust_anchors_pem(self) -> bytes:
        return self._require(ROOT).cert_pem

    def chain(self) -> list[x509.Certificate]:
        """The certificates between an agency certificate and the root (inclusive)."""
        return [self._require(AGENCY_CA).cert, self._require(ROOT).cert]

    # -- the key source interface (as signing.configured.ConfiguredKeys) --------------------
    def chain_for(self, owner: str) -> list[x509.Certificate]:
        return self.chain()

    def trust_anchors(self) -> list[x509.Certificate]:
        return [self._require(ROOT).cert]

    def timestamper(self) -> TimeStamper:
        tsa = self._require(TSA)
        return dev_timestamper(tsa.cert, tsa.key, self.chain())

    def revocation(self) -> RevocationSource:
        """Revocation data for B-LT, produced in-process (no HTTP to ourselves)."""
        ca = self._require(AGENCY_CA).cert
        return RevocationSource(
            crls=self.verification_crls,
            ocsp_for=lambda cert, issued_after: self.ocsp_response(
                ocsp_request_for(cert, ca), datetime.now(UTC), issued_after
            ),
        )

    def verification_crls(self, issued_after: datetime | None = None) -> list[bytes]:
        now = datetime.now(UTC)
        return [self.crl(AGENCY_CA, now, issued_after), self.crl(ROOT, now, issued_after)]


def _issue_time(now: datetime, issued_after: datetime | None) -> datetime:
    backdated = now - timedelta(minutes=1)
    if issued_after is None:
        return backdated
    return min(max(backdated, issued_after), now)
