"""PostgreSQL restarts, failovers and idle-connection reapers cut pooled connections. The pool
does not ping before every checkout (that would cost a round trip per request), so a request
that meets a cut connection must fail cleanly (503, nothing changed) and the next must work."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.fixtures.factories import create_agent, create_counter


def _cut_connections(url: str) -> int:
    """What a PostgreSQL restart does to the service's pool: every other backend is killed."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        killed = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
    engine.dispose()
    return int(killed)


@pytest.mark.parametrize(
    "db_url", ["postgresql"], indirect=True
)  # SQLite has no connections to cut
def test_cut_connections_give_503_then_the_service_recovers(client, admin, db_url) -> None:
    create_agent(client, admin)
    counter = create_counter(client, admin)
    auth = (counter["client_id"], counter["client_secret"])
    form = {"grant_type": "client_credentials"}
    for _ in range(3):  # several pooled connections are in use and idle
        assert client.post("/oauth/token", data=form, auth=auth).status_code == 200
    assert _cut_connections(db_url) >= 1

    answers = [client.post("/oauth/token", data=form, auth=auth) for _ in range(12)]
    statuses = [a.status_code for a in answers]

    assert set(statuses) <= {200, 503}, statuses  # never a 500
    assert statuses[-1] == 200
    # The pool throws away every connection older than the first failure, so at most one
    # request per process pays for the cut.
    assert statuses.count(503) <= 1, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "service_unavailable"
