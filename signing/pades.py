"""PAdES signing (B-B, B-T, B-LT, B-LTA) and verification with pyHanko.

Signing is an incremental update: the original bytes stay as they are. Keys are loaded once per
process and a signer object is built once per owner (the stock SimpleSigner reloads its key per
signature); the signature placeholder is sized in advance, so a document is signed once.
Verification never skips pyHanko's difference analysis: with `skip_diff=True` its bottom line
ignores changes appended after signing.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import logging
import textwrap
import threading
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import uharfbuzz as hb
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509 import ocsp
from fontTools import ttLib
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    MiB,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.font.api import FontEngine
from pyhanko.pdf_utils.font.opentype import (
    CIDFontType2,
    GlyphAccumulator,
    GlyphAccumulatorFactory,
    _read_ps_name,
)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfDecodeLimitError, PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError, as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import (
    add_validation_info,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import ModificationLevel, SignatureCoverageLevel
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing import asn1_backport  # noqa: F401  (before any CMS is encoded)
from signing.mandate import FoundMandate, Mandate, embed_mandate, read_mandate
from signing.sandbox import PdfTooComplex, ask_parent

log = logging.getLogger("uyquyen.signing")


def _drop_expected_fetch_warning(record: logging.LogRecord) -> bool:
    # With our own PKI the revocation data is handed in, so fetching is off on purpose; pyHanko
    # would warn about that on every B-LT signature.
    return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_drop_expected_fetch_warning)

# Uploads come from anyone. pyHanko's defaults for untrusted input bound object streams and
# the whole document's decoding, but a cross-reference stream may inflate to whatever its /Size
# claims (64 MB from 100 KB, measured: 34 s and 2.1 GB to parse). Real xref streams are
# regular and compress 10-50x; a document with 2 million objects is not a document.
UNTRUSTED_INPUT = DecodeLimits(
    per_purpose={
        **DEFAULT_PURPOSE_LIMITS,
        DecodePurpose.XREF_STREAM: StreamDecodeLimits(
            max_ratio=200, ratio_floor=MiB, max_output_size=16 * MiB
        ),
    }
)

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT", "B-LTA")
# Placeholder sizes (bytes of DER, hex-doubled in the file): the CMS with three certificates and
# an ECDSA signature is ~2 KB, a timestamp token with its own chain ~3 KB more. B-LT and B-LTA
# add their revocation data and document timestamp in later revisions.
RESERVED = {"B-B": 8_192, "B-T": 16_384, "B-LT": 16_384, "B-LTA": 16_384}
ARCHIVE_TIMESTAMP_RESERVED = 12_288


# Noto Sans cut down to Latin and Vietnamese (signing/fonts/subset.py; SIL OFL 1.1): pyHanko's
# default stamp font has no Vietnamese glyphs, and the whole Noto Sans is slow to load.
STAMP_FONT = Path(__file__).resolve().parent / "fonts" / "NotoSans-Vietnamese.ttf"


class _WholeFont(GlyphAccumulator):
    """Embeds our font whole, from bytes compressed once per process: it is already a 37 KB
    subset, and pyHanko's per-signature subset (or even a re-save of the whole font) parses and
    recompiles its tables every time, which made a visible signature 2.5-3.4x an invisible one.
    Glyph ids are those of the file either way (TrueType, CIDToGIDMap /Identity), so the text
    operators pyHanko writes stay valid.

    The parsed font (fontTools tables, glyph set, HarfBuzz face, reversed cmap) is also made once
    per process (`_parsed_stamp_font`): parsing it was ~6 ms of a ~13 ms visible signature. This
    is GlyphAccumulator.__init__ with those parts taken from the cache (tests/signing
    test_visible_signature_and_existing_signature_kept reads the stamp back with pdftotext)."""

    def __init__(self, writer: Any, font_size: int, obj_stream: Any = None):
        font = _parsed_stamp_font()
        FontEngine.__init__(
            self,
            writer,
            font.ps_name,
            embedded_subset=True,
            obj_stream=obj_stream,
            font_size=font_size,
        )
        self.hb_font, self.tt = font.hb_font, font.tt
        self._font_ref = writer.allocate_placeholder()
        self.cff_charset, self.use_raw_gids = None, True  # TrueType outlines
        self.cidfont_obj = font_program = CIDFontType2(font.tt, font.ps_name, self.subset_prefix)
        self.features = None
        self.units_per_em = font.tt["head"].unitsPerEm
        self._glyphs = {}
        self._glyph_set = font.glyph_set
        self._cid_to_unicode = {}
        self._GlyphAccumulator__reverse_cmap = font.reverse_cmap
        self.ot_language_tag = self.ot_script_tag = None
        self.writing_direction = self.bcp47_lang_code = None
        self._subset_created = self._write_prepared = False

        def set_font_file(writer: Any) -> Any:
            stream = generic.StreamObject(
                {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
                encoded_data=_stamp_font_deflated(),
            )
            ref = writer.add_object(stream)
            font_program._font_descriptor[generic.NameObject("/FontFile2")] = ref
            return ref

        font_program.set_font_file = set_font_file  # type: ignore[method-assign]

    def _extract_subset(self, options: Any = None) -> None:
        return None


@dataclass(frozen=True)
class _ParsedFont:
    tt: Any  # fontTools TTFont, every table decompiled (read-only from here on)
    glyph_set: Any
    hb_font: Any
    ps_name: str
    reverse_cmap: dict[str, int]


@functools.cache
def _parsed_stamp_font() -> _ParsedFont:
    tt = ttLib.TTFont(io.BytesIO(_stamp_font_bytes()))
    tt.ensureDecompiled()
    return _ParsedFont(
        tt=tt,
        glyph_set=tt.getGlyphSet(preferCFF=True),
        hb_font=hb.Font(hb.Face(_stamp_font_bytes())),
        ps_name=_read_ps_name(tt),
        reverse_cmap=tt["cmap"].buildReversed(),
    )


@dataclass(frozen=True)
class _StampFont(GlyphAccumulatorFactory):
    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return _WholeFont(writer, font_size=self.font_size, obj_stream=obj_stream)


@functools.cache
def _stamp_font_bytes() -> bytes:
    return STAMP_FONT.read_bytes()


@functools.cache
def _stamp_font_deflated() -> bytes:
    return zlib.compress(_stamp_font_bytes(), 9)


def stamp_style(display_name: str) -> TextStampStyle:
    return TextStampStyle(
        # Wrapped to the box (260 pt of 9 pt Noto Sans: ~48 characters a line).
        stamp_text=unicodedata.normalize(
            "NFC", textwrap.fill(f"Ký bởi / Signed by: {display_name}", 48) + "\n%(ts)s"
        ),
        text_box_style=TextBoxStyle(
            font=_StampFont(str(STAMP_FONT), font_size=9), leading=13
        ),  # room for stacked Vietnamese marks (ễ, ậ) between lines
    )


class UnreadablePdf(Exception):
    """Not a PDF this service can open at all."""


class NoSignature(Exception):
    """A PDF without any signature to verify."""


def _refusal(exc: Exception, what: str) -> Exception:
    if isinstance(exc, PdfDecodeLimitError):
        return PdfTooComplex(f"a stream of the PDF inflates beyond the limits: {exc}")
    return UnreadablePdf(f"{what}: {exc}")


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
    """Revocation data for the certificates we sign with, produced in-process, issued no
    earlier than the given time (a signature's timestamp: ETSI freshness)."""

    crls: Callable[[datetime], list[bytes]]
    ocsp_for: Callable[[x509.Certificate, datetime], bytes | None]


def _plain_name(name: dict[str, Any]) -> str | None:
    """An X.500 name as people say it: its common name (an organization's certificate names
    the organization there: "Sở Tư pháp thành phố Hà Nội"), else its organization."""
    for key in ("common_name", "organization_name"):
        value = name.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


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


# The development TSA's own policy (an OID under 2.25, ITU-T X.667: a UUID needs no registration);
# pyHanko's test TSA would stamp another organisation's policy OID on our tokens.
DEV_TSA_POLICY = "2.25.177061452830462497734917371318208633211"


class _DevTimeStamper(DummyTimeStamper):
    """pyHanko's in-process RFC 3161 token builder, with its RSA key loaded once (the stock one
    parses it on every timestamp, ~40 ms, most of a B-T signature), our own policy OID, and the
    TSA certificate named by ESSCertIDv2 with SHA-256 (RFC 5816) instead of SHA-1 ESSCertID,
    as ETSI EN 319 422 asks. `_build_tst_info` and `_sign_tst_info` are the stock methods with
    those lines changed (tests/test_hot_paths.py notices if pyHanko renames them)."""

    def __init__(self, key: rsa.RSAPrivateKey, **kwargs: Any):
        super().__init__(**kwargs)
        self._key = key

    def _build_tst_info(
        self, message_imprint: asn1_tsp.MessageImprint, dt: datetime, req: asn1_tsp.TimeStampReq
    ) -> asn1_tsp.TSTInfo:
        # Whole seconds, like the revocation data issued after it (CRL and OCSP times have no
        # fraction): a genTime of 10:00:05.7 would come after an OCSP thisUpdate of 10:00:05.
        tst_info = super()._build_tst_info(message_imprint, dt.replace(microsecond=0), req)
        tst_info["policy"] = asn1_tsp.ObjectIdentifier(DEV_TSA_POLICY)
        return tst_info

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, asn1_cms.CMSAttributes]:
        signed_attrs = asn1_cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute(
                    "signing_time", asn1_cms.Time({"utc_time": asn1_core.UTCTime(dt)})
                ),
                simple_cms_attribute(
                    "signing_certificate_v2", as_signing_certificate_v2(self.tsa_cert, "sha256")
                ),
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


@dataclass(frozen=True)
class ValidationInputs:
    """A B-LT signature's validation context, as bytes (it crosses into a worker process)."""

    trust_roots: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    ocsps: tuple[bytes, ...]
    other_certs: tuple[bytes, ...]
    allow_fetching: bool

    def context(self) -> ValidationContext:
        return ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(c) for c in self.trust_roots],
            allow_fetching=self.allow_fetching,
            crls=[asn1_crl.CertificateList.load(c) for c in self.crls],
            ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in self.ocsps],
            other_certs=[asn1_x509.Certificate.load(c) for c in self.other_certs],
            revocation_mode="hard-fail",
        )


@dataclass(frozen=True)
class SignRequest:
    """Everything a worker process needs to sign an untrusted upload, except the key."""

    pdf: bytes
    level: Level
    visible: bool
    reason: str | None
    display_name: str
    cert: bytes  # DER
    chain: tuple[bytes, ...]
    mandate: Mandate | None = None  # an agency's result: what it was filed under


class _ParentSigner(signers.Signer):
    """In a sandbox worker: the CMS signature is made by the parent process, which holds the
    key; this side only knows the certificate (for the field, the stamp and the DSS)."""

    def __init__(self, cert: asn1_x509.Certificate, chain: list[asn1_x509.Certificate]):
        super().__init__(signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs(chain))

    async def async_sign(  # type: ignore[override]
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: TimeStamper | None = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> asn1_cms.ContentInfo:
        signing_time = signed_attr_settings.signing_time if signed_attr_settings else None
        question = (
            "cms",
            data_digest,
            digest_algorithm,
            dry_run,
            use_pades,
            signing_time,
            timestamper is not None,
        )
        return asn1_cms.ContentInfo.load(ask_parent(question))

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False):  # type: ignore[no-untyped-def]
        raise NotImplementedError("the key is in the parent process")


class _ParentTimeStamper(TimeStamper):
    """In a sandbox worker: timestamp tokens come from the parent's timestamping authority."""

    async def async_timestamp(
        self, message_digest: bytes, md_algorithm: str
    ) -> asn1_cms.ContentInfo:
        return asn1_cms.ContentInfo.load(ask_parent(("timestamp", message_digest, md_algorithm)))


def sign_in_worker(request: SignRequest) -> bytes:
    """The sandboxed half of signing an upload: parse, lay out and write the PDF here."""
    cert = asn1_x509.Certificate.load(request.cert)
    chain = [asn1_x509.Certificate.load(c) for c in request.chain]
    timestamper = _ParentTimeStamper() if request.level != "B-B" else None

    def revocation_after(signed_at: datetime) -> ValidationContext:
        inputs: ValidationInputs = ask_parent(("revocation", signed_at))
        return inputs.context()

    return _sign_document(
        io.BytesIO(request.pdf),
        _ParentSigner(cert, chain),
        timestamper,
        request.level,
        request.visible,
        request.reason,
        request.display_name,
        revocation_after,
        request.mandate,
    )


def renew_in_worker(pdf: bytes, horizon: datetime) -> bytes | None:
    """The sandboxed half of renewing a signed result (`results renew`): if the evidence its
    last timestamp rests on (the TSA's certificates, or the signer's) expires before `horizon`,
    add an archive timestamp over it all, with revocation data issued now; else None."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=UNTRUSTED_INPUT)
        if evidence_expires(reader) > horizon:
            return None
        inputs: ValidationInputs = ask_parent(("revocation", datetime.now(UTC)))
        return archive_timestamp(pdf, _ParentTimeStamper(), inputs.context())
    except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise _refusal(exc, "the signed result could not be renewed") from None


def evidence_expires(reader: PdfFileReader) -> datetime:
    """When the newest timestamp of a signed PDF stops being verifiable: the earliest expiry
    of the certificates it rests on (its TSA's chain, and the signer's certificate while only
    a signature timestamp protects the signature)."""
    doc_timestamps = reader.embedded_timestamp_signatures
    if doc_timestamps:
        token = doc_timestamps[-1].signed_data
        certs = [c.chosen for c in token["certificates"] if c.name == "certificate"]
    else:
        signature = reader.embedded_regular_signatures[-1]
        certs = [signature.signer_cert]
        for attr in signature.signer_info["unsigned_attrs"]:
            if attr["type"].native == "signature_time_stamp_token":
                token = attr["values"][0]["content"]
                certs += [c.chosen for c in token["certificates"] if c.name == "certificate"]
    expiries: list[datetime] = [c["tbs_certificate"]["validity"]["not_after"].native for c in certs]
    return min(expiries)


def _sign_document(
    pdf: IO[bytes],
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    level: Level,
    visible: bool,
    reason: str | None,
    display_name: str,
    revocation_after: Callable[[datetime], ValidationContext] | None,
    mandate: Mandate | None = None,
) -> bytes:
    """Sign (B-B, or B-T with a signature timestamp); then, for B-LT and B-LTA, add in a new
    revision the revocation data issued after that timestamp (ETSI: revocation data must be
    fresher than the best-signature-time; embedding it with the signature made it older) and,
    for B-LTA, a document timestamp over it all."""
    try:
        writer = IncrementalPdfFileWriter(pdf, strict=False, decode_limits=UNTRUSTED_INPUT)
        if mandate is not None:  # in the revision the signature covers
            embed_mandate(writer, mandate)
    except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise _refusal(exc, "not a readable PDF") from None
    try:
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
    except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise _refusal(exc, "not a readable PDF") from None
    field_name = next(f"uyquyen-{n}" for n in range(1, 10_000) if f"uyquyen-{n}" not in existing)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location="Hà Nội",
    )
    new_field = None
    stamp = None
    if visible:
        new_field = fields.SigFieldSpec(
            sig_field_name=field_name, on_page=0, box=(36, 36, 296, 106)
        )
        stamp = stamp_style(display_name)
    pdf_signer = signers.PdfSigner(
        meta, signer, timestamper=timestamper, stamp_style=stamp, new_field_spec=new_field
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
            writer = IncrementalPdfFileWriter(pdf, strict=False, decode_limits=UNTRUSTED_INPUT)
            if mandate is not None:
                embed_mandate(writer, mandate)
            out = io.BytesIO()
            pdf_signer.sign_pdf(writer, output=out)
    except (PdfError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise _refusal(exc, "the PDF could not be signed") from None
    if level in ("B-B", "B-T"):
        return out.getvalue()
    assert timestamper is not None and revocation_after is not None
    try:
        signed, context = _with_fresh_revocation_data(out, field_name, revocation_after)
        if level == "B-LTA":
            signed = archive_timestamp(signed, timestamper, context)
    except (PdfError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise _refusal(exc, "the PDF could not be signed") from None
    return signed


def _signature_timestamp(sig: Any) -> datetime:
    """The genTime of a signature's RFC 3161 timestamp (its best-signature-time)."""
    for attr in sig.signer_info["unsigned_attrs"]:
        if attr["type"].native == "signature_time_stamp_token":
            token = attr["values"][0]["content"]
            gen_time: datetime = token["encap_content_info"]["content"].parsed["gen_time"].native
            return gen_time
    raise SigningError("the signature has no timestamp")


def _with_fresh_revocation_data(
    signed: io.BytesIO, field_name: str, revocation_after: Callable[[datetime], ValidationContext]
) -> tuple[bytes, ValidationContext]:
    signed.seek(0)
    reader = PdfFileReader(signed, strict=False, decode_limits=UNTRUSTED_INPUT)
    sig = next(s for s in reader.embedded_signatures if s.field_name == field_name)
    context = revocation_after(_signature_timestamp(sig))
    out = io.BytesIO()
    add_validation_info(sig, context, output=out)
    return out.getvalue(), context


def archive_timestamp(pdf: bytes, timestamper: TimeStamper, context: ValidationContext) -> bytes:
    """A document timestamp (PAdES B-LTA) over the whole file, with the revocation data for
    the previous timestamp added first, so the chain can be renewed before anything expires
    (pyHanko's archival timestamp chain)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=UNTRUSTED_INPUT)
    if reader.embedded_timestamp_signatures:
        stamper = PdfTimeStamper(timestamper, field_name=_next_field(reader, "uyquyen-archive"))
        out = io.BytesIO()
        stamper.update_archival_timestamp_chain(reader, context, in_place=False, output=out)
        return out.getvalue()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False, decode_limits=UNTRUSTED_INPUT)
    stamper = PdfTimeStamper(timestamper, field_name=_next_field(reader, "uyquyen-archive"))
    result = io.BytesIO()
    stamper.timestamp_pdf(
        writer,
        "sha256",
        validation_context=context,
        bytes_reserved=ARCHIVE_TIMESTAMP_RESERVED,
        output=result,
    )
    return result.getvalue()


def _next_field(reader: PdfFileReader, prefix: str) -> str:
    existing = {name for name, _, _ in fields.enumerate_sig_fields(reader)}
    return next(f"{prefix}-{n}" for n in range(1, 10_000) if f"{prefix}-{n}" not in existing)


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
    def validation_inputs(self, identity: SigningIdentity, signed_at: datetime) -> ValidationInputs:
        """What a B-LT signature embeds, as bytes a worker process can take: revocation data
        issued no earlier than `signed_at` (its timestamp; never later than now)."""
        crls: list[bytes] = []
        ocsps: list[bytes] = []
        if self.revocation is not None:
            issued_after = min(signed_at, datetime.now(UTC))
            crls = list(self.revocation.crls(issued_after))
            response = self.revocation.ocsp_for(identity.cert, issued_after)
            if response is not None:
                ocsps = [response]
        return ValidationInputs(
            trust_roots=tuple(c.dump() for c in self.trust_roots),
            crls=tuple(crls),
            ocsps=tuple(ocsps),
            other_certs=tuple(c.public_bytes(serialization.Encoding.DER) for c in identity.chain),
            # Our own PKI answers in-process; a real CA is asked at its CRL/OCSP URLs.
            allow_fetching=self.revocation is None,
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
        """Sign in this process (trusted input: benchmarks, our own documents)."""
        if level not in LEVELS:
            raise ValueError(f"unknown PAdES level {level}")
        timestamper = None
        if level != "B-B":
            if self.timestamper is None:
                raise RuntimeError("no timestamp authority configured")
            timestamper = self.timestamper

        def revocation_after(signed_at: datetime) -> ValidationContext:
            return self.validation_inputs(identity, signed_at).context()

        return _sign_document(
            pdf,
            identity.signer,
            timestamper,
            level,
            visible,
            reason,
            identity.display_name,
            revocation_after,
        )

    def answer_worker(
        self, identity: SigningIdentity, question: tuple[Any, ...]
    ) -> bytes | ValidationInputs:
        """A sandboxed signing job's question (see `sign_in_worker`): the CMS signature over a
        document digest, a timestamp token, or revocation data issued after a signature's
        timestamp, made here where the keys are."""
        if question[0] == "revocation":
            _, signed_at = question
            if not isinstance(signed_at, datetime) or signed_at.tzinfo is None:
                raise ValueError("a timezone-aware time is expected")
            return self.validation_inputs(identity, signed_at)
        if question[0] == "timestamp":
            _, digest, md_algorithm = question
            if self.timestamper is None:
                raise RuntimeError("no timestamp authority configured")
            token = asyncio.run(self.timestamper.async_timestamp(digest, md_algorithm))
            return bytes(token.dump())
        _, digest, md_algorithm, dry_run, use_pades, signing_time, with_timestamp = question
        if with_timestamp and self.timestamper is None:
            raise RuntimeError("no timestamp authority configured")
        signed = asyncio.run(
            identity.signer.async_sign(
                digest,
                md_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=self.timestamper if with_timestamp else None,
                signed_attr_settings=PdfCMSSignedAttributes(signing_time=signing_time),
            )
        )
        return bytes(signed.dump())

    # -- verification ----------------------------------------------------------------------
    def verify(
        self,
        pdf: IO[bytes],
        extra_crls: list[bytes] | None = None,
        revocation_mode: str = "soft-fail",
    ) -> list[dict[str, Any]]:
        """One entry per signature. `soft-fail` accepts a certificate whose revocation status
        cannot be found; `hard-fail` demands it (from the document's DSS or `extra_crls`)."""
        return self.verify_with_mandate(pdf, extra_crls, revocation_mode)[0]

    def verify_with_mandate(
        self,
        pdf: IO[bytes],
        extra_crls: list[bytes] | None = None,
        revocation_mode: str = "soft-fail",
    ) -> tuple[list[dict[str, Any]], FoundMandate | None]:
        """`verify`, and what the document was filed under, as the earliest signature that
        covers a mandate signed it (with the bytes that signature covers, to compare)."""
        try:
            reader = PdfFileReader(pdf, strict=False, decode_limits=UNTRUSTED_INPUT)
            signatures = reader.embedded_signatures
        except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
            raise _refusal(exc, "not a readable PDF") from None
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
        for index, sig in enumerate(signatures):
            try:
                mandate = read_mandate(reader, sig.signed_revision)
            except (PdfError, RecursionError):
                mandate = None
            if mandate is None:
                continue
            try:
                start, len1, start2, len2 = (int(x) for x in sig.byte_range)
            except (TypeError, ValueError):
                return report, None
            if start != 0 or start2 < len1:
                return report, None
            pdf.seek(0)
            signed = pdf.read(start2 + len2)
            return report, FoundMandate(
                mandate, index, len(signed), hashlib.sha256(signed).hexdigest()
            )
        return report, None

    @staticmethod
    def _verify_one(
        sig: Any, dss: DocumentSecurityStore | None, vc_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        document_timestamp = sig.sig_object_type == "/DocTimeStamp"
        entry: dict[str, Any] = {
            "field": sig.field_name,
            "kind": "document_timestamp" if document_timestamp else "signature",
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
                # how a person names them: the organization (or person) and the CA
                "name": _plain_name(cert.subject.native),
                "issuer_name": _plain_name(cert.issuer.native),
            }
        except Exception:
            entry["problems"].append("no readable signer certificate")
        try:
            vc = dss.as_validation_context(vc_kwargs) if dss else ValidationContext(**vc_kwargs)
            status: Any
            if document_timestamp:
                status = validate_pdf_timestamp(sig, validation_context=vc, skip_diff=False)
            else:
                status = validate_pdf_signature(
                    sig, signer_validation_context=vc, ts_validation_context=vc, skip_diff=False
                )
        except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
            entry["problems"].append(f"the file does not parse cleanly: {exc}")
            return entry
        trusted, revoked = bool(status.trusted), bool(status.revoked)
        if not (status.intact and status.valid):
            # pyHanko does not judge the chain of a broken signature; judge it here, so that a
            # tampered document is not also called untrusted when its chain is fine.
            trusted, revoked = _chain_status(sig, vc)
        modified = not (
            status.coverage == SignatureCoverageLevel.ENTIRE_FILE
            or (
                status.modification_level is not None
                and status.modification_level <= ModificationLevel.LTA_UPDATES
                # a document timestamp has no DocMDP of its own to check (None)
                and (status.docmdp_ok or (document_timestamp and status.docmdp_ok is None))
            )
        )
        signed_at = status.timestamp if document_timestamp else status.signer_reported_dt
        entry.update(
            signed_at=signed_at.isoformat() if signed_at else None,
            intact=bool(status.intact),
            trusted=trusted,
            coverage=status.coverage.name.lower() if status.coverage else "unclear",
            modified_after_signing=modified,
        )
        ts = status if document_timestamp else status.timestamp_validity
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
        if revoked:
            problems.append("the signer's certificate is revoked")
        elif not trusted:
            problems.append("the signer's certificate does not chain to a trusted root")
        if modified:
            level = status.modification_level
            problems.append(
                "the document was changed after signing beyond what PAdES allows"
                f" ({level.name.lower() if level else 'unknown'})"
            )
        if (
            not document_timestamp
            and ts is not None
            and not (ts.intact and ts.valid and ts.trusted)
        ):
            problems.append("the timestamp is not valid or not trusted")
        bottom_line = status.valid and status.intact and status.trusted
        if not document_timestamp:
            bottom_line = status.bottom_line
        entry["valid"] = bool(bottom_line) and not modified and not problems
        return entry


def _chain_status(sig: Any, vc: ValidationContext) -> tuple[bool, bool]:
    """(trusted, revoked) of a signature's certificate, judged on its own."""
    try:
        certs = [c.chosen for c in sig.signed_data["certificates"] if c.name == "certificate"]
        validator = CertificateValidator(
            sig.signer_cert, intermediate_certs=certs, validation_context=vc
        )
        asyncio.run(validator.async_validate_usage(set()))
    except RevokedError:
        return False, True
    except Exception:  # noqa: BLE001 - any failure to build or validate a path: not trusted
        return False, False
    return True, False


def verify_in_worker(
    pdf: bytes, roots_pem: bytes, crls: list[bytes], mode: str
) -> tuple[list[dict[str, Any]], FoundMandate | None]:
    """The sandboxed verification of an upload (see signing.sandbox)."""
    service = PadesService(
        x509.load_pem_x509_certificates(roots_pem) if roots_pem else [], None, None
    )
    return service.verify_with_mandate(io.BytesIO(pdf), extra_crls=crls, revocation_mode=mode)


def etsi_report_in_worker(pdf: bytes, roots_pem: bytes) -> str:
    """The sandboxed ETSI TS 119 102-2 validation report of an upload: pyHanko's AdES
    long-term validation (EN 319 102-1 § 5.6.3) of every signature, from the document's own
    DSS and document timestamps (no fetching), one SignatureValidationReport each."""
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko.sign.validation.report import tools as report_tools
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    roots = [asn1_cert(c) for c in x509.load_pem_x509_certificates(roots_pem)] if roots_pem else []
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=roots),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=UNTRUSTED_INPUT)
        signatures = reader.embedded_regular_signatures
    except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise _refusal(exc, "not a readable PDF") from None
    if not signatures:
        raise NoSignature("the PDF has no signature")
    # pyHanko's generate_report() reports on one signature; its parts put several in one.
    reports, objects = [], []
    for sig in signatures:
        try:
            result = asyncio.run(ades_lta_validation(sig, spec))
        except (PdfError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
            raise _refusal(exc, "the PDF does not parse cleanly") from None
        reports.append(report_tools._generate_report(sig, result))
        objects += [report_tools._package_validation_object(vo) for vo in result.validation_objects]
    model = report_tools.ts_11910202
    report = model.ValidationReport(
        signature_validation_report=tuple(reports),
        signature_validation_objects=model.ValidationObjectListType(tuple(objects)),
    )
    return str(
        XmlSerializer(config=SerializerConfig(indent="  ")).render(
            report, ns_map=report_tools.NAMESPACES
        )
    )
