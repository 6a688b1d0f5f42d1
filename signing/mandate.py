"""What a signed result was filed under: before an agency's result is signed, the receipt of the
submission it answers is embedded in the PDF (an embedded file `receipt.jwt`) and the submission
and delegation ids are written in its document information, so the agency's signature covers
them. A verifier reads them back from the revision that signature covers (never from later
updates) and checks the receipt against this service's keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.keyring import InvalidServiceToken, Keyring

RECEIPT_TYP = "receipt+jwt"
RECEIPT_FILE = "receipt.jwt"
SUBMISSION_KEY = "/UyquyenSubmission"
DELEGATION_KEY = "/UyquyenDelegation"
MAX_RECEIPT = 16_384


@dataclass(frozen=True)
class Mandate:
    receipt: str
    submission: str
    delegation: str


def embed_mandate(writer: IncrementalPdfFileWriter, mandate: Mandate) -> None:
    """Into the revision about to be signed."""
    embed.embed_file(
        writer,
        embed.FileSpec(
            file_spec_string=RECEIPT_FILE,
            embedded_data=embed.EmbeddedFileObject.from_file_data(
                writer, data=mandate.receipt.encode(), mime_type="application/jwt"
            ),
            description="Biên nhận hồ sơ / receipt of the submission this result answers",
        ),
    )
    values = {
        SUBMISSION_KEY: generic.TextStringObject(mandate.submission),
        DELEGATION_KEY: generic.TextStringObject(mandate.delegation),
    }
    try:
        info = writer.trailer["/Info"]
    except KeyError:
        info = None
    if isinstance(info, generic.DictionaryObject):
        info.update({generic.NameObject(k): v for k, v in values.items()})
        writer.update_container(info)
    else:
        writer.set_info(
            generic.DictionaryObject({generic.NameObject(k): v for k, v in values.items()})
        )


def read_mandate(reader: PdfFileReader, revision: int) -> Mandate | None:
    """The mandate as it stood in `revision` (the one a signature covers), or None."""
    try:
        history = reader.get_historical_resolver(revision)
        trailer = history.trailer_view

        def as_of_revision(key: str) -> Any:  # resolved within that revision, not the latest
            ref = trailer.raw_get(key)
            return history.get_object(ref.reference) if hasattr(ref, "reference") else ref

        info = as_of_revision("/Info")
        if not isinstance(info, generic.DictionaryObject):
            return None
        submission, delegation = info.get(SUBMISSION_KEY), info.get(DELEGATION_KEY)
        names = as_of_revision("/Root")["/Names"]["/EmbeddedFiles"]["/Names"]
        receipt = None
        for i in range(0, min(len(names), 200), 2):
            if str(names[i]) == RECEIPT_FILE:
                data = names[i + 1].get_object()["/EF"]["/F"].get_object().data
                receipt = data[:MAX_RECEIPT].decode("ascii", errors="replace")
        if not isinstance(submission, str) or not isinstance(delegation, str) or not receipt:
            return None
        return Mandate(receipt, str(submission)[:64], str(delegation)[:64])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None


def filed_under(mandate: Mandate, keyring: Keyring, issuer: str) -> dict[str, Any]:
    """API.md's `filed_under`: the ids as signed, the receipt's facts, and whether the receipt
    is this service's and names that same submission and delegation."""
    try:
        claims: dict[str, Any] = keyring.verify(mandate.receipt, RECEIPT_TYP)
        valid = (
            claims.get("iss") == issuer
            and claims.get("jti") == mandate.submission
            and claims.get("delegation") == mandate.delegation
        )
    except InvalidServiceToken:
        claims, valid = {}, False
    delegate = claims.get("delegate") if isinstance(claims.get("delegate"), dict) else {}
    act = claims.get("act") if isinstance(claims.get("act"), dict) else None
    return {
        "submission": mandate.submission,
        "delegation": mandate.delegation,
        "procedure": claims.get("procedure") if valid else None,
        "agent": delegate.get("code") if valid and delegate else None,
        "counter": act.get("counter") if valid and act else None,
        "act": act if valid else None,
        "receipt_valid": valid,
    }
