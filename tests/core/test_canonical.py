"""The fast canonical JSON must write exactly what the RFC 8785 reference writes: audit leaves and
dossier hashes are recomputed by verifiers that implement the RFC, not our shortcut."""

from __future__ import annotations

import random

import pytest
import rfc8785

from core.canonical import CanonicalizationError, _fast_path_applies, canonical_json

TRICKY = [
    "",
    "a",
    'quote " and backslash \\',
    "/slash/",
    "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f",
    "Nguyễn Thị Lan, Hà Đông",
    "emoji 😀 and 𝄞",
    "\u2028\u2029",
    "\ue000\uffff",
    "tab\there",
    "<script>",
    "\u00e9\u0301",
]


def _random_value(rng: random.Random, depth: int = 0):  # type: ignore[no-untyped-def]
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice(TRICKY) + "".join(
            chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(6))
        )
    if kind == 1:
        return rng.choice([0, -1, 1, 2**53 - 1, -(2**53 - 1), rng.randrange(-(10**9), 10**9)])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(TRICKY)
    if kind == 4:
        if rng.random() < 0.05:  # floats take rfc8785's own path; keep most documents fast
            return rng.choice([0.5, 1.0, -2.25, 1e21, 1e-7, 100.0, 3.141592653589793])
        return rng.choice(TRICKY)
    if kind in (5, 6):
        keys = ["a", "B", "_", "z9", "aa", "a b", "ñ", "họ_tên", "Ư", "key\n", ""]
        if rng.random() < 0.1:  # keys whose UTF-16 order differs from code points: rfc8785's path
            keys += ["𝄞", "\ue000", "\uffff"]
        return {
            rng.choice(keys) + str(rng.randrange(3)): _random_value(rng, depth + 1)
            for _ in range(rng.randrange(5))
        }
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_matches_the_reference_on_random_documents() -> None:
    rng = random.Random(8785)
    nested_fast = 0
    for _ in range(3000):
        value = _random_value(rng)
        assert canonical_json(value) == rfc8785.dumps(value), value
        nested_fast += (
            isinstance(value, dict | list) and len(value) > 1 and _fast_path_applies(value)
        )
    assert nested_fast > 500  # the comparison really exercised the shortcut


def test_matches_the_reference_on_every_control_character_and_key_order() -> None:
    value = {chr(c): chr(c) for c in range(0x80)} | {
        "Z": 1,
        "a": [1, "x"],
        "\u00e9": 2,
        "😀": 3,
        "\ue000": 4,
    }
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


def test_audit_event_shape_takes_the_fast_path_and_is_exact() -> None:
    event = {
        "seq": 41,
        "kind": "submission.accepted",
        "ref": "sub_1",
        "actor": "agent:VNPOST",
        "subjects": ["001099012345"],
        "data": {
            "uses": 3,
            "delegate": {"type": "agent", "code": "VNPOST"},
            "operator": None,
            "ok": True,
        },
        "at": "2026-11-24T10:00:00.000000+00:00",
    }
    assert canonical_json(event) == rfc8785.dumps(event)  # type: ignore[arg-type]
    assert canonical_json(event).startswith(b'{"actor":"agent:VNPOST","at":')


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**53, {"n": -(2**60)}, ["\ud800"]])
def test_what_has_no_canonical_form_is_refused_as_the_reference_does(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CanonicalizationError):
        rfc8785.dumps(bad)
    with pytest.raises(CanonicalizationError):
        canonical_json(bad)
