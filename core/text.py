"""Text as people type it: a search key that finds "Nguyễn Thị Lan" from "nguyen thi lan"."""

from __future__ import annotations

import unicodedata


def search_key(text: str) -> str:
    """Case, Vietnamese diacritics and spacing folded away (đ is a letter of its own in
    Unicode, not d with a mark, so it is mapped by hand)."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())
