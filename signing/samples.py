"""Small, valid PDFs for trying the service out (`python main.py dev sample-pdf FILE`), written
with pyHanko's own writer: one A4 page of text in Helvetica (ASCII: the standard fonts have no
Vietnamese glyphs)."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import NameObject as N
from pyhanko.pdf_utils.writer import PdfFileWriter


def _escape(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode()
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def sample_pdf(
    title: str = "KET QUA GIAI QUYET THU TUC HANH CHINH", lines: list[str] | None = None
) -> bytes:
    lines = lines or [
        "So Tu phap thanh pho Ha Noi",
        "Phieu ly lich tu phap so 1 (sample document)",
        "This PDF was made by: python main.py dev sample-pdf",
    ]
    w = PdfFileWriter()
    font = w.add_object(
        generic.DictionaryObject(
            {N("/Type"): N("/Font"), N("/Subtype"): N("/Type1"), N("/BaseFont"): N("/Helvetica")}
        )
    )
    text = [f"BT /F1 16 Tf 72 770 Td ({_escape(title)}) Tj ET"]
    text += [
        f"BT /F1 12 Tf 72 {730 - 20 * i} Td ({_escape(line)}) Tj ET" for i, line in enumerate(lines)
    ]
    page = generic.DictionaryObject(
        {
            N("/Type"): N("/Page"),
            N("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(x) for x in (0, 0, 595, 842)]
            ),
            N("/Contents"): w.add_object(
                generic.StreamObject(stream_data="\n".join(text).encode())
            ),
            N("/Resources"): generic.DictionaryObject(
                {N("/Font"): generic.DictionaryObject({N("/F1"): font})}
            ),
        }
    )
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
