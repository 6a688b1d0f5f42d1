"""POST /oauth/token with a VNeID ID token (RFC 8693), against an issuer served on loopback."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.fixtures.factories import TOKEN_EXCHANGE, exchange
from tests.fixtures.issuer import IssuerKey, LoopbackIssuer, b64, encode_jws, hs256_jws

REJECTED = {"invalid_grant", "invalid_request"}


def assert_rejected(resp: Any, why: str = "", *, reason: str) -> None:
    """Refused, and for the expected reason (a regular expression): a token refused by the
    wrong check would hide that the right check no longer fires."""
    assert resp.status_code == 400, f"{why}: {resp.status_code} {resp.text}"
    body = resp.json()
    assert body["error"] in REJECTED, body
    assert re.search(reason, body["error_description"]), (why, reason, body)
    assert "access_token" not in body
    assert resp.headers["cache-control"] == "no-store"


class TestAccepts:
    @pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
    def test_each_allowed_algorithm(self, client, issuer: LoopbackIssuer, alg: str) -> None:
        resp = exchange(client, issuer.id_token(alg))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["token_type"] == "Bearer"
        assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
        assert body["expires_in"] == 900
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.json() == {
            "kind": "citizen",
            "pid": "001099012345",
            "loa": 2,
            "name": "Nguyễn Thị Lan",
        }

    def test_level_one_is_reported(self, client, issuer: LoopbackIssuer) -> None:
        token = exchange(client, issuer.id_token(acr="vneid:loa1")).json()["access_token"]
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["loa"] == 1

    def test_no_kid_when_the_jwks_has_a_single_key(self, client, issuer: LoopbackIssuer) -> None:
        only = issuer.keys["vneid-rs256"]
        issuer.published = [only]
        resp = exchange(client, issuer.id_token("RS256", header={"kid": ...}))
        assert resp.status_code == 200, resp.text

    def test_key_added_by_the_issuer_after_the_cache_was_filled(
        self, make_client, issuer: LoopbackIssuer
    ) -> None:
        client = make_client(jwks_refetch_interval_s=0.5)
        assert exchange(client, issuer.id_token("ES256")).status_code == 200
        fetches = issuer.jwks_fetches()
        rotated = issuer.add_key(IssuerKey.generate("vneid-2027", "ES256"))
        time.sleep(0.6)  # past the refetch rate limit
        resp = exchange(client, issuer.id_token(key=rotated))
        assert resp.status_code == 200, resp.text
        assert issuer.jwks_fetches() == fetches + 1

    def test_audience_list_containing_our_client_id(self, client, issuer: LoopbackIssuer) -> None:
        resp = exchange(client, issuer.id_token(aud=["uyquyen", "other-rp"], azp="uyquyen"))
        assert resp.status_code == 200, resp.text


class TestRejects:
    def test_bad_signature(self, client, issuer: LoopbackIssuer) -> None:
        head, payload, sig = issuer.id_token("ES256").split(".")
        flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
        assert_rejected(exchange(client, f"{head}.{payload}.{flipped}"), reason=r"bad\ signature")

    def test_signature_of_another_token(self, client, issuer: LoopbackIssuer) -> None:
        head, payload, _ = issuer.id_token("RS256").split(".")
        _, _, other_sig = issuer.id_token("RS256", sub="001099054321").split(".")
        assert_rejected(exchange(client, f"{head}.{payload}.{other_sig}"), reason=r"bad\ signature")

    def test_claims_altered_after_signing(self, client, issuer: LoopbackIssuer) -> None:
        head, _, sig = issuer.id_token("ES256").split(".")
        import json

        forged = b64(json.dumps(issuer.claims(acr="vneid:loa2", sub="001099099999")).encode())
        assert_rejected(exchange(client, f"{head}.{forged}.{sig}"), reason=r"bad\ signature")

    @pytest.mark.parametrize("signature", ["", "c2ln"])
    def test_alg_none(self, client, issuer: LoopbackIssuer, signature: str) -> None:
        header = b64(b'{"alg":"none","kid":"vneid-es256"}')
        payload = b64(__import__("json").dumps(issuer.claims()).encode())
        assert_rejected(
            exchange(client, f"{header}.{payload}.{signature}"),
            reason=r"signature algorithm not allowed|unsigned token",
        )

    def test_hs256_with_the_issuers_public_key_as_secret(
        self, client, issuer: LoopbackIssuer
    ) -> None:
        key = issuer.keys["vneid-rs256"]
        for secret in (key.public_pem(), key.public_pem().strip()):
            token = hs256_jws({"alg": "HS256", "kid": key.kid}, issuer.claims(), secret)
            assert_rejected(
                exchange(client, token),
                "HS256 key confusion",
                reason=r"signature\ algorithm\ not\ allowed",
            )

    def test_key_not_in_the_jwks(self, client, issuer: LoopbackIssuer) -> None:
        stranger = IssuerKey.generate("attacker", "ES256")
        assert_rejected(
            exchange(client, issuer.id_token(key=stranger)),
            reason=r"signing\ key\ is\ not\ in\ the\ issuer's\ JWKS",
        )

    def test_stranger_key_under_a_published_kid(self, client, issuer: LoopbackIssuer) -> None:
        stranger = IssuerKey.generate("vneid-es256", "ES256")
        assert_rejected(exchange(client, issuer.id_token(key=stranger)), reason=r"bad\ signature")

    @pytest.mark.parametrize("param", ["jku", "x5u", "jwk"])
    def test_header_pointing_at_an_attackers_key(
        self, client, issuer: LoopbackIssuer, param: str
    ) -> None:
        attacker = IssuerKey.generate("attacker", "ES256")
        value: Any = attacker.public_jwk() if param == "jwk" else "http://127.0.0.1:9/keys"
        assert_rejected(
            exchange(client, issuer.id_token(key=attacker, header={param: value})),
            reason=r"header parameter '(jku|jwk|x5u)' is not accepted",
        )
        # ...even when the token is otherwise genuine: the service never follows them.
        assert_rejected(
            exchange(client, issuer.id_token("ES256", header={param: value})),
            reason=r"header parameter '(jku|jwk|x5u)' is not accepted",
        )

    def test_unknown_crit_header(self, client, issuer: LoopbackIssuer) -> None:
        token = issuer.id_token("ES256", header={"crit": ["vneid-ext"], "vneid-ext": True})
        assert_rejected(
            exchange(client, token), reason=r"critical\ header\ parameters\ not\ understood"
        )

    def test_wrong_issuer(self, client, issuer: LoopbackIssuer) -> None:
        assert_rejected(
            exchange(client, issuer.id_token(iss="https://evil.example")), reason=r"wrong\ issuer"
        )

    def test_audience_without_our_client_id(self, client, issuer: LoopbackIssuer) -> None:
        assert_rejected(
            exchange(client, issuer.id_token(aud="another-service")),
            reason=r"token\ is\ not\ for\ this\ service\ \(aud\)",
        )
        assert_rejected(
            exchange(client, issuer.id_token(aud=["a", "b"])),
            reason=r"token\ is\ not\ for\ this\ service\ \(aud\)",
        )
        assert_rejected(
            exchange(client, issuer.id_token(aud=...)),
            reason=r"token\ is\ not\ for\ this\ service\ \(aud\)",
        )

    def test_azp_of_another_party(self, client, issuer: LoopbackIssuer) -> None:
        assert_rejected(
            exchange(client, issuer.id_token(aud=["uyquyen", "x"], azp="x")),
            reason=r"token\ was\ issued\ to\ another\ party\ \(azp\)",
        )

    def test_expired(self, client, issuer: LoopbackIssuer) -> None:
        now = int(time.time())
        assert_rejected(
            exchange(client, issuer.id_token(iat=now - 900, exp=now - 61)), reason=r"token\ expired"
        )

    def test_expired_within_the_clock_skew_is_accepted(
        self, client, issuer: LoopbackIssuer
    ) -> None:
        now = int(time.time())
        assert exchange(client, issuer.id_token(iat=now - 900, exp=now - 30)).status_code == 200

    def test_issued_in_the_future(self, client, issuer: LoopbackIssuer) -> None:
        now = int(time.time())
        assert_rejected(
            exchange(client, issuer.id_token(iat=now + 120, exp=now + 600)),
            reason=r"token\ issued\ in\ the\ future",
        )

    def test_not_yet_valid(self, client, issuer: LoopbackIssuer) -> None:
        assert_rejected(
            exchange(client, issuer.id_token(nbf=int(time.time()) + 120)),
            reason=r"token\ not\ yet\ valid\ \(nbf\)",
        )

    @pytest.mark.parametrize("claim", ["exp", "iat"])
    def test_missing_time_claim(self, client, issuer: LoopbackIssuer, claim: str) -> None:
        assert_rejected(
            exchange(client, issuer.id_token(**{claim: ...})),  # type: ignore[arg-type]
            reason=r"(exp|iat) missing or not a",
        )
        assert_rejected(
            exchange(client, issuer.id_token(**{claim: "tomorrow"})),  # type: ignore[arg-type]
            reason=r"(exp|iat) missing or not a",
        )

    @pytest.mark.parametrize(
        "sub",
        [
            ...,
            "",
            "12345",
            "00109901234a",
            "0010990123456",
            "９９９０９９０１２３４５",
            "999099012345",
            1099012345,
            None,
        ],
    )
    def test_missing_or_malformed_sub(self, client, issuer: LoopbackIssuer, sub: Any) -> None:
        assert_rejected(
            exchange(client, issuer.id_token(sub=sub)),
            repr(sub),
            reason=r"sub\ is\ not\ a\ valid\ PID",
        )

    @pytest.mark.parametrize("acr", [..., "vneid:loa3", "loa2", 2])
    def test_unknown_acr(self, client, issuer: LoopbackIssuer, acr: Any) -> None:
        assert_rejected(
            exchange(client, issuer.id_token(acr=acr)),
            repr(acr),
            reason=r"unknown\ level\ of\ assurance\ \(acr\)",
        )

    def test_replayed_token(self, client, issuer: LoopbackIssuer) -> None:
        token = issuer.id_token("ES256")
        assert exchange(client, token).status_code == 200
        assert_rejected(
            exchange(client, token), reason=r"this\ ID\ token\ has\ already\ been\ exchanged"
        )

    def test_replay_with_a_re_encoded_ecdsa_signature(self, client, issuer: LoopbackIssuer) -> None:
        # (r, s) and (r, n - s) are both valid ECDSA signatures of the same token.
        from tests.fixtures.issuer import b64 as enc

        token = issuer.id_token("ES256")
        assert exchange(client, token).status_code == 200
        head, payload, sig = token.split(".")
        import base64

        raw = base64.urlsafe_b64decode(sig + "==")
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        s = int.from_bytes(raw[32:], "big")
        twin = f"{head}.{payload}.{enc(raw[:32] + (n - s).to_bytes(32, 'big'))}"
        assert_rejected(
            exchange(client, twin), reason=r"this\ ID\ token\ has\ already\ been\ exchanged"
        )

    def test_replay_through_another_server_process(
        self, make_client, issuer: LoopbackIssuer
    ) -> None:
        # Two app instances on one database stand for two server processes.
        first, second = make_client(), make_client()
        token = issuer.id_token("PS256")
        assert exchange(first, token).status_code == 200
        assert_rejected(
            exchange(second, token), reason=r"this\ ID\ token\ has\ already\ been\ exchanged"
        )

    @pytest.mark.parametrize(
        "token", ["hello", "a.b", "a.b.c.d", "....", "eyJhbGciOiJFUzI1NiJ9.e30.", "%%%.%%%.%%%"]
    )
    def test_non_jwt_strings(self, client, token: str) -> None:
        assert_rejected(exchange(client, token), reason=r"not a signed JWT")

    def test_truncated_token(self, client, issuer: LoopbackIssuer) -> None:
        token = issuer.id_token("RS256")
        for cut in (len(token) // 2, len(token) - 5, token.rindex(".")):
            assert_rejected(
                exchange(client, token[:cut]),
                f"cut at {cut}",
                reason=r"bad signature|not a signed JWT",
            )

    def test_huge_token(self, client, issuer: LoopbackIssuer) -> None:
        padded = issuer.claims(padding="A" * 100_000)
        token = encode_jws(
            {"alg": "ES256", "kid": "vneid-es256"}, padded, issuer.keys["vneid-es256"]
        )
        assert len(token) > 100_000
        assert_rejected(exchange(client, token), reason=r"request\ body\ too\ large")

    def test_header_that_is_not_an_object(self, client, issuer: LoopbackIssuer) -> None:
        payload = b64(b"{}")
        assert_rejected(
            exchange(client, f"{b64(b'[1,2]')}.{payload}.{b64(b'x')}"),
            reason=r"subject_token\ is\ not\ a\ signed\ JWT:\ not\ a\ JSON\ object",
        )

    def test_typ_of_another_token_kind(self, client, issuer: LoopbackIssuer) -> None:
        assert_rejected(
            exchange(client, issuer.id_token("ES256", header={"typ": "at+jwt"})),
            reason=r"not\ an\ ID\ token\ \(typ\)",
        )

    def test_rsa_key_used_with_es256_header(self, client, issuer: LoopbackIssuer) -> None:
        token = issuer.id_token("RS256", header={"alg": "ES256"})
        assert_rejected(
            exchange(client, token), reason=r"algorithm\ does\ not\ match\ the\ issuer's\ key"
        )


class TestMalformedCalls:
    def test_missing_subject_token(self, client) -> None:
        resp = client.post("/oauth/token", data=dict(TOKEN_EXCHANGE))
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"

    def test_wrong_subject_token_type(self, client, issuer: LoopbackIssuer) -> None:
        resp = client.post(
            "/oauth/token",
            data={
                **TOKEN_EXCHANGE,
                "subject_token": issuer.id_token(),
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            },
        )
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"

    def test_json_body_is_not_a_form(self, client, issuer: LoopbackIssuer) -> None:
        resp = client.post(
            "/oauth/token", json={**TOKEN_EXCHANGE, "subject_token": issuer.id_token()}
        )
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"

    def test_repeated_parameter(self, client, issuer: LoopbackIssuer) -> None:
        body = "&".join(
            [
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
                "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token",
                f"subject_token={issuer.id_token()}",
                f"subject_token={issuer.id_token()}",
            ]
        )
        resp = client.post(
            "/oauth/token",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"

    def test_missing_and_unknown_grant_type(self, client) -> None:
        assert client.post("/oauth/token", data={}).json()["error"] == "invalid_request"
        resp = client.post("/oauth/token", data={"grant_type": "password"})
        assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"

    def test_empty_body(self, client) -> None:
        resp = client.post(
            "/oauth/token",
            content=b"",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
