"""Our access tokens as an independent RFC 9068 resource server sees them (Authlib's
validator, with our published JWKS): all three kinds of caller."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator

from tests.conftest import PUBLIC_URL
from tests.fixtures.factories import in_days
from tests.fixtures.world import World


class Validator(JWTBearerTokenValidator):
    def __init__(self, jwks: dict) -> None:
        super().__init__(issuer=PUBLIC_URL, resource_server=PUBLIC_URL)
        self._jwks = jwks

    def get_jwks(self):  # type: ignore[no-untyped-def]
        return self._jwks


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_every_kind_of_access_token_passes_an_rfc_9068_validator(world: World) -> None:
    validator = Validator(world.client.get("/.well-known/jwks.json").json())
    for who, headers in (
        ("citizen", world.citizen),
        ("agent", world.vnpost),
        ("agency", world.agency),
    ):
        claims = validator.authenticate_token(bearer(headers))
        validator.validate_token(claims, scopes=None, request=None)
        assert claims.header["typ"] == "at+jwt"
        assert claims["client_id"], who
        assert claims["kind"] == who
    me = world.client.get("/v1/me", headers=world.vnpost).json()
    assert validator.authenticate_token(bearer(world.vnpost))["client_id"] == me["client_id"]


def test_the_validator_rejects_a_token_of_ours_that_is_not_an_access_token(world: World) -> None:
    validator = Validator(world.client.get("/.well-known/jwks.json").json())
    granted = world.client.post(
        "/v1/delegations",
        headers=world.citizen,
        json={
            "delegate": {"type": "agent", "code": "VNPOST"},
            "procedures": ["1.001612"],
            "valid_until": in_days(30),
            "max_uses": 1,
        },
    )
    with pytest.raises(InvalidTokenError):
        claims = validator.authenticate_token(granted.json()["token"])
        validator.validate_token(claims, scopes=None, request=None)
