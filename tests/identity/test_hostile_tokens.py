"""Tokens built to break parsers and arithmetic, on every route that reads one: each is a clear
4xx (or `valid: false`), never a 500."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.factories import exchange, submit
from tests.fixtures.issuer import IssuerKey, LoopbackIssuer, b64, encode_jws
from tests.fixtures.world import World, problem


def nested_header_token(depth: int = 1000) -> str:
    header = b'{"alg":"ES256","typ":"JWT","x":' + b"[" * depth + b"]" * depth + b"}"
    return f"{b64(header)}.{b64(b'{}')}.{b64(b'sig')}"


DEEP = nested_header_token()


def test_a_deeply_nested_header_is_refused_on_every_route_that_reads_a_token(world: World) -> None:
    c = world.client
    resp = exchange(c, DEEP)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant", resp.text
    assert "nested deeper" in resp.json()["error_description"]
    for path in ("/v1/me", "/v1/delegations", "/v1/audit/events"):
        problem(c.get(path, headers={"Authorization": f"Bearer {DEEP}"}), 401, "unauthorized")
    verified = c.post("/v1/delegations/verify", json={"token": DEEP})
    assert verified.status_code == 200 and verified.json()["status"] == "invalid", verified.text
    problem(submit(c, world.vnpost, DEEP), 422, "invalid_delegation")
    # deep claims too (the header is fine)
    deep_claims = f"{b64(json.dumps({'alg': 'ES256', 'typ': 'delegation+jwt', 'kid': 'k'}).encode())}.{b64(b'[' * 5000)}.{b64(b'sig')}"
    assert (
        c.post("/v1/delegations/verify", json={"token": deep_claims}).json()["status"] == "invalid"
    )


@pytest.mark.parametrize("exp", [1e20, 10**400, -1, 2**64])
def test_an_absurd_exp_from_the_real_issuer_is_refused(client, issuer: LoopbackIssuer, exp) -> None:
    if isinstance(exp, int) and exp > 10**100:
        key = issuer.keys["vneid-es256"]
        claims = json.dumps(issuer.claims()).replace('"exp": ', '"exp": ' + str(exp) + ', "_": ')
        token = encode_jws({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims.encode(), key)
    else:
        token = issuer.id_token(exp=exp)
    resp = exchange(client, token)
    assert resp.status_code == 400, resp.text
    assert resp.json() == {
        "error": "invalid_grant",
        "error_description": "exp missing or not a valid date",
    }


def test_an_issuer_configured_with_a_trailing_slash_works(
    make_client, issuer: LoopbackIssuer
) -> None:
    issuer.issuer = issuer.url + "/"
    client = make_client(vneid_issuer=issuer.url + "/")
    assert exchange(client, issuer.id_token()).status_code == 200
    # ...and compares exactly: the same issuer without the slash is another issuer
    resp = exchange(client, issuer.id_token(iss=issuer.url))
    assert resp.status_code == 400 and resp.json()["error_description"] == "wrong issuer"


def test_an_issuer_without_the_slash_is_not_matched_by_tokens_with_one(
    client, issuer: LoopbackIssuer
) -> None:
    resp = exchange(client, issuer.id_token(iss=issuer.url + "/"))
    assert resp.status_code == 400 and resp.json()["error_description"] == "wrong issuer"


@pytest.mark.parametrize("secret", ["x" * 4097, "x" * 100_000])
def test_an_oversized_client_secret_is_an_invalid_client(client, admin, secret: str) -> None:
    created = client.post("/v1/agencies/STP-HN/clients", headers=admin).json()
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], secret),
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client", resp.text


def test_a_jwks_key_rotation_right_after_a_junk_kid_is_accepted(
    make_client, issuer: LoopbackIssuer
) -> None:
    client = make_client()  # the default budget: 3 fetches, one more per 20 s
    assert exchange(client, issuer.id_token()).status_code == 200
    junk = IssuerKey.generate("junk", "ES256")
    assert exchange(client, issuer.id_token(key=junk)).status_code == 400
    rotated = issuer.add_key(IssuerKey.generate("vneid-2027", "ES256"))
    assert exchange(client, issuer.id_token(key=rotated)).status_code == 200
