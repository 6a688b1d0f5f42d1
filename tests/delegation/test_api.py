"""Delegations and submissions: one test per rule of API.md's Delegations and Submissions."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.fixtures.factories import citizen_headers, counter_headers, grant, in_days, iso, submit
from tests.fixtures.issuer import IssuerKey, b64, encode_jws
from tests.fixtures.world import (
    DELEGATOR,
    RELATIVE,
    World,
    jws_parts,
    problem,
    verify_with_jwks,
)


def uses_of(w: World, delegation_id: str) -> int:
    return w.client.get(f"/v1/delegations/{delegation_id}", headers=w.citizen).json()["uses"]


class TestGrant:
    def test_agent_delegation_is_active_with_a_token_as_api_md_says(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=3, procedures=["1.001612", "1.001193"])
        assert d["status"] == "active" and d["uses_left"] == 3
        header, _ = jws_parts(d["token"])
        assert header["alg"] == "ES256" and header["typ"] == "delegation+jwt" and header["kid"]
        claims = verify_with_jwks(world.client, d["token"])
        assert set(claims) == {
            "iss",
            "jti",
            "sub",
            "iat",
            "nbf",
            "exp",
            "delegate",
            "procedures",
            "max_uses",
            "status",
        }
        assert claims["iss"] == "http://testserver" and claims["jti"] == d["id"]
        assert claims["sub"] == DELEGATOR
        assert claims["delegate"] == {"type": "agent", "code": "VNPOST"}
        assert claims["procedures"] == ["1.001612", "1.001193"] and claims["max_uses"] == 3
        ref = claims["status"]["status_list"]
        assert ref["uri"].startswith("http://testserver/v1/status-lists/") and isinstance(
            ref["idx"], int
        )

    def test_person_delegation_is_pending(self, world: World) -> None:
        d = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
        assert d["status"] == "pending"
        assert jws_parts(d["token"])[1]["delegate"] == {"type": "person", "pid": RELATIVE}

    def test_level_one_cannot_grant(self, world: World, issuer) -> None:
        loa1 = citizen_headers(world.client, issuer, sub=DELEGATOR, acr="vneid:loa1")
        problem(
            world.client.post(
                "/v1/delegations",
                headers=loa1,
                json={
                    "delegate": {"type": "agent", "code": "VNPOST"},
                    "procedures": ["1.001612"],
                    "valid_until": in_days(30),
                },
            ),
            403,
            "insufficient_assurance",
        )

    def test_only_citizens_grant(self, world: World) -> None:
        for headers in (world.vnpost, world.agency, world.admin):
            grant(world.client, headers, expect=403)

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"delegate": {"type": "agent", "code": "NOBODY"}}, "unknown_agent"),
            ({"procedures": ["1.001612", "9.999999"]}, "unknown_procedure"),
            ({"delegate": {"type": "person", "pid": DELEGATOR}}, "self_delegation"),
            ({"delegate": {"type": "person", "pid": "12345"}}, "invalid_delegate"),
            ({"max_uses": 0}, "invalid_max_uses"),
            ({"max_uses": -3}, "invalid_max_uses"),
            ({"valid_until": iso(datetime.now(UTC) - timedelta(days=1))}, "invalid_window"),
            ({"valid_from": iso(datetime.now(UTC) - timedelta(days=2))}, "invalid_window"),
            ({"valid_from": in_days(10), "valid_until": in_days(5)}, "invalid_window"),
            ({"valid_until": in_days(366)}, "window_too_long"),
        ],
    )
    def test_refused_grant_leaves_nothing(self, world: World, fields: dict, code: str) -> None:
        problem(
            world.client.post(
                "/v1/delegations",
                headers=world.citizen,
                json={
                    "delegate": {"type": "agent", "code": "VNPOST"},
                    "procedures": ["1.001612"],
                    "valid_until": in_days(30),
                    **fields,
                },
            ),
            422,
            code,
        )
        assert world.client.get("/v1/delegations", headers=world.citizen).json() == []

    def test_suspended_agent_cannot_be_granted(self, world: World) -> None:
        world.client.post("/v1/agents/VNPOST/suspend", headers=world.admin)
        problem(
            world.client.post(
                "/v1/delegations",
                headers=world.citizen,
                json={
                    "delegate": {"type": "agent", "code": "VNPOST"},
                    "procedures": ["1.001612"],
                    "valid_until": in_days(30),
                },
            ),
            422,
            "agent_suspended",
        )

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {
                "delegate": {"type": "bank", "code": "X"},
                "procedures": ["1.001612"],
                "valid_until": "2030-01-01T00:00:00Z",
            },
            {
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": [],
                "valid_until": "2030-01-01T00:00:00Z",
            },
            {
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": ["1.001612"],
                "valid_until": "2030-01-01T00:00:00",
            },
            {
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": ["1.001612"],
                "valid_until": "soon",
            },
            {
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": ["1.001612"],
                "valid_until": "2030-01-01T00:00:00Z",
                "max_uses": "many",
            },
        ],
    )
    def test_malformed_body(self, world: World, body: dict) -> None:
        problem(
            world.client.post("/v1/delegations", headers=world.citizen, json=body),
            422,
            "validation_error",
        )


class TestReading:
    def test_list_by_role_and_counter_view(self, world: World) -> None:
        to_agent = grant(world.client, world.citizen)
        to_person = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
        ids = lambda r: {d["id"] for d in r.json()}  # noqa: E731
        assert ids(world.client.get("/v1/delegations", headers=world.citizen)) == {
            to_agent["id"],
            to_person["id"],
        }
        assert ids(world.client.get("/v1/delegations?role=delegate", headers=world.relative)) == {
            to_person["id"]
        }
        assert ids(world.client.get("/v1/delegations", headers=world.relative)) == set()
        assert ids(world.client.get("/v1/delegations", headers=world.vnpost)) == {to_agent["id"]}
        assert ids(world.client.get("/v1/delegations", headers=world.fpt)) == set()

    def test_only_delegator_and_delegate_see_a_delegation(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        path = f"/v1/delegations/{d['id']}"
        assert world.client.get(path, headers=world.citizen).status_code == 200
        assert world.client.get(path, headers=world.vnpost).status_code == 200
        for other in (world.stranger, world.fpt):
            problem(world.client.get(path, headers=other), 404, "delegation_not_found")
        problem(
            world.client.get("/v1/delegations/dlg_nope", headers=world.citizen),
            404,
            "delegation_not_found",
        )

    def test_qr_code(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        resp = world.client.get(f"/v1/delegations/{d['id']}/qr.svg", headers=world.citizen)
        assert resp.status_code == 200 and resp.headers["content-type"] == "image/svg+xml"
        assert resp.text.lstrip().startswith("<?xml") and "<svg" in resp.text
        assert (
            world.client.get(f"/v1/delegations/{d['id']}/qr.svg", headers=world.vnpost).status_code
            == 200
        )
        problem(
            world.client.get(f"/v1/delegations/{d['id']}/qr.svg", headers=world.stranger),
            404,
            "delegation_not_found",
        )


class TestLifecycle:
    def test_person_delegate_must_accept_first(self, world: World) -> None:
        d = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
        problem(submit(world.client, world.relative, d["token"], operator=None), 409, "pending")
        problem(
            world.client.post(f"/v1/delegations/{d['id']}/accept", headers=world.stranger),
            404,
            "delegation_not_found",
        )
        problem(
            world.client.post(f"/v1/delegations/{d['id']}/accept", headers=world.citizen),
            403,
            "wrong_caller_kind",
        )
        accepted = world.client.post(f"/v1/delegations/{d['id']}/accept", headers=world.relative)
        assert accepted.status_code == 200 and accepted.json()["status"] == "active"
        problem(
            world.client.post(f"/v1/delegations/{d['id']}/accept", headers=world.relative),
            409,
            "active",
        )
        assert submit(world.client, world.relative, d["token"], operator=None).status_code == 201

    def test_revoked(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=5)
        assert submit(world.client, world.vnpost, d["token"]).status_code == 201
        problem(
            world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.vnpost),
            403,
            "wrong_caller_kind",
        )
        revoked = world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.citizen)
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        problem(submit(world.client, world.vnpost, d["token"]), 409, "revoked")
        assert uses_of(world, d["id"]) == 1

    def test_renounced(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=5)
        problem(
            world.client.post(f"/v1/delegations/{d['id']}/renounce", headers=world.citizen),
            403,
            "wrong_caller_kind",
        )
        resp = world.client.post(f"/v1/delegations/{d['id']}/renounce", headers=world.vnpost)
        assert resp.status_code == 200 and resp.json()["status"] == "renounced"
        problem(submit(world.client, world.vnpost, d["token"]), 409, "renounced")
        problem(
            world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.citizen),
            409,
            "renounced",
        )

    def test_expired(self, world: World) -> None:
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        d = grant(world.client, world.citizen, valid_until=iso(until), max_uses=5)
        time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
        problem(submit(world.client, world.vnpost, d["token"]), 409, "expired")
        assert (
            world.client.get(f"/v1/delegations/{d['id']}", headers=world.citizen).json()["status"]
            == "expired"
        )

    def test_not_yet_valid(self, world: World) -> None:
        d = grant(world.client, world.citizen, valid_from=in_days(1), valid_until=in_days(2))
        problem(submit(world.client, world.vnpost, d["token"]), 409, "not_yet_valid")
        assert uses_of(world, d["id"]) == 0

    def test_exhausted(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=2)
        assert submit(world.client, world.vnpost, d["token"]).status_code == 201
        assert submit(world.client, world.vnpost, d["token"]).status_code == 201
        problem(submit(world.client, world.vnpost, d["token"]), 409, "exhausted")
        got = world.client.get(f"/v1/delegations/{d['id']}", headers=world.citizen).json()
        assert got["status"] == "exhausted" and got["uses"] == 2 and got["uses_left"] == 0

    def test_agent_suspension_blocks_until_reinstated(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=5)
        world.client.post("/v1/agents/VNPOST/suspend", headers=world.admin)
        # The counter's access token was issued before the suspension: it stops at once.
        problem(submit(world.client, world.vnpost, d["token"]), 401, "unauthorized")
        assert (
            world.client.post("/v1/delegations/verify", json={"token": d["token"]}).json()["status"]
            == "suspended"
        )
        world.client.post("/v1/agents/VNPOST/reinstate", headers=world.admin)
        assert submit(world.client, world.vnpost, d["token"]).status_code == 201


class TestSubmissionChecks:
    def test_receipt_is_signed_and_hashes_the_canonical_dossier(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        dossier = {
            "z": 1,
            "applicant": "Trần Văn Bình",
            "copies": [2, 1.5],
            "a": {"y": None, "b": True},
        }
        resp = submit(world.client, world.vnpost, d["token"], dossier=dossier)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["status"] == "received" and body["agency"] == "STP-HN"
        header, _ = jws_parts(body["receipt"])
        assert header["typ"] == "receipt+jwt" and header["alg"] == "ES256"
        claims = verify_with_jwks(world.client, body["receipt"])
        canonical = json.dumps(dossier, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert claims == {
            "iss": "http://testserver",
            "jti": body["id"],
            "iat": claims["iat"],
            "sub": DELEGATOR,
            "delegation": d["id"],
            "delegate": {"type": "agent", "code": "VNPOST"},
            "procedure": "1.001612",
            "dossier_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
            # who acted: the counter's declared operator, not authenticated (API.md)
            "act": {
                "sub": "NV-0042",
                "counter": world.client.get("/v1/me", headers=world.vnpost).json()["counter"],
                "authenticated": False,
            },
        }

    def test_vnpost_delegation_in_fpt_hands(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        problem(submit(world.client, world.fpt, d["token"]), 403, "not_delegate")
        problem(
            submit(world.client, world.stranger, d["token"], operator=None), 403, "not_delegate"
        )
        assert uses_of(world, d["id"]) == 0

    def test_person_delegation_in_a_counters_hands(self, world: World) -> None:
        d = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
        world.client.post(f"/v1/delegations/{d['id']}/accept", headers=world.relative)
        problem(submit(world.client, world.vnpost, d["token"]), 403, "not_delegate")

    def test_procedure_out_of_scope(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        problem(
            submit(world.client, world.vnpost, d["token"], procedure="1.001193"),
            403,
            "procedure_out_of_scope",
        )

    def test_token_with_one_claim_altered(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        h, p, s = d["token"].split(".")
        claims = jws_parts(d["token"])[1]
        claims["max_uses"] = 1000
        forged = f"{h}.{b64(json.dumps(claims).encode())}.{s}"
        problem(submit(world.client, world.vnpost, forged), 422, "invalid_delegation")
        assert (
            world.client.post("/v1/delegations/verify", json={"token": forged}).json()["status"]
            == "invalid"
        )

    def test_token_signed_by_another_key(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        header, claims = jws_parts(d["token"])
        forged = encode_jws(header, claims, IssuerKey.generate(header["kid"], "ES256"))
        problem(submit(world.client, world.vnpost, forged), 422, "invalid_delegation")
        result = world.client.post("/v1/delegations/verify", json={"token": forged}).json()
        assert result["valid"] is False and result["status"] == "invalid"

    def test_token_of_another_issuer(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        header, claims = jws_parts(d["token"])
        other = IssuerKey.generate("other-service", "ES256")
        forged = encode_jws(
            {**header, "kid": other.kid}, {**claims, "iss": "https://other.example"}, other
        )
        problem(submit(world.client, world.vnpost, forged), 422, "invalid_delegation")
        assert (
            world.client.post("/v1/delegations/verify", json={"token": forged}).json()["status"]
            == "invalid"
        )

    @pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 20000])
    def test_garbage_tokens(self, world: World, token: str) -> None:
        resp = submit(world.client, world.vnpost, token)
        assert resp.status_code == 422 and resp.json()["code"] in (
            "invalid_delegation",
            "validation_error",
        )
        verified = world.client.post("/v1/delegations/verify", json={"token": token})
        assert verified.status_code in (200, 422)
        if verified.status_code == 200:
            assert verified.json() == {
                "valid": False,
                "status": "invalid",
                "reason": verified.json()["reason"],
            }

    def test_precedence(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.citizen)
        # not the delegate beats out of scope and revoked; out of scope beats revoked
        problem(
            submit(world.client, world.fpt, d["token"], procedure="1.001193"), 403, "not_delegate"
        )
        problem(
            submit(world.client, world.vnpost, d["token"], procedure="1.001193"),
            403,
            "procedure_out_of_scope",
        )
        problem(submit(world.client, world.vnpost, d["token"]), 409, "revoked")
        problem(submit(world.client, world.fpt, "not.a.token"), 422, "invalid_delegation")

    def test_agencies_and_admins_do_not_submit(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        problem(submit(world.client, world.agency, d["token"]), 403, "wrong_caller_kind")
        problem(submit(world.client, world.admin, d["token"]), 403, "wrong_caller_kind")

    def test_operator_rules(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        problem(
            submit(world.client, world.vnpost, d["token"], operator=None), 422, "operator_required"
        )
        p = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
        world.client.post(f"/v1/delegations/{p['id']}/accept", headers=world.relative)
        problem(
            submit(world.client, world.relative, p["token"], operator="X"),
            422,
            "operator_not_allowed",
        )

    def test_dossier_limits_consume_nothing(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        problem(
            submit(world.client, world.vnpost, d["token"], dossier={"parts": ["a" * 200_000] * 6}),
            413,
            "dossier_too_large",
        )
        problem(
            submit(world.client, world.vnpost, d["token"], dossier={"n": 2**60}),
            422,
            "invalid_dossier",
        )
        resp = world.client.post(
            "/v1/submissions",
            content=b'{"delegation_token": "%s", "procedure": "1.001612", "operator": "A", "dossier": {"x": NaN}}'
            % d["token"].encode(),
            headers={**world.vnpost, "Idempotency-Key": "nan", "Content-Type": "application/json"},
        )
        assert resp.status_code == 422
        deep: object = "leaf"
        for _ in range(255):
            deep = {"x": deep}
        for dossier in (deep, [[[]] * 0] * 20_001, {"k" * 257: 1}, {"s": "a" * 262_145}):
            problem(
                submit(world.client, world.vnpost, d["token"], dossier=dossier),
                422,
                "dossier_too_complex",
            )
        assert uses_of(world, d["id"]) == 0


class TestIdempotency:
    def test_same_key_same_body_returns_the_first_answer(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=5)
        first = submit(world.client, world.vnpost, d["token"], key="k-1")
        again = submit(world.client, world.vnpost, d["token"], key="k-1")
        assert first.status_code == again.status_code == 201
        assert first.content == again.content
        assert uses_of(world, d["id"]) == 1

    def test_retry_after_revocation_still_gets_the_first_answer(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=5)
        first = submit(world.client, world.vnpost, d["token"], key="k-2")
        world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.citizen)
        assert submit(world.client, world.vnpost, d["token"], key="k-2").content == first.content

    def test_same_key_other_body(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=5)
        submit(world.client, world.vnpost, d["token"], key="k-3", dossier={"a": 1})
        problem(
            submit(world.client, world.vnpost, d["token"], key="k-3", dossier={"a": 2}),
            422,
            "idempotency_key_reused",
        )
        assert uses_of(world, d["id"]) == 1

    def test_key_belongs_to_its_caller(self, world: World, admin) -> None:
        d = grant(world.client, world.citizen, max_uses=5)
        other_counter = counter_headers(world.client, admin, "VNPOST")
        one = submit(world.client, world.vnpost, d["token"], key="shared")
        two = submit(world.client, other_counter, d["token"], key="shared")
        assert one.status_code == two.status_code == 201 and one.json()["id"] != two.json()["id"]

    @pytest.mark.parametrize("key", [None, "", "k" * 129])
    def test_key_required(self, world: World, key: str | None) -> None:
        d = grant(world.client, world.citizen)
        headers = dict(world.vnpost)
        if key is not None:
            headers["Idempotency-Key"] = key
        resp = world.client.post(
            "/v1/submissions",
            headers=headers,
            json={
                "delegation_token": d["token"],
                "procedure": "1.001612",
                "operator": "A",
                "dossier": {},
            },
        )
        problem(resp, 400, "idempotency_key_required")


class TestSubmissionAccess:
    def test_who_sees_a_submission(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        sub = submit(world.client, world.vnpost, d["token"]).json()
        path = f"/v1/submissions/{sub['id']}"
        for headers in (world.vnpost, world.citizen, world.agency):
            got = world.client.get(path, headers=headers)
            assert got.status_code == 200 and got.json()["dossier"]["applicant"] == "Nguyễn Thị Lan"
        for headers in (world.fpt, world.stranger, world.other_agency):
            problem(world.client.get(path, headers=headers), 404, "submission_not_found")

    def test_agency_inbox(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=3, procedures=["1.001612", "1.001255"])
        justice = submit(world.client, world.vnpost, d["token"]).json()
        police = submit(world.client, world.vnpost, d["token"], procedure="1.001255").json()
        assert police["agency"] == "CA-HN"
        inbox = world.client.get(
            "/v1/agency/submissions?status=received", headers=world.agency
        ).json()
        assert [s["id"] for s in inbox] == [justice["id"]]
        other = world.client.get("/v1/agency/submissions", headers=world.other_agency).json()
        assert [s["id"] for s in other] == [police["id"]]
        problem(
            world.client.get("/v1/agency/submissions", headers=world.vnpost),
            403,
            "wrong_caller_kind",
        )

    def test_delegator_sees_every_use(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=3)
        made = [submit(world.client, world.vnpost, d["token"]).json()["id"] for _ in range(2)]
        uses = world.client.get(f"/v1/delegations/{d['id']}/uses", headers=world.citizen).json()
        assert [u["submission"] for u in uses] == made
        assert uses[0]["operator"] == "NV-0042" and uses[0]["delegate"] == {
            "type": "agent",
            "code": "VNPOST",
        }
        problem(
            world.client.get(f"/v1/delegations/{d['id']}/uses", headers=world.stranger),
            404,
            "delegation_not_found",
        )
        problem(
            world.client.get(f"/v1/delegations/{d['id']}/uses", headers=world.vnpost),
            403,
            "wrong_caller_kind",
        )

    def test_database_holds_exactly_what_was_acknowledged(self, world: World) -> None:
        d = grant(world.client, world.citizen, max_uses=2)
        statuses = [submit(world.client, world.vnpost, d["token"]).status_code for _ in range(4)]
        assert statuses == [201, 201, 409, 409]
        with world.client.app.state.engine.connect() as conn:
            count = conn.execute(
                sa.text("SELECT count(*) FROM submissions WHERE delegation_id = :d"), {"d": d["id"]}
            ).scalar()
        assert count == 2


class TestVerifyEndpoint:
    def test_statuses(self, world: World) -> None:
        active = grant(world.client, world.citizen)
        pending = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
        revoked = grant(world.client, world.citizen)
        world.client.post(f"/v1/delegations/{revoked['id']}/revoke", headers=world.citizen)
        verify = lambda t: world.client.post("/v1/delegations/verify", json={"token": t}).json()  # noqa: E731
        a = verify(active["token"])
        assert a["valid"] is True and a["status"] == "active" and a["claims"]["jti"] == active["id"]
        assert verify(pending["token"])["status"] == "pending"
        r = verify(revoked["token"])
        assert r["valid"] is False and r["status"] == "revoked"

    def test_bad_bodies(self, world: World) -> None:
        for body in ({}, {"token": 5}, {"token": "x" * 20000}):
            problem(world.client.post("/v1/delegations/verify", json=body), 422, "validation_error")
