"""Uploaded PDFs: already spooled to a temporary file by the multipart parser; here they are
measured and sniffed before any PDF parser sees them."""

from __future__ import annotations

from typing import IO

from starlette.datastructures import UploadFile  # FastAPI's is a subclass: both fit

from signing.exceptions import EmptyFile, FileTooLarge, NotAPdf

DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024


def checked_pdf(upload: UploadFile, max_bytes: int = DEFAULT_MAX_UPLOAD) -> IO[bytes]:
    f = upload.file
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    if size == 0:
        raise EmptyFile("the uploaded file is empty")
    if size > max_bytes:
        raise FileTooLarge(f"the file is {size} bytes; the limit is {max_bytes}")
    head = f.read(1024)
    f.seek(0)
    # The header may follow a little junk (PDF 32000-1, 7.5.2 tolerance in readers).
    if b"%PDF-" not in head:
        raise NotAPdf("the file does not start with a PDF header")
    return f
