"""Failed logins are throttled (per client id, per address, per address for the admin token),
counted in the database so that every process sees them, and put on the audit record."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN
from tests.fixtures.factories import client_token, create_agent, create_counter, exchange


def from_address(client: TestClient, address: str) -> TestClient:
    """Another client of the same app, as seen from another address."""
    return TestClient(client.app, client=(address, 40000), raise_server_exceptions=False)


def test_a_client_under_attack_is_locked_for_the_window_and_the_others_are_not(
    client, admin
) -> None:
    create_agent(client, admin, "VNPOST", "post_office")
    attacked, neighbour = create_counter(client, admin), create_counter(client, admin)
    for n in range(10):
        resp = client_token(client, attacked["client_id"], f"wrong-{n}")
        assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    locked = client_token(
        client, attacked["client_id"], attacked["client_secret"]
    )  # even the right one
    assert locked.status_code == 429, locked.text
    assert locked.json()["error"] == "too_many_attempts"
    assert 1 <= int(locked.headers["retry-after"]) <= 300
    # the counter next to it, behind the same address, logs in as usual
    assert (
        client_token(client, neighbour["client_id"], neighbour["client_secret"]).status_code == 200
    )


def test_the_count_holds_across_server_processes(make_client, admin) -> None:
    first, second = make_client(), make_client()  # two apps on one database, as two workers
    create_agent(first, admin, "VNPOST", "post_office")
    counter = create_counter(first, admin)
    for n in range(5):
        assert client_token(first, counter["client_id"], f"x{n}").status_code == 401
        assert client_token(second, counter["client_id"], f"y{n}").status_code == 401
    assert client_token(first, counter["client_id"], counter["client_secret"]).status_code == 429
    assert client_token(second, counter["client_id"], counter["client_secret"]).status_code == 429


def test_an_address_guessing_many_client_ids_is_stopped_and_others_are_not(
    make_client, admin
) -> None:
    client = make_client(login_failures_per_address=5)
    create_agent(client, admin, "VNPOST", "post_office")
    counter = create_counter(client, admin)
    for n in range(5):
        assert client_token(client, f"ctr_guess{n}", "secret").status_code == 401
    assert client_token(client, "ctr_guess-next", "secret").status_code == 429
    assert client_token(client, counter["client_id"], counter["client_secret"]).status_code == 429
    elsewhere = from_address(client, "198.51.100.20")
    assert (
        client_token(elsewhere, counter["client_id"], counter["client_secret"]).status_code == 200
    )


def test_failed_token_exchanges_count_per_address(make_client, issuer) -> None:
    client = make_client(login_failures_per_address=3)
    for _ in range(3):
        assert exchange(client, issuer.id_token(aud="someone-else")).status_code == 400
    resp = exchange(client, issuer.id_token())
    assert resp.status_code == 429 and resp.json()["error"] == "too_many_attempts"
    assert exchange(from_address(client, "203.0.113.9"), issuer.id_token()).status_code == 200


def test_wrong_admin_tokens_are_throttled_per_address(make_client) -> None:
    # A day-long window: a fixed window that ends mid-test (1 run in ~600 with 300 s) resets it.
    client = make_client(admin_failures_per_address=3, login_window_s=86_400)
    wrong = {"Authorization": "Bearer " + "w" * 40}
    for _ in range(3):
        assert client.get("/v1/agents", headers=wrong).status_code == 401
    throttled = client.get("/v1/agents", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    # the right token still works: it is compared before anything is counted
    assert throttled.status_code == 200
    resp = client.get("/v1/agents", headers=wrong)
    assert resp.status_code == 429 and resp.json()["code"] == "too_many_attempts"
    assert int(resp.headers["retry-after"]) >= 1
    other = from_address(client, "192.0.2.44")
    assert other.get("/v1/agents", headers=wrong).status_code == 401


def test_failed_logins_are_on_the_record_for_the_admin(client, admin, issuer) -> None:
    create_agent(client, admin, "VNPOST", "post_office")
    counter = create_counter(client, admin)
    client_token(client, counter["client_id"], "wrong")
    client_token(client, "ctr_nobody", "wrong")
    exchange(client, issuer.id_token(aud="someone-else"))
    client.get("/v1/agents", headers={"Authorization": "Bearer nope"})
    events = client.get("/v1/audit/events", headers=admin, params={"kind": "login.failed"}).json()
    seen = [(e["data"]["method"], e["data"].get("client_id"), e["data"]["reason"]) for e in events]
    assert ("client_credentials", counter["client_id"], "wrong secret") in seen
    assert ("client_credentials", "ctr_nobody", "unknown client") in seen
    assert any(m == "token_exchange" and "aud" in r for m, _, r in seen)
    assert any(m == "admin_token" for m, _, _ in seen)
    assert all("wrong" not in str(e["data"].get("secret", "")) for e in events)  # no secret kept
