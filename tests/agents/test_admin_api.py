"""The administration endpoints: who may call them, and what they do."""

from __future__ import annotations

import pytest

from tests.fixtures.factories import citizen_headers, counter_headers, create_agent

ADMIN_CALLS = [
    ("post", "/v1/agents", {"code": "VNPOST", "name": "Vietnam Post", "kind": "post_office"}),
    ("get", "/v1/agents", None),
    ("post", "/v1/agents/VNPOST/counters", {"name": "Bưu điện Hà Đông", "ward_code": "09552"}),
    ("post", "/v1/agents/VNPOST/suspend", None),
    ("post", "/v1/agents/VNPOST/reinstate", None),
    ("post", "/v1/agencies", {"code": "HN-TUPHAP", "name": "Sở Tư pháp", "procedures": []}),
    ("post", "/v1/agencies/STP-HN/clients", None),
]


def call(client, method, path, body, headers):  # type: ignore[no-untyped-def]
    return client.request(method.upper(), path, json=body, headers=headers)


def assert_problem(resp, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["code"] == code and body["status"] == status
    assert body["title"] and body["detail"] and body["type"]


class TestWhoMayCall:
    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
    def test_missing_admin_token(self, client, method, path, body) -> None:
        assert_problem(call(client, method, path, body, {}), 401, "unauthorized")

    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
    def test_wrong_admin_token(self, client, admin, method, path, body) -> None:
        wrong = {"Authorization": admin["Authorization"] + "x"}
        assert_problem(call(client, method, path, body, wrong), 401, "unauthorized")
        assert_problem(
            call(client, method, path, body, {"Authorization": "Basic abc"}), 401, "unauthorized"
        )

    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
    def test_citizen_is_not_admin(self, client, issuer, method, path, body) -> None:
        assert_problem(
            call(client, method, path, body, citizen_headers(client, issuer)), 403, "admin_only"
        )

    def test_counter_is_not_admin(self, client, admin) -> None:
        create_agent(client, admin)
        headers = counter_headers(client, admin)
        for method, path, body in ADMIN_CALLS:
            assert_problem(call(client, method, path, body, headers), 403, "admin_only")

    def test_admin_can(self, client, admin) -> None:
        statuses = [call(client, m, p, b, admin).status_code for m, p, b in ADMIN_CALLS]
        assert statuses == [201, 200, 201, 200, 200, 201, 201]

    def test_me_for_admin(self, client, admin) -> None:
        assert client.get("/v1/me", headers=admin).json() == {"kind": "admin"}

    def test_me_without_token(self, client) -> None:
        assert_problem(client.get("/v1/me"), 401, "unauthorized")


class TestAgents:
    def test_duplicate_code(self, client, admin) -> None:
        create_agent(client, admin)
        resp = client.post(
            "/v1/agents", headers=admin, json={"code": "VNPOST", "name": "again", "kind": "other"}
        )
        assert_problem(resp, 409, "agent_exists")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"code": "VNPOST", "name": "x", "kind": "bank"},
            {"code": "vn post", "name": "x", "kind": "other"},
            {"code": "VNPOST", "name": "", "kind": "other"},
            {"code": "VNPOST", "name": "x" * 201, "kind": "other"},
            {"code": ["VNPOST"], "name": "x", "kind": "other"},
            {"code": "VNPOST", "name": "x", "kind": "other", "admin": True},
        ],
    )
    def test_bad_agent_body(self, client, admin, body) -> None:
        assert_problem(client.post("/v1/agents", headers=admin, json=body), 422, "validation_error")
        assert client.get("/v1/agents", headers=admin).json() == []

    def test_body_that_is_not_json(self, client, admin) -> None:
        resp = client.post(
            "/v1/agents",
            headers={**admin, "Content-Type": "application/json"},
            content=b'{"code": "VNPOST",\n "name": }',
        )
        assert_problem(resp, 422, "malformed_json")
        assert resp.json()["detail"] == "Expecting value at line 2, column 10"

    def test_counter_of_unknown_agent(self, client, admin) -> None:
        resp = client.post(
            "/v1/agents/NOBODY/counters", headers=admin, json={"name": "x", "ward_code": "09552"}
        )
        assert_problem(resp, 404, "agent_not_found")

    def test_bad_ward_code(self, client, admin) -> None:
        create_agent(client, admin)
        resp = client.post(
            "/v1/agents/VNPOST/counters", headers=admin, json={"name": "x", "ward_code": "Ha Dong"}
        )
        assert_problem(resp, 422, "validation_error")
        # five digits, but an old code (before 07/2025) or another province's: no counter there
        for code in ("00166", "26734"):
            resp = client.post(
                "/v1/agents/VNPOST/counters", headers=admin, json={"name": "x", "ward_code": code}
            )
            assert_problem(resp, 422, "validation_error")
            assert "Hanoi" in resp.text

    def test_suspend_unknown_agent(self, client, admin) -> None:
        assert_problem(
            client.post("/v1/agents/NOBODY/suspend", headers=admin), 404, "agent_not_found"
        )

    def test_list_shows_status(self, client, admin) -> None:
        create_agent(client, admin, "VNPOST")
        create_agent(client, admin, "FPTSHOP", "retail")
        client.post("/v1/agents/FPTSHOP/suspend", headers=admin)
        listed = {a["code"]: a["status"] for a in client.get("/v1/agents", headers=admin).json()}
        assert listed == {"FPTSHOP": "suspended", "VNPOST": "active"}


class TestAgenciesAndCatalogue:
    def test_catalogue_is_seeded_and_public(self, client) -> None:
        procedures = client.get("/v1/procedures").json()
        assert len(procedures) >= 15
        assert all(set(p) == {"code", "name", "agency"} and p["agency"] for p in procedures)
        codes = {p["code"] for p in procedures}
        assert {"1.001612", "1.004227.000.00.00.H26"} <= codes

    def test_listing_a_procedure_moves_it(self, client, admin) -> None:
        resp = client.post(
            "/v1/agencies",
            headers=admin,
            json={
                "code": "HN-TUPHAP",
                "name": "Sở Tư pháp",
                "procedures": ["1.001612", "1.001612"],
            },
        )
        assert resp.status_code == 201
        assert resp.json()["procedures"] == ["1.001612"]
        by_code = {p["code"]: p["agency"] for p in client.get("/v1/procedures").json()}
        assert by_code["1.001612"] == "HN-TUPHAP"

    def test_unknown_procedure_leaves_nothing_behind(self, client, admin) -> None:
        resp = client.post(
            "/v1/agencies",
            headers=admin,
            json={
                "code": "HN-TUPHAP",
                "name": "Sở Tư pháp",
                "procedures": ["1.001612", "9.999999"],
            },
        )
        assert_problem(resp, 422, "unknown_procedure")
        assert resp.json()["procedures"] == ["9.999999"]
        by_code = {p["code"]: p["agency"] for p in client.get("/v1/procedures").json()}
        assert by_code["1.001612"] == "STP-HN"
        assert_problem(
            client.post("/v1/agencies/HN-TUPHAP/clients", headers=admin), 404, "agency_not_found"
        )

    def test_malformed_procedure_code(self, client, admin) -> None:
        resp = client.post(
            "/v1/agencies",
            headers=admin,
            json={"code": "HN-X", "name": "x", "procedures": ["'; DROP TABLE procedures; --"]},
        )
        assert_problem(resp, 422, "unknown_procedure")

    def test_duplicate_agency(self, client, admin) -> None:
        resp = client.post("/v1/agencies", headers=admin, json={"code": "STP-HN", "name": "x"})
        assert_problem(resp, 409, "agency_exists")

    def test_client_for_unknown_agency(self, client, admin) -> None:
        assert_problem(
            client.post("/v1/agencies/NOPE/clients", headers=admin), 404, "agency_not_found"
        )
