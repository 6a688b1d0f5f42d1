"""Vietnamese first: every message a page can show (the templates' gettext calls and the
routes' tables of texts) has a Vietnamese translation, so no page falls back to English."""

from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

WEB = Path(__file__).resolve().parents[2] / "web"
TABLE_SUFFIXES = ("TEXTS", "LABELS", "STATES")


def translated() -> set[str]:
    with (WEB / "translations/vi/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f, locale="vi")
    return {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string or [""]))
    }


def shown_messages() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for template in sorted((WEB / "templates").glob("*.html")):
        with template.open("rb") as f:
            for _, _, message, _ in babel_extract(
                f, ["_", "gettext", "ngettext"], [], {"extensions": "jinja2.ext.i18n"}
            ):
                text = message if isinstance(message, str) else (message or [None])[0]
                if text:
                    found.add((template.name, text))
    for module in WEB.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if not any(n.endswith(TABLE_SUFFIXES) for n in names):
                    continue
                for value in node.value.values:
                    for leaf in ast.walk(value) if value is not None else []:
                        if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                            if len(leaf.value) > 3:
                                found.add((module.name, leaf.value))
    return found


def test_every_message_a_page_shows_has_a_vietnamese_translation() -> None:
    shown = shown_messages()
    assert len(shown) > 150  # the extraction itself works
    missing = sorted((where, text) for where, text in shown if text not in translated())
    assert not missing, missing


def every_refusal_code() -> set[str]:
    """Every `code` the service can refuse with: its AppError classes' codes, the codes given
    where one is raised (`code="..."`), and the states a refusal names (a delegation's, a
    request's)."""
    import importlib
    import pkgutil
    import typing

    from core.errors import AppError
    from delegation.schemas import DelegationOut

    root = WEB.parent
    for package in ("core", "audit", "signing", "identity", "delegation", "agents", "web"):
        for info in pkgutil.iter_modules([str(root / package)]):
            importlib.import_module(f"{package}.{info.name}")
    codes: set[str] = set()
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.status >= 400:
            codes.add(cls.code)
    for package in ("core", "audit", "signing", "identity", "delegation", "agents", "web"):
        for module in (root / package).glob("*.py"):
            for node in ast.walk(ast.parse(module.read_text())):
                if isinstance(node, ast.keyword) and node.arg == "code":
                    if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                        codes.add(node.value.value)
    statuses = typing.get_args(DelegationOut.model_fields["status"].annotation)
    codes |= set(statuses) | {"approved", "declined", "expired", "cancelled", "not_yet_valid"}
    return codes - {"usable"}


def test_every_refusal_has_a_vietnamese_title_and_explanation() -> None:
    """Refusals appeared in English on Vietnamese pages ("No such authorization request", "The
    uploaded file is not a PDF", ...): each code has a text for people, translated."""
    from web.pages import ERROR_TEXTS

    codes = every_refusal_code()
    assert len(codes) > 70 and "not_a_pdf" in codes and "exhausted" in codes
    missing = sorted(codes - set(ERROR_TEXTS))
    assert not missing, f"refusal codes without a text for people: {missing}"
    done = translated()
    untranslated = sorted(
        (code, text)
        for code, texts in ERROR_TEXTS.items()
        for text in texts
        if text and text not in done
    )
    assert not untranslated, untranslated
