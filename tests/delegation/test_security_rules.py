"""Rules that only a precise case exercises: each test here fails when its rule is removed."""

from __future__ import annotations

import hashlib
import json
import math

from tests.fixtures.factories import grant, submit
from tests.fixtures.world import RELATIVE, World, problem, verify_with_jwks


def uses(w: World, delegation_id: str) -> int:
    return w.client.get(f"/v1/delegations/{delegation_id}", headers=w.citizen).json()["uses"]


def test_a_citizen_who_is_not_the_person_delegate_cannot_submit(world: World) -> None:
    d = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE}, max_uses=2)
    assert (
        world.client.post(f"/v1/delegations/{d['id']}/accept", headers=world.relative).status_code
        == 200
    )
    problem(submit(world.client, world.stranger, d["token"], operator=None), 403, "not_delegate")
    problem(submit(world.client, world.citizen, d["token"], operator=None), 403, "not_delegate")
    assert uses(world, d["id"]) == 0
    assert submit(world.client, world.relative, d["token"], operator=None).status_code == 201


def test_the_person_delegate_cannot_revoke_only_renounce(world: World) -> None:
    d = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
    world.client.post(f"/v1/delegations/{d['id']}/accept", headers=world.relative)
    problem(
        world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.relative),
        403,
        "wrong_caller_kind",
    )
    assert (
        world.client.get(f"/v1/delegations/{d['id']}", headers=world.citizen).json()["status"]
        == "active"
    )
    renounced = world.client.post(f"/v1/delegations/{d['id']}/renounce", headers=world.relative)
    assert renounced.status_code == 200 and renounced.json()["status"] == "renounced"


# -- RFC 8785, independently: the receipt's dossier_sha256 --------------------------------------
def es_number(x: float) -> str:
    """ECMAScript Number::toString, for the doubles of this test (RFC 8785 3.2.2.3)."""
    if x == 0:
        return "0"
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    r = repr(x)  # shortest round-trip digits, as ECMAScript
    if "e" in r:
        mantissa, exponent = r.split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{'+' if int(exponent) > 0 else '-'}{abs(int(exponent))}"
    return r


def jcs(value: object) -> str:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))  # UTF-16 code units
        return "{" + ",".join(f"{jcs(k)}:{jcs(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        assert math.isfinite(value)
        return es_number(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def test_the_receipt_hashes_the_rfc_8785_form_where_sorted_json_would_differ(world: World) -> None:
    dossier = {
        "\U0001f600 emoji": "sorts by UTF-16: after U+FF61",
        "\uff61 halfwidth": 1,
        "é": "non-ASCII key",
        "e": "ASCII key",
        "numbers": [1e21, 0.1 + 0.2, 1.0, -0.0, 1e-7, 5e-324, 123.456e5],
        "text": 'Nguyễn "Thị" \\ Lan\n',
    }
    ours = jcs(dossier)
    naive = json.dumps(dossier, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert ours != naive  # so the test tells RFC 8785 from sorted JSON
    assert '"numbers":[1e+21,0.30000000000000004,1,0,1e-7,5e-324,12345600]' in ours
    d = grant(world.client, world.citizen)
    resp = submit(world.client, world.vnpost, d["token"], dossier=dossier)
    assert resp.status_code == 201, resp.text
    claims = verify_with_jwks(world.client, resp.json()["receipt"])
    assert claims["dossier_sha256"] == hashlib.sha256(ours.encode()).hexdigest()


def test_receipts_say_who_acted_at_which_counter_and_that_it_was_only_declared(
    world: World,
) -> None:
    counter = world.client.get("/v1/me", headers=world.vnpost).json()["counter"]
    d = grant(world.client, world.citizen)
    filed = submit(world.client, world.vnpost, d["token"], operator="NV-0042").json()
    act = verify_with_jwks(world.client, filed["receipt"])["act"]
    assert act == {"sub": "NV-0042", "counter": counter, "authenticated": False}
    assert (
        world.client.get(f"/v1/submissions/{filed['id']}", headers=world.citizen).json()["act"]
        == act
    )
    assert (
        world.client.get(f"/v1/delegations/{d['id']}/uses", headers=world.citizen).json()[0]["act"]
        == act
    )
    # a person delegate's receipt has no act
    p = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
    world.client.post(f"/v1/delegations/{p['id']}/accept", headers=world.relative)
    own = submit(world.client, world.relative, p["token"], operator=None).json()
    assert "act" not in verify_with_jwks(world.client, own["receipt"])
