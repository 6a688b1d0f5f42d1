"""Small, valid PDFs written with pyHanko's own writer: `python main.py dev sample-pdf FILE` for
trying the service out, and the documents of the tests and benchmarks. A4 pages of text in
Helvetica (ASCII: the standard fonts have no Vietnamese glyphs)."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import NameObject as N
from pyhanko.pdf_utils.writer import PdfFileWriter

A4 = (0, 0, 595, 842)
TITLE = "KET QUA GIAI QUYET THU TUC HANH CHINH"


def escape(text: str) -> str:
    """Text for a PDF string literal: ASCII, with its delimiters escaped."""
    ascii_text = text.encode("ascii", "replace").decode()
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(contents: list[bytes]) -> bytes:
    """One A4 page per content stream; the streams may use Helvetica as /F1."""
    w = PdfFileWriter()
    font = w.add_object(
        generic.DictionaryObject(
            {N("/Type"): N("/Font"), N("/Subtype"): N("/Type1"), N("/BaseFont"): N("/Helvetica")}
        )
    )
    for content in contents:
        page = generic.DictionaryObject(
            {
                N("/Type"): N("/Page"),
                N("/MediaBox"): generic.ArrayObject([generic.NumberObject(x) for x in A4]),
                N("/Contents"): w.add_object(generic.StreamObject(stream_data=content)),
                N("/Resources"): generic.DictionaryObject(
                    {N("/Font"): generic.DictionaryObject({N("/F1"): font})}
                ),
            }
        )
        w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def sample_pdf(title: str = TITLE, lines: list[str] | None = None) -> bytes:
    lines = lines or [
        "So Tu phap thanh pho Ha Noi",
        "Phieu ly lich tu phap so 1 (sample document)",
        "This PDF was made by: python main.py dev sample-pdf",
    ]
    text = [f"BT /F1 16 Tf 72 770 Td ({escape(title)}) Tj ET"]
    for i, line in enumerate(lines):
        text.append(f"BT /F1 12 Tf 72 {730 - 20 * i} Td ({escape(line)}) Tj ET")
    return text_pdf(["\n".join(text).encode()])
