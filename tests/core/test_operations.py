"""/readyz and /metrics: what an operator's probes and Prometheus read."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.factories import client_token


def test_readyz_answers_when_the_database_does(client) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_a_503_problem_when_the_database_is_gone(client) -> None:
    import sqlalchemy as sa

    client.app.state.read_engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/gone")
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json()["code"] == "service_unavailable"
    assert resp.headers["retry-after"] == "1"
    assert client.get("/healthz").status_code == 200  # alive, not ready


def test_metrics_count_requests_by_route_template_and_status(make_client, admin) -> None:
    client = make_client()
    local = TestClient(client.app, client=("127.0.0.1", 5000))
    local.get("/v1/delegations/dlg_does_not_exist", headers=admin)
    client_token(local, "ctr_nobody", "wrong")
    body = local.get("/metrics").text
    assert (
        'uyquyen_http_requests_total{method="GET",route="/v1/delegations/{delegation_id}",status='
        in body
    )
    assert "dlg_does_not_exist" not in body  # templates, never raw ids
    assert 'route="/oauth/token",status="401"' in body
    assert "uyquyen_http_request_seconds_bucket" in body
    assert 'uyquyen_db_pool_connections{pool="write",state="size"}' in body
    assert 'uyquyen_audit_unsequenced{measure="events"}' in body
    assert 'uyquyen_document_workers{state="busy"}' in body


def test_metrics_count_throttled_logins(make_client) -> None:
    client = make_client(login_failures_per_address=2)
    local = TestClient(client.app, client=("127.0.0.1", 5000))
    for _ in range(3):
        client_token(local, "ctr_nobody", "wrong")
    assert (
        'uyquyen_throttled_logins_total{method="client_credentials"} 1.0'
        in local.get("/metrics").text
    )


def test_metrics_are_not_for_the_internet(make_client) -> None:
    client = make_client()
    assert client.get("/metrics").status_code == 404  # "testclient" is not loopback
    with_token = make_client(metrics_token="m" * 32)
    remote = TestClient(with_token.app, client=("203.0.113.5", 5000))
    assert remote.get("/metrics").status_code == 404
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert (
        remote.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).status_code == 200
    )
