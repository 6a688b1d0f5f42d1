"""POST /oauth/token with client credentials: agent counters and agencies."""

from __future__ import annotations

import base64

import sqlalchemy as sa

from tests.fixtures.factories import client_token, create_agent, create_counter


def assert_invalid_client(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "invalid_client"
    assert "access_token" not in resp.json()
    assert resp.headers["www-authenticate"].startswith("Basic")


class TestCounter:
    def test_secret_gets_an_access_token(self, client, admin) -> None:
        create_agent(client, admin)
        counter = create_counter(client, admin)
        resp = client_token(client, counter["client_id"], counter["client_secret"])
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 900
        assert resp.headers["cache-control"] == "no-store"
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.json() == {
            "kind": "agent",
            "client_id": counter["client_id"],
            "agent": "VNPOST",
            "counter": counter["id"],
        }

    def test_wrong_secret(self, client, admin) -> None:
        create_agent(client, admin)
        counter = create_counter(client, admin)
        assert_invalid_client(
            client_token(client, counter["client_id"], counter["client_secret"][:-1])
        )
        assert_invalid_client(client_token(client, counter["client_id"], "x"))

    def test_secret_of_another_counter(self, client, admin) -> None:
        create_agent(client, admin)
        one, other = create_counter(client, admin), create_counter(client, admin)
        assert_invalid_client(client_token(client, one["client_id"], other["client_secret"]))

    def test_unknown_client(self, client, admin) -> None:
        create_agent(client, admin)
        counter = create_counter(client, admin)
        assert_invalid_client(
            client_token(client, "ctr_000000000000000000000000", counter["client_secret"])
        )
        assert_invalid_client(client_token(client, "x" * 500, counter["client_secret"]))

    def test_suspended_agents_counter_until_reinstated(self, client, admin) -> None:
        create_agent(client, admin)
        counter = create_counter(client, admin)
        assert (
            client.post("/v1/agents/VNPOST/suspend", headers=admin).json()["status"] == "suspended"
        )
        assert_invalid_client(client_token(client, counter["client_id"], counter["client_secret"]))
        # A counter opened while suspended is born disabled too.
        late = create_counter(client, admin)
        assert_invalid_client(client_token(client, late["client_id"], late["client_secret"]))
        assert (
            client.post("/v1/agents/VNPOST/reinstate", headers=admin).json()["status"] == "active"
        )
        assert (
            client_token(client, counter["client_id"], counter["client_secret"]).status_code == 200
        )
        assert client_token(client, late["client_id"], late["client_secret"]).status_code == 200

    def test_suspension_leaves_other_agents_alone(self, client, admin) -> None:
        create_agent(client, admin, "VNPOST")
        create_agent(client, admin, "FPTSHOP", "retail")
        fpt = create_counter(client, admin, "FPTSHOP")
        client.post("/v1/agents/VNPOST/suspend", headers=admin)
        assert client_token(client, fpt["client_id"], fpt["client_secret"]).status_code == 200

    def test_secrets_are_not_stored_in_clear(self, client, admin) -> None:
        create_agent(client, admin)
        counter = create_counter(client, admin)
        agency = client.post("/v1/agencies/STP-HN/clients", headers=admin).json()
        engine = client.app.state.engine
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            dump = ""
            for table in tables:
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    dump += " ".join(str(v) for v in row) + "\n"
            hashes = [r[0] for r in conn.execute(sa.text("SELECT secret_hash FROM oauth_clients"))]
        for secret in (counter["client_secret"], agency["client_secret"]):
            assert secret not in dump
            assert secret.removeprefix("uyq_cs_") not in dump
        assert len(hashes) == 2 and all(h.startswith("{SSHA256}") for h in hashes)

    def test_secret_has_at_least_256_random_bits(self, client, admin) -> None:
        create_agent(client, admin)
        secrets = {create_counter(client, admin)["client_secret"] for _ in range(3)}
        assert len(secrets) == 3
        for s in secrets:
            raw = base64.urlsafe_b64decode(s.removeprefix("uyq_cs_") + "==")
            assert len(raw) >= 32


class TestAgency:
    def test_new_agency_credential(self, client, admin) -> None:
        created = client.post(
            "/v1/agencies",
            headers=admin,
            json={"code": "HN-TUPHAP", "name": "Sở Tư pháp", "procedures": ["1.001612"]},
        ).json()
        token = client_token(client, created["client_id"], created["client_secret"]).json()
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.json() == {
            "kind": "agency",
            "client_id": created["client_id"],
            "agency": "HN-TUPHAP",
        }

    def test_seeded_agency_gets_a_client(self, client, admin) -> None:
        created = client.post("/v1/agencies/UBND-P-HOANKIEM/clients", headers=admin)
        assert created.status_code == 201
        body = created.json()
        token = client_token(client, body["client_id"], body["client_secret"]).json()[
            "access_token"
        ]
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["agency"] == "UBND-P-HOANKIEM"


class TestMalformed:
    def test_no_basic_auth(self, client) -> None:
        assert_invalid_client(
            client.post("/oauth/token", data={"grant_type": "client_credentials"})
        )

    def test_garbage_basic_auth(self, client) -> None:
        for value in (
            "Basic !!!",
            "Basic " + base64.b64encode(b"no-colon").decode(),
            "Basic ",
            "Bearer abc",
        ):
            resp = client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": value},
            )
            assert_invalid_client(resp)

    def test_secret_in_the_body_is_refused(self, client, admin) -> None:
        create_agent(client, admin)
        counter = create_counter(client, admin)
        resp = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": counter["client_id"],
                "client_secret": counter["client_secret"],
            },
        )
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
