"""Signing errors.

EmptyFile            422 empty_file
NotAPdf              422 not_a_pdf
DamagedPdf           422 damaged_pdf        the PDF cannot be parsed
NoSignatureInPdf     422 no_signature       nothing to verify
FileTooLarge         413 file_too_large
NoSigningKey         409 no_signing_key     e.g. the owner's certificate is revoked
BadTimestampRequest  400 bad_timestamp_request
TooComplex           422 pdf_too_complex    past the deadline or the memory cap of its worker
TooManyDocuments     429 too_many_concurrent_documents   this sender already has its share
DocumentWorkersBusy  503 document_workers_busy           every worker is busy
"""

from core.errors import (
    BadRequest,
    Conflict,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
)


class EmptyFile(Unprocessable):
    code, title = "empty_file", "The uploaded file is empty"


class NotAPdf(Unprocessable):
    code, title = "not_a_pdf", "The uploaded file is not a PDF"


class DamagedPdf(Unprocessable):
    code, title = "damaged_pdf", "The PDF cannot be read"


class NoSignatureInPdf(Unprocessable):
    code, title = "no_signature", "The PDF has no signature"


class FileTooLarge(PayloadTooLarge):
    code, title = "file_too_large", "The uploaded file is too large"


class NoSigningKey(Conflict):
    code, title = "no_signing_key", "No usable signing key"


class BadTimestampRequest(BadRequest):
    code, title = "bad_timestamp_request", "Not an RFC 3161 timestamp request"


class TooComplex(Unprocessable):
    code, title = "pdf_too_complex", "The PDF is too complex to check"


class TooManyDocuments(TooManyRequests):
    code, title = "too_many_concurrent_documents", "Too many documents in progress"


class DocumentWorkersBusy(ServiceUnavailable):
    code, title = "document_workers_busy", "Every document worker is busy"
