"""Service keys: published JWKS, encryption at rest, rotation, and our own access tokens."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from core.auth import NotAuthenticated
from main import main as cli
from tests.conftest import ADMIN_TOKEN
from tests.fixtures.factories import citizen_headers
from tests.fixtures.issuer import IssuerKey, b64, encode_jws


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


class TestJwks:
    def test_one_es256_key_published(self, client) -> None:
        resp = client.get("/.well-known/jwks.json")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/jwk-set+json")
        (key,) = resp.json()["keys"]
        assert key["kty"] == "EC" and key["crv"] == "P-256"
        assert key["alg"] == "ES256" and key["use"] == "sig" and key["kid"]
        assert "d" not in key

    def test_private_key_encrypted_at_rest(self, client) -> None:
        with client.app.state.engine.connect() as conn:
            (pem,) = conn.execute(sa.text("SELECT private_key_pem FROM service_keys")).one()
        assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(pem.encode(), password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(pem.encode(), password=b"wrong passphrase")

    def test_two_processes_publish_the_same_keys(self, make_client) -> None:
        one, two = make_client(), make_client()
        assert one.get("/.well-known/jwks.json").json() == two.get("/.well-known/jwks.json").json()


class TestRotation:
    @pytest.fixture
    def rotate(self, make_settings, monkeypatch):  # type: ignore[no-untyped-def]
        settings = make_settings()

        def run() -> None:
            monkeypatch.setenv("UYQUYEN_DATA_DIR", str(settings.data_dir))
            monkeypatch.setenv("UYQUYEN_DATABASE_URL", settings.effective_database_url)
            monkeypatch.setenv("UYQUYEN_ADMIN_TOKEN", ADMIN_TOKEN)
            assert cli(["keys", "rotate"]) == 0

        return run

    def test_old_key_stays_published_and_its_tokens_stay_valid(
        self, make_client, issuer, rotate
    ) -> None:
        client = make_client(keyring_refresh_s=0)
        before = citizen_headers(client, issuer)
        (old_key,) = client.get("/.well-known/jwks.json").json()["keys"]
        rotate()
        keys = client.get("/.well-known/jwks.json").json()["keys"]
        assert [k["kid"] for k in keys][1:] == [old_key["kid"]] and len(keys) == 2
        assert client.get("/v1/me", headers=before).status_code == 200
        after = citizen_headers(client, issuer)
        header = json.loads(
            __import__("base64").urlsafe_b64decode(bearer(after).split(".")[0] + "==")
        )
        assert header["kid"] == keys[0]["kid"] != old_key["kid"]

    def test_process_that_has_not_refreshed_learns_the_new_key(
        self, make_client, issuer, rotate
    ) -> None:
        slow = make_client(keyring_refresh_s=3600)
        fast = make_client(keyring_refresh_s=0)
        slow.get("/.well-known/jwks.json")
        rotate()
        token = citizen_headers(fast, issuer)  # signed with the new key by another process
        assert slow.get("/v1/me", headers=token).status_code == 200

    def test_key_past_its_publication_is_withdrawn(self, make_client, issuer, rotate) -> None:
        client = make_client(keyring_refresh_s=0)
        before = citizen_headers(client, issuer)
        rotate()
        with client.app.state.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE service_keys SET publish_until = :t WHERE retired_at IS NOT NULL"),
                {"t": "2000-01-01 00:00:00"},
            )
        assert len(client.get("/.well-known/jwks.json").json()["keys"]) == 1
        assert client.get("/v1/me", headers=before).status_code == 401


class TestAccessTokens:
    def _parts(self, token: str) -> tuple[dict, dict, str]:
        import base64

        h, p, s = token.split(".")
        dec = lambda x: json.loads(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))  # noqa: E731
        return dec(h), dec(p), s

    def test_claim_altered(self, client, issuer) -> None:
        token = bearer(citizen_headers(client, issuer, acr="vneid:loa1"))
        header, claims, sig = self._parts(token)
        claims["loa"] = 2
        forged = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{sig}"
        resp = client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
        assert resp.status_code == 401 and resp.json()["code"] == "unauthorized"

    def test_signed_by_another_key(self, client, issuer) -> None:
        header, claims, _ = self._parts(bearer(citizen_headers(client, issuer)))
        forged = encode_jws(header, claims, IssuerKey.generate(header["kid"], "ES256"))
        assert (
            client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        )

    def test_alg_none(self, client, issuer) -> None:
        header, claims, _ = self._parts(bearer(citizen_headers(client, issuer)))
        forged = encode_jws({**header, "alg": "none"}, claims, None)
        assert (
            client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        )

    def test_expired(self, make_client, issuer) -> None:
        client = make_client(access_token_ttl_s=60, clock_skew_s=0)
        headers = citizen_headers(client, issuer)
        tokens = client.app.state.access_tokens
        with pytest.raises(NotAuthenticated, match="access token expired"):
            tokens.principal(bearer(headers), time.time() + 61)
        assert client.get("/v1/me", headers=headers).status_code == 200

    def test_id_token_is_not_an_access_token(self, client, issuer) -> None:
        resp = client.get("/v1/me", headers={"Authorization": f"Bearer {issuer.id_token()}"})
        assert resp.status_code == 401

    @pytest.mark.parametrize(
        "value", ["Bearer", "Bearer ", "Token abc", "Bearer a.b.c", "Bearer " + "a" * 20000]
    )
    def test_malformed_authorization(self, client, value) -> None:
        resp = client.get("/v1/me", headers={"Authorization": value})
        assert resp.status_code == 401 and resp.json()["code"] == "unauthorized"
