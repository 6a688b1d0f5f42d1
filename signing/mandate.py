"""What a signed result was filed under: before an agency's result is signed, the receipt of the
submission it answers is embedded in the PDF (an embedded file `receipt.jwt`) and the submission
and delegation ids are written in its document information, so the agency's signature covers
them. A verifier reads them back from the revision that signature covers (never from later
updates) and checks the receipt against this service's keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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


@dataclass(frozen=True)
class FoundMandate:
    """A mandate read from a document, with the signature that covers it: its place in the
    report, and the bytes it signed (from the file's start to the end of its byte range), so
    that they can be compared with the result this service stored."""

    mandate: Mandate
    signature: int
    signed_length: int
    signed_sha256: str


class StoredResults(Protocol):
    """What agents keep (above signing): the signed results this service issued."""

    def result_begins_with(
        self, submission: str, signed_length: int, signed_sha256: str
    ) -> bool | None:
        """True when the submission's stored result begins with exactly these signed bytes
        (later revisions, such as archive timestamps, may follow); False when it does not;
        None when the submission has no result."""
        ...


# Why a document does not answer the dossier its receipt names (filed_under.mismatch).
NOT_THIS_SERVICES_RECEIPT = "receipt_not_genuine"
SIGNATURE_NOT_VALID = "signature_not_valid"
NO_RESULT_STORED = "no_result_stored"
NOT_THE_STORED_RESULT = "not_the_stored_result"


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


MAX_NAME_ENTRIES = 100_000  # a name tree's entries walked at most (a hostile file has millions)
MAX_NAME_DEPTH = 32


def _field(node: Any, key: str, resolve: Any) -> Any:
    try:
        return resolve(node.raw_get(key))
    except KeyError:
        return None


def _find_name(tree: Any, wanted: str, resolve: Any) -> Any:
    """The value of `wanted` in a PDF name tree (ISO 32000 7.9.6): its /Names pairs and its
    /Kids, wherever the entry is (a result may carry many attachments), within bounds."""
    stack: list[tuple[Any, int]] = [(tree, 0)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        node = resolve(node)
        if not isinstance(node, generic.DictionaryObject) or depth > MAX_NAME_DEPTH:
            continue
        names = _field(node, "/Names", resolve)
        if isinstance(names, generic.ArrayObject):
            for i in range(0, len(names) - 1, 2):
                seen += 1
                if seen > MAX_NAME_ENTRIES:
                    return None
                if str(resolve(names.raw_get(i))) == wanted:
                    return names.raw_get(i + 1)
        kids = _field(node, "/Kids", resolve)
        if isinstance(kids, generic.ArrayObject):
            for i in reversed(range(len(kids))):
                seen += 1
                if seen > MAX_NAME_ENTRIES:
                    return None
                stack.append((kids.raw_get(i), depth + 1))
    return None


def read_mandate(reader: PdfFileReader, revision: int) -> Mandate | None:
    """The mandate as it stood in `revision` (the one a signature covers), or None."""
    try:
        history = reader.get_historical_resolver(revision)
        trailer = history.trailer_view

        def resolve(value: Any) -> Any:  # within that revision, not the latest
            return history.get_object(value.reference) if hasattr(value, "reference") else value

        def as_of_revision(key: str) -> Any:
            return resolve(trailer.raw_get(key))

        info = as_of_revision("/Info")
        if not isinstance(info, generic.DictionaryObject):
            return None
        submission, delegation = info.get(SUBMISSION_KEY), info.get(DELEGATION_KEY)
        tree = _field(_field(as_of_revision("/Root"), "/Names", resolve), "/EmbeddedFiles", resolve)
        receipt = None
        spec = _find_name(tree, RECEIPT_FILE, resolve) if tree is not None else None
        if spec is not None:
            data = _field(_field(resolve(spec), "/EF", resolve), "/F", resolve).data
            receipt = data[:MAX_RECEIPT].decode("ascii", errors="replace")
        if not isinstance(submission, str) or not isinstance(delegation, str) or not receipt:
            return None
        return Mandate(receipt, str(submission)[:64], str(delegation)[:64])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None


def filed_under(
    found: FoundMandate,
    signature_valid: bool,
    keyring: Keyring,
    issuer: str,
    results: StoredResults | None,
) -> dict[str, Any]:
    """API.md's `filed_under`. A receipt is not secret (the citizen and the counter hold it, the
    paper receipt prints it), so a genuine one inside a document proves nothing by itself: the
    document answers that dossier only when its covering signature is valid and the signed
    bytes are the result this service stored for that submission (signed there, through the
    result route, with the responsible agency's certificate). Otherwise `receipt_valid` is
    false, nothing of the dossier is reported, and `mismatch` says why."""
    mandate = found.mandate
    try:
        claims: dict[str, Any] = keyring.verify(mandate.receipt, RECEIPT_TYP)
        genuine = (
            claims.get("iss") == issuer
            and claims.get("jti") == mandate.submission
            and claims.get("delegation") == mandate.delegation
        )
    except InvalidServiceToken:
        claims, genuine = {}, False
    mismatch: str | None = None
    if not genuine:
        mismatch = NOT_THIS_SERVICES_RECEIPT
    elif not signature_valid:
        mismatch = SIGNATURE_NOT_VALID
    else:
        stored = (
            results.result_begins_with(mandate.submission, found.signed_length, found.signed_sha256)
            if results is not None
            else None
        )
        if stored is None:
            mismatch = NO_RESULT_STORED
        elif not stored:
            mismatch = NOT_THE_STORED_RESULT
    valid = mismatch is None
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
        "mismatch": mismatch,
    }
