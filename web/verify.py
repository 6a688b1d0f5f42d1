"""The public verifier page: paste (or scan, then the page fills it in) a receipt or a delegation
token and read, in plain words, whether it is genuine and what it says. Nothing here needs a
login, and nothing changes state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from agents import service as agents_service
from agents import submissions as submissions_service
from core.auth import session_principal
from core.clock import utcnow
from core.errors import AppError
from delegation import service as delegation_service
from signing.exceptions import NotAPdf
from signing.jws import MalformedJWS, parse_compact
from signing.uploads import checked_pdf
from web.pages import ERROR_TEXTS, language_of, render, translations

router = APIRouter(include_in_schema=False)

MAX_TOKEN = 16_384

# The verifier's problems (signing.pades), by the words they start with: the page says them in
# the reader's language; the API's English text (with any detail) is kept for the rest.
CAUSES = (
    "the signed bytes were changed",
    "the signature value does not verify",
    "the signer's certificate is revoked",
    "the signer's certificate does not chain to a trusted root",
    "the document was changed after signing beyond what PAdES allows",
    "the timestamp is not valid or not trusted",
    "the file does not parse cleanly",
    "no readable signer certificate",
)


# Why a document that carries a receipt does not answer that dossier (filed_under.mismatch).
MISMATCH_TEXTS = {
    "receipt_not_genuine": "The receipt inside is not genuine or names another dossier",
    "signature_not_valid": (
        "The document names a dossier, but its signature does not hold: it is not that "
        "dossier's result"
    ),
    "no_result_stored": (
        "The document names a dossier that has not been answered: it is not that dossier's result"
    ),
    "not_the_stored_result": (
        "The document names a dossier, but it is not the result the agency returned for it"
    ),
}


# What a checked token means for the person holding it (a delegation's status, or why a text
# is not one: the API's reasons stay in English for programs).
VERIFY_TEXTS = {
    "active": "The authorization can be used now.",
    "pending": "Waiting for the person authorized to accept it: it cannot be used yet.",
    "revoked": "The citizen revoked it: it can no longer be used.",
    "renounced": "The person authorized renounced it: it can no longer be used.",
    "expired": "Its time is over: it can no longer be used.",
    "exhausted": "Every use it allowed has been made: it can no longer be used.",
    "suspended": "The agent is suspended: it cannot be used until the agent is reinstated.",
    "invalid": (
        "This is not a receipt or an authorization signed by this service, or it was changed "
        "after signing."
    ),
    "empty": "Paste the text of the QR code first, or scan it.",
}


def _cause(problem: str) -> str:
    return next((cause for cause in CAUSES if problem.startswith(cause)), problem)


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(request: Request) -> Response:
    me = await session_principal(request)
    return render(request, "verify.html", me=me, token="", report=None)


@router.post("/verify", response_class=HTMLResponse)
async def verify_token(request: Request) -> Response:
    me = await session_principal(request)
    form = await request.form()
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    if not token or len(token) > MAX_TOKEN:
        report: dict[str, Any] = {"valid": False, "kind": None, "reason": "empty"}
        return render(
            request, "verify.html", 422, me=me, token="", report=report, verify_texts=VERIFY_TEXTS
        )
    report = await run_in_threadpool(_check, request, token)
    return render(
        request, "verify.html", me=me, token=token, report=report, verify_texts=VERIFY_TEXTS
    )


def _check(request: Request, token: str) -> dict[str, Any]:
    state = request.app.state
    try:  # which kind of token it says it is; the check proper comes after
        typ = parse_compact(token, max_length=MAX_TOKEN).header.get("typ")
    except (MalformedJWS, ValueError):
        typ = None
    with Session(state.read_engine) as session:
        names = {p.code: p.name for p in agents_service.list_procedures(session)}
        if typ == submissions_service.RECEIPT_TYP:
            checked = submissions_service.check_receipt(
                session, state.keyring, state.settings.public_url, token
            )
            c = checked.claims or {}
            act = c.get("act") if isinstance(c.get("act"), dict) else None
            counter_name = (
                agents_service.counter_label(session, act["counter"])
                if act and isinstance(act.get("counter"), str)
                else None
            )
            return {
                "kind": "receipt",
                "valid": checked.valid,
                "reason": checked.reason,
                "submission": c.get("jti"),
                "filed_at": _at(c.get("iat")),
                "procedure": c.get("procedure"),
                "procedure_name": names.get(str(c.get("procedure")), ""),
                "delegation": c.get("delegation"),
                "act": act,
                "counter_name": counter_name,
                "dossier_sha256": c.get("dossier_sha256"),
                "status": checked.status,
            }
        result = delegation_service.verify(
            session, state.keyring, state.delegation_config, token, utcnow()
        )
        c = result.claims or {}
        return {
            "kind": "delegation",
            "valid": result.valid,
            "status": result.status,
            "reason": result.reason,
            "delegation": c.get("jti"),
            "procedures": [names.get(p, p) for p in c.get("procedures", [])]
            if isinstance(c.get("procedures"), list)
            else [],
            "valid_until": _at(c.get("exp")),
            "claims": json.dumps(c, ensure_ascii=False, indent=1) if c else None,
        }


def _at(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


@router.post("/verify/pdf", response_class=HTMLResponse)
async def verify_pdf(request: Request) -> Response:
    """A dropped PDF, checked by the same verifier as the API, in the same sandbox (one upload
    in flight per address, size-capped, parsed in a worker process with a deadline)."""
    me = await session_principal(request)
    state = request.app.state
    sender = request.client.host if request.client else "unknown"
    async with request.form() as form:
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile):
                raise NotAPdf("choose a PDF file")
            pdf = checked_pdf(upload, state.settings.max_upload_bytes)
            report = await run_in_threadpool(
                state.signing.verify_upload, pdf, client=f"address:{sender}"
            )
            signatures = report["signatures"]
        except AppError as exc:
            _ = translations(language_of(request)).gettext
            title, explanation = ERROR_TEXTS.get(exc.code, (exc.title, ""))
            problem = f"{_(title)}. {_(explanation)}" if explanation else _(title)
            name = upload.filename if isinstance(upload, UploadFile) else None
            if exc.code == "no_signature":  # a PDF, readable, that nobody signed: say just that
                problem = ""
            pdf_report = {"valid": False, "problem": problem, "signatures": [], "name": name}
            return render(
                request, "verify.html", exc.status, me=me, token="", pdf_report=pdf_report
            )
    for sig in signatures:
        sig["causes"] = [_cause(p) for p in sig.get("problems", [])]
    for sig in signatures:  # shown in Hanoi's time, as every date on these pages
        try:
            sig["signed_at"] = datetime.fromisoformat(str(sig.get("signed_at")))
        except ValueError:
            sig["signed_at"] = None
    filed = report.get("filed_under")
    counter_name = procedure_name = None
    if filed and filed["receipt_valid"]:  # names, as the receipt page prints them
        with Session(state.read_engine) as session:
            if filed["counter"]:
                counter_name = agents_service.counter_label(session, filed["counter"])
            names = {p.code: p.name for p in agents_service.list_procedures(session)}
            procedure_name = names.get(str(filed["procedure"]))
    pdf_report = {
        "valid": bool(signatures) and all(sig["valid"] for sig in signatures),
        "signatures": signatures,
        "name": upload.filename,
        "filed_under": filed,
        "counter_name": counter_name,
        "procedure_name": procedure_name,
    }
    return render(
        request,
        "verify.html",
        me=me,
        token="",
        pdf_report=pdf_report,
        mismatch_texts=MISMATCH_TEXTS,
    )
