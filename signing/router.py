from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from audit import service as audit
from core.auth import Principal, require_kind
from core.errors import NotFound
from signing.exceptions import BadTimestampRequest
from signing.pki import DevPki
from signing.service import SigningService
from signing.uploads import checked_pdf

router = APIRouter(tags=["keys"])
MAX_DER_REQUEST = 64 * 1024


@router.get(
    "/.well-known/jwks.json",
    response_class=Response,
    responses={200: {"content": {"application/jwk-set+json": {"schema": {"type": "object"}}}}},
)
async def jwks(request: Request) -> Response:
    """The public keys of everything this service signs (JWK Set)."""
    body = request.app.state.keyring.jwks_json()
    return Response(
        body,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


# -- the development PKI's public services -------------------------------------------------------
pki_router = APIRouter(prefix="/pki", tags=["PKI (development)"])


def _signing(request: Request) -> SigningService:
    return request.app.state.signing


def _dev_pki(request: Request) -> DevPki:
    pki = _signing(request).pki
    if pki is None:  # the router is mounted only with the development PKI
        raise NotFound("there is no development PKI here", code="no_dev_pki")
    return pki


@pki_router.get(
    "/crl/{ca}.crl",
    response_class=Response,
    responses={200: {"content": {"application/pkix-crl": {}}}},
)
def crl(ca: str, request: Request) -> Response:
    """A fresh CRL of the root CA (`root`) or the agency CA (`agency-ca`)."""
    from datetime import UTC, datetime

    if ca not in ("root", "agency-ca"):
        raise NotFound(f"no CRL for {ca!r}", code="crl_not_found")
    body = _dev_pki(request).crl(ca, datetime.now(UTC))
    return Response(
        body, media_type="application/pkix-crl", headers={"Cache-Control": "max-age=300"}
    )


@pki_router.post(
    "/ocsp",
    response_class=Response,
    responses={200: {"content": {"application/ocsp-response": {}}}},
)
async def ocsp(request: Request) -> Response:
    """OCSP responder (RFC 6960) for certificates of the agency CA."""
    from datetime import UTC, datetime

    body = await request.body()
    answer = await run_in_threadpool(
        _dev_pki(request).ocsp_response, body[:MAX_DER_REQUEST], datetime.now(UTC)
    )
    return Response(answer, media_type="application/ocsp-response")


@pki_router.post(
    "/tsa",
    response_class=Response,
    responses={200: {"content": {"application/timestamp-reply": {}}}},
)
async def tsa(request: Request) -> Response:
    """RFC 3161 timestamping authority."""
    body = await request.body()
    if len(body) > MAX_DER_REQUEST:
        raise BadTimestampRequest("timestamp request too large")
    try:
        answer = await run_in_threadpool(_signing(request).timestamp_reply, body)
    except (ValueError, TypeError, KeyError):
        raise BadTimestampRequest("the body is not a DER TimeStampReq") from None
    return Response(answer, media_type="application/timestamp-reply")


# -- signing and verifying PDFs ------------------------------------------------------------------
signatures_router = APIRouter(prefix="/v1/signatures", tags=["signatures"])
Agency = Annotated[Principal, Depends(require_kind("agency"))]


@signatures_router.post(
    "/pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}}
)
def sign_pdf(
    principal: Agency,
    request: Request,
    file: Annotated[UploadFile, File(description="The PDF to sign")],
    level: Annotated[Literal["B-B", "B-T", "B-LT", "B-LTA"], Form()] = "B-LT",
    visible: Annotated[bool, Form(description="Add a visible signature box on page 1")] = False,
) -> Response:
    """Sign a PDF with the calling agency's certificate (PAdES, incremental update)."""
    agency = principal.agency_code or ""
    pdf = checked_pdf(file, request.app.state.settings.max_upload_bytes)
    signed = _signing(request).sign_upload(
        pdf, agency, level, visible=visible, client=f"agency:{agency}"
    )
    with Session(request.app.state.engine) as session:
        audit.record(
            session,
            "document.signed",
            actor=f"agency:{agency}",
            ref=agency,
            data={"agency": agency, "level": level, "sha256": hashlib.sha256(signed).hexdigest()},
        )
        session.commit()  # the signed document is handed out only once it is on the record
    return Response(
        signed,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="signed.pdf"'},
    )


@signatures_router.post(
    "/pdf/verify",
    responses={200: {"content": {"application/json": {}, "application/xml": {}}}},
)
def verify_pdf(
    request: Request,
    file: Annotated[UploadFile, File()],
    report: Annotated[
        Literal["etsi"] | None,
        Query(description="etsi: an ETSI TS 119 102-2 validation report (XML) instead"),
    ] = None,
) -> Any:
    """Verify every signature of a PDF: integrity, trust, timestamp, changes after signing."""
    pdf = checked_pdf(file, request.app.state.settings.max_upload_bytes)
    sender = request.client.host if request.client else "unknown"
    if report == "etsi":
        xml = _signing(request).etsi_report_upload(pdf, client=f"address:{sender}")
        return Response(xml, media_type="application/xml")
    return _signing(request).verify_upload(pdf, client=f"address:{sender}")


@signatures_router.get(
    "/trust-anchors",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
def trust_anchors(request: Request) -> Response:
    """The root certificates the verifier trusts (PEM), to validate offline with any tool."""
    return Response(
        _signing(request).trust_anchors_pem(),
        media_type="application/x-pem-file",
        headers={"Cache-Control": "public, max-age=3600"},
    )
