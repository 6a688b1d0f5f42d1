"""RFC 8785 (JCS) canonical JSON, fast.

The `rfc8785` package is a pure-Python serializer: about 25 us for an audit event and 3 ms for
a 120 KB dossier. For the values this service handles (objects, strings,
integers within +-(2^53 - 1), booleans, null, lists) the C `json` encoder with sorted keys and
no spaces writes exactly the JCS bytes: the same escapes (\\b \\f \\n \\r \\t, other controls
as lowercase \\u00xx, everything else literal) and, for keys below U+D800 (Vietnamese
included), the same key order: there UTF-16 code units are the code points. Anything else
(floats, large integers, keys with higher characters, other types) goes to `rfc8785`, so the
output is always the RFC's.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

CanonicalizationError = rfc8785.CanonicalizationError
_MAX_SAFE_INTEGER = 2**53 - 1
_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def _fast_path_applies(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -_MAX_SAFE_INTEGER <= v <= _MAX_SAFE_INTEGER:
                continue
            return False
        if t is dict:
            for k in v:
                if type(k) is not str or (k and max(k) >= "\ud800"):
                    return False
            stack.extend(v.values())
            continue
        if t is list:
            stack.extend(v)
            continue
        return False
    return True


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of `value`; raises CanonicalizationError (a ValueError) when it has
    none (NaN, an integer beyond 2^53, a lone surrogate)."""
    if _fast_path_applies(value):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let rfc8785 refuse it with its own error
    return rfc8785.dumps(value)
