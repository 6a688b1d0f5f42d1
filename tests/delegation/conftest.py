"""Fixtures for delegation and submission tests: a small world of citizens, counters, agencies."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.fixtures.factories import citizen_headers, client_token, counter_headers, create_agent

DELEGATOR = "001099012345"
RELATIVE = "001199054321"
STRANGER = "079088011223"


@dataclass
class World:
    client: Any
    admin: dict[str, str]
    citizen: dict[str, str]  # the delegator, level 2
    relative: dict[str, str]  # a person delegate
    stranger: dict[str, str]  # a third citizen
    vnpost: dict[str, str]  # a VNPost counter
    fpt: dict[str, str]  # an FPT Shop counter
    agency: dict[str, str]  # STP-HN, which handles 1.001612
    other_agency: dict[str, str]


@pytest.fixture
def world(client, admin, issuer) -> World:
    create_agent(client, admin, "VNPOST", "post_office")
    create_agent(client, admin, "FPTSHOP", "retail")

    def agency(code: str) -> dict[str, str]:
        created = client.post(f"/v1/agencies/{code}/clients", headers=admin).json()
        token = client_token(client, created["client_id"], created["client_secret"]).json()
        return {"Authorization": f"Bearer {token['access_token']}"}

    return World(
        client=client, admin=admin,
        citizen=citizen_headers(client, issuer, sub=DELEGATOR),
        relative=citizen_headers(client, issuer, sub=RELATIVE),
        stranger=citizen_headers(client, issuer, sub=STRANGER),
        vnpost=counter_headers(client, admin, "VNPOST"),
        fpt=counter_headers(client, admin, "FPTSHOP"),
        agency=agency("STP-HN"),
        other_agency=agency("CA-HN"),
    )


def jws_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h, p, _ = token.split(".")
    dec = lambda x: json.loads(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))  # noqa: E731
    return dec(h), dec(p)


def verify_with_jwks(client, token: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Check an ES256 signature against the published JWKS with `cryptography` alone."""
    header, claims = jws_parts(token)
    jwk = next(k for k in client.get("/.well-known/jwks.json").json()["keys"] if k["kid"] == header["kid"])
    x = int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="), "big")
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big")
    key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    h, p, s = token.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    return claims


def problem(resp, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == code, resp.json()
