"""Vietnamese first: every message a page can show (the templates' gettext calls and the
routes' tables of texts) has a Vietnamese translation, so no page falls back to English."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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


def _form_errors() -> list[tuple[str, Exception]]:
    """Every kind of mistake the pages' forms can hold, through the very functions the pages
    use to read them (so the API's validation): each field of the grant form, the counter's
    request form and its filing form, empty, too long, out of range or unreadable."""
    from pydantic import ValidationError

    from agents.schemas import SubmissionCreate
    from web.counter import _request_body
    from web.router import _grant_body

    grant = {
        "delegate_type": "agent",
        "agent": "VNPOST",
        "procedures": ["1.001612"],
        "valid_until": "2027-06-30",
        "max_uses": "1",
    }
    ask = {
        "procedures": ["1.001612"],
        "valid_until": "2027-06-30",
        "max_uses": "1",
        "purpose": "Nộp hồ sơ",
    }
    hostile: list[tuple[str, Any, dict[str, Any]]] = []
    for field in ("agent", "valid_until", "max_uses"):
        for bad in ("", "x" * 600, "-1", "1e9", "30/06/2027"):
            hostile.append(("grant", _grant_body, {**grant, field: bad}))
    hostile.append(("grant", _grant_body, {**grant, "procedures": ["x" * 100]}))
    hostile.append(("grant", _grant_body, {**grant, "procedures": [str(n) for n in range(60)]}))
    hostile.append(("grant", _grant_body, {**grant, "delegate_type": "person", "person_pid": ""}))
    hostile.append(
        ("grant", _grant_body, {**grant, "delegate_type": "person", "person_pid": "9" * 40})
    )
    for field in ("purpose", "valid_until", "max_uses", "delegator_pid"):
        for bad in ("", "x" * 600, "-1", "30/06/2027"):
            hostile.append(("request", _request_body, {**ask, field: bad}))
    hostile.append(("request", _request_body, {**ask, "procedures": []}))
    found: list[tuple[str, Exception]] = []
    for form_name, read, form in hostile:
        try:
            read(form)
        except (ValueError, ValidationError) as exc:
            found.append((form_name, exc))
    for procedure in ("", "x" * 100):
        try:
            SubmissionCreate.model_validate(
                {"delegation_token": "t", "procedure": procedure, "dossier": {}}
            )
        except ValidationError as exc:
            found.append(("file", exc))
    return found


def test_every_field_error_a_form_can_produce_is_said_by_its_field_in_vietnamese() -> None:
    from pydantic import ValidationError
    from starlette.requests import Request

    from web.error_texts import FIELD_TEXTS, PROBLEM_TEXTS
    from web.pages import field_problem

    request = Request({"type": "http", "query_string": b"", "headers": [], "method": "GET"})
    vietnamese = translated()
    errors = _form_errors()
    assert len(errors) > 20  # the forms were given mistakes, and refused them
    for form_name, exc in errors:
        said = field_problem(request, exc)
        field, _, problem = said.partition(": ")
        assert field != "Biểu mẫu", (form_name, exc, said)  # the field is named, in words
        assert problem, said
        if isinstance(exc, ValidationError):
            for e in exc.errors():
                assert e["msg"] not in said, said  # never pydantic's English
                assert str(e["type"]) in PROBLEM_TEXTS, (form_name, e)
    assert set(FIELD_TEXTS.values()) | set(PROBLEM_TEXTS.values()) <= vietnamese
