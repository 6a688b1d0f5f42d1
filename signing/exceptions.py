"""Signing errors.

EmptyFile            422 empty_file
NotAPdf              422 not_a_pdf
DamagedPdf           422 damaged_pdf        the PDF cannot be parsed
NoSignatureInPdf     422 no_signature       nothing to verify
FileTooLarge         413 file_too_large
NoSigningKey         409 no_signing_key     e.g. the owner's certificate is revoked
BadTimestampRequest  400 bad_timestamp_request
"""

from core.errors import BadRequest, Conflict, PayloadTooLarge, Unprocessable


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
