"""PAdES signing (B-B, B-T, B-LT) and verification with pyHanko.

Signing is an incremental update: the original bytes stay as they are. Keys are loaded once per
process and a signer object is built once per owner (the stock SimpleSigner reloads its key per
signature); the signature placeholder is sized in advance, so a document is signed once.
Verification never skips pyHanko's difference analysis: with `skip_diff=True` its bottom line
ignores changes appended after signing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Literal

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509 import ocsp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError, as_signing_certificate, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import ModificationLevel, SignatureCoverageLevel
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

log = logging.getLogger("uyquyen.signing")


def _drop_expected_fetch_warning(record: logging.LogRecord) -> bool:
    # With our own PKI the revocation data is handed in, so fetching is off on purpose; pyHanko
    # would warn about that on every B-LT signature.
    return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_drop_expected_fetch_warning)

Level = Literal["B-B", "B-T", "B-LT"]
LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT")
# Placeholder sizes (bytes of DER, hex-doubled in the file): the CMS with three certificates and
# an ECDSA signature is ~2 KB, a timestamp token with its own chain ~3 KB more.
RESERVED = {"B-B": 8_192, "B-T": 16_384, "B-LT": 16_384}


def ascii_fold(text: str) -> str:
    """Vietnamese without diacritics: pyHanko's default stamp font has no Unicode glyphs."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return (
        "".join(c for c in decomposed if not unicodedata.combining(c))
        .encode("ascii", "replace")
        .decode()
    )


class UnreadablePdf(Exception):
    """Not a PDF this service can open at all."""


class NoSignature(Exception):
    """A PDF without any signature to verify."""


def asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def asn1_private_key(key: Any) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass
class RevocationSource:
    """Fresh revocation data for the certificates we sign with, produced in-process."""

    crls: Callable[[], list[bytes]]
    ocsp_for: Callable[[x509.Certificate], bytes | None]


def ocsp_request_for(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )


@dataclass
class SigningIdentity:
    """What one owner signs with: a pyHanko Signer (file key or PKCS#11) and its chain."""

    owner: str
    display_name: str
    signer: signers.Signer
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)


class _LoadedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner parses its private key from DER on every signature (a millisecond
    for EC, tens for RSA); this one signs with the key object it was given."""

    def __init__(self, key: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        digest = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "ecdsa" and isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(digest))
        if mechanism == "rsassa_pkcs1v15" and isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, PKCS1v15(), digest)
        return super().sign_raw(data, digest_algorithm)  # anything else: pyHanko's own way


def file_signer(cert: x509.Certificate, key: Any, chain: list[x509.Certificate]) -> signers.Signer:
    """A signer holding an already-loaded key (built once, reused for every signature)."""
    return _LoadedKeySigner(
        key,
        signing_cert=asn1_cert(cert),
        signing_key=asn1_private_key(key),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert(c) for c in chain]),
    )


class _DevTimeStamper(DummyTimeStamper):
    """pyHanko's in-process RFC 3161 token builder, with its RSA key loaded once: the stock one
    parses it on every timestamp, ~40 ms, most of a B-T signature. `_sign_tst_info` is the
    stock method with that one line changed (tests/test_hot_paths.py notices if pyHanko renames
    it: the stock key loading comes back)."""

    def __init__(self, key: rsa.RSAPrivateKey, **kwargs: Any):
        super().__init__(**kwargs)
        self._key = key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, asn1_cms.CMSAttributes]:
        signed_attrs = asn1_cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute(
                    "signing_time", asn1_cms.Time({"utc_time": asn1_core.UTCTime(dt)})
                ),
                simple_cms_attribute("signing_certificate", as_signing_certificate(self.tsa_cert)),
                simple_cms_attribute(
                    "message_digest", hashlib.new(md_algorithm, tst_info_data).digest()
                ),
            ]
        )
        digest = get_pyca_cryptography_hash(md_algorithm.upper())
        return self._key.sign(signed_attrs.dump(), PKCS1v15(), digest), signed_attrs


def dev_timestamper(
    tsa_cert: x509.Certificate, tsa_key: Any, chain: list[x509.Certificate]
) -> TimeStamper:
    """An RFC 3161 timestamp authority in-process (pyHanko's token builder), for the dev PKI."""
    return _DevTimeStamper(
        tsa_key,
        tsa_cert=asn1_cert(tsa_cert),
        tsa_key=asn1_private_key(tsa_key),
        certs_to_embed=SimpleCertificateStore.from_certs([asn1_cert(c) for c in chain]),
    )


class PadesService:
    def __init__(
        self,
        trust_roots: list[x509.Certificate],
        timestamper: TimeStamper | None,
        revocation: RevocationSource | None,
    ):
        self.trust_roots = [asn1_cert(c) for c in trust_roots]
        self.timestamper = timestamper
        self.revocation = revocation
        self._lock = threading.Lock()

    # -- signing ---------------------------------------------------------------------------
    def _validation_context(self, identity: SigningIdentity) -> ValidationContext:
        crls, ocsps = [], []
        if self.revocation is not None:
            crls = [asn1_crl.CertificateList.load(c) for c in self.revocation.crls()]
            response = self.revocation.ocsp_for(identity.cert)
            if response is not None:
                ocsps = [asn1_ocsp.OCSPResponse.load(response)]
        return ValidationContext(
            trust_roots=self.trust_roots,
            # Our own PKI answers in-process; a real CA is asked at its CRL/OCSP URLs.
            allow_fetching=self.revocation is None,
            crls=crls,
            ocsps=ocsps,
            other_certs=[asn1_cert(c) for c in identity.chain],
            revocation_mode="hard-fail",
        )

    def sign(
        self,
        pdf: IO[bytes],
        identity: SigningIdentity,
        level: Level,
        *,
        visible: bool = False,
        reason: str | None = None,
    ) -> bytes:
        if level not in LEVELS:
            raise ValueError(f"unknown PAdES level {level}")
        try:
            writer = IncrementalPdfFileWriter(pdf, strict=False)
        except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
            raise UnreadablePdf(f"not a readable PDF: {exc}") from None
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
        field_name = next(
            f"uyquyen-{n}" for n in range(1, 10_000) if f"uyquyen-{n}" not in existing
        )
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location="Hà Nội",
            embed_validation_info=level == "B-LT",
            validation_context=self._validation_context(identity) if level == "B-LT" else None,
        )
        timestamper = None
        if level in ("B-T", "B-LT"):
            if self.timestamper is None:
                raise RuntimeError("no timestamp authority configured")
            timestamper = self.timestamper
        new_field = None
        stamp = None
        if visible:
            new_field = fields.SigFieldSpec(
                sig_field_name=field_name, on_page=0, box=(36, 36, 296, 106)
            )
            stamp = TextStampStyle(
                stamp_text=f"Ky boi / Signed by: {ascii_fold(identity.display_name)}\n%(ts)s"
            )
        pdf_signer = signers.PdfSigner(
            meta,
            identity.signer,
            timestamper=timestamper,
            stamp_style=stamp,
            new_field_spec=new_field,
        )
        out = io.BytesIO()
        try:
            try:
                pdf_signer.sign_pdf(writer, output=out, bytes_reserved=RESERVED[level])
            except SigningError as exc:
                if "allocated" not in str(exc):
                    raise
                # A longer chain than ours (a national CA, RSA-4096) outgrew the placeholder:
                # sign again and let pyHanko measure it (a dry run, then the signature).
                pdf.seek(0)
                writer, out = IncrementalPdfFileWriter(pdf, strict=False), io.BytesIO()
                pdf_signer.sign_pdf(writer, output=out)
        except (PdfError, KeyError, IndexError, TypeError, RecursionError) as exc:
            raise UnreadablePdf(f"the PDF could not be signed: {exc}") from None
        return out.getvalue()

    # -- verification ----------------------------------------------------------------------
    def verify(
        self,
        pdf: IO[bytes],
        extra_crls: list[bytes] | None = None,
        revocation_mode: str = "soft-fail",
    ) -> list[dict[str, Any]]:
        """One entry per signature. `soft-fail` accepts a certificate whose revocation status
        cannot be found; `hard-fail` demands it (from the document's DSS or `extra_crls`)."""
        try:
            reader = PdfFileReader(pdf, strict=False)
            signatures = reader.embedded_signatures
        except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
            raise UnreadablePdf(f"not a readable PDF: {exc}") from None
        if not signatures:
            raise NoSignature("the PDF has no signature")
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except Exception:  # no DSS, or a damaged one: validate without it
            dss = None
        crls = [asn1_crl.CertificateList.load(c) for c in (extra_crls or [])]
        report = []
        for sig in signatures:
            kwargs = {
                "trust_roots": self.trust_roots,
                "allow_fetching": False,
                "revocation_mode": revocation_mode,
                "crls": crls,
            }
            report.append(self._verify_one(sig, dss, kwargs))
        return report

    @staticmethod
    def _verify_one(
        sig: Any, dss: DocumentSecurityStore | None, vc_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "field": sig.field_name,
            "signer": None,
            "signed_at": None,
            "intact": False,
            "trusted": False,
            "valid": False,
            "timestamp": None,
            "coverage": "unclear",
            "modified_after_signing": True,
            "problems": [],
        }
        try:
            cert = sig.signer_cert
            entry["signer"] = {
                "subject": cert.subject.human_friendly,
                "issuer": cert.issuer.human_friendly,
                "serial": format(cert.serial_number, "x"),
            }
        except Exception:
            entry["problems"].append("no readable signer certificate")
        try:
            vc = dss.as_validation_context(vc_kwargs) if dss else ValidationContext(**vc_kwargs)
            status = validate_pdf_signature(
                sig, signer_validation_context=vc, ts_validation_context=vc, skip_diff=False
            )
        except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
            entry["problems"].append(f"the file does not parse cleanly: {exc}")
            return entry
        modified = not (
            status.coverage == SignatureCoverageLevel.ENTIRE_FILE
            or (
                status.modification_level is not None
                and status.modification_level <= ModificationLevel.LTA_UPDATES
                and status.docmdp_ok
            )
        )
        entry.update(
            signed_at=status.signer_reported_dt.isoformat() if status.signer_reported_dt else None,
            intact=bool(status.intact),
            trusted=bool(status.trusted),
            coverage=status.coverage.name.lower() if status.coverage else "unclear",
            modified_after_signing=modified,
        )
        ts = status.timestamp_validity
        if ts is not None:
            entry["timestamp"] = {
                "time": ts.timestamp.isoformat(),
                "intact": bool(ts.intact),
                "trusted": bool(ts.trusted),
                "valid": bool(ts.valid),
                "tsa": ts.signing_cert.subject.human_friendly if ts.signing_cert else None,
            }
        problems = entry["problems"]
        if not status.intact:
            problems.append("the signed bytes were changed")
        elif not status.valid:
            problems.append("the signature value does not verify")
        if status.revoked:
            problems.append("the signer's certificate is revoked")
        elif not status.trusted:
            problems.append("the signer's certificate does not chain to a trusted root")
        if modified:
            level = status.modification_level
            problems.append(
                "the document was changed after signing beyond what PAdES allows"
                f" ({level.name.lower() if level else 'unknown'})"
            )
        if ts is not None and not (ts.intact and ts.valid and ts.trusted):
            problems.append("the timestamp is not valid or not trusted")
        entry["valid"] = bool(status.bottom_line) and not modified and not problems
        return entry
