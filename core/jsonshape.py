"""Bounds on JSON that comes from outside: nesting depth, number of members, string lengths.

Python's json parser recurses, and so do pydantic's serializer and our canonicalizer: a value
nested a few hundred levels deep parses, is stored, and then breaks every later read (255 levels
for pydantic), while ~1,000 levels break the parser itself (RecursionError). So what is parsed
from a token is depth-checked before it is parsed, and what is stored is checked after, without
recursion.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A JSON string (with its escapes) or one bracket: everything else cannot nest.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class JsonTooComplex(ValueError):
    """Deeper, larger or longer than allowed; the message says where."""


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it."""
    depth = deepest = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def loads_bounded(data: bytes, *, max_bytes: int, max_depth: int) -> Any:
    """json.loads for small untrusted texts (token headers and claims)."""
    if len(data) > max_bytes:
        raise JsonTooComplex(f"longer than {max_bytes} bytes")
    if nesting_depth(data) > max_depth:
        raise JsonTooComplex(f"nested deeper than {max_depth} levels")
    return json.loads(data)


def check_shape(
    value: Any, *, max_depth: int, max_members: int, max_string: int, max_key: int = 256
) -> None:
    """Walk a parsed value (iteratively) and refuse it past any bound."""
    members = 0
    stack: list[tuple[Any, int, str]] = [(value, 1, "$")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if len(item) > max_string:
                raise JsonTooComplex(f"{path}: a string longer than {max_string} characters")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise JsonTooComplex(f"{path}: nested deeper than {max_depth} levels")
            members += len(item)
            if members > max_members:
                raise JsonTooComplex(f"more than {max_members} members and items in all")
            if isinstance(item, dict):
                for key, child in item.items():
                    if len(key) > max_key:
                        raise JsonTooComplex(f"{path}: a key longer than {max_key} characters")
                    stack.append((child, depth + 1, f"{path}.{key[:40]}"))
            else:
                stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))


def has_control_characters(text: str, *, allow_line_breaks: bool = False) -> bool:
    """NUL and the other C0 controls (and DEL) have no place in names, ids and codes; a
    database may not even store them (PostgreSQL text cannot hold NUL)."""
    pattern = _CONTROL_BUT_LINES if allow_line_breaks else _CONTROL
    return pattern.search(text) is not None
