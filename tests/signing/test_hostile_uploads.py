"""Hostile PDFs (a cross-reference stream that inflates ~100 KB to 64 MB) against verification,
signing and result uploads: each costs its sender one worker for a moment, never another user."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures import pdfs
from tests.fixtures.factories import client_token, in_days
from tests.fixtures.server import (
    ADMIN_TOKEN,
    Api,
    clean_env,
    free_port,
    running_server,
    submission_body,
)
from tests.fixtures.world import problem

BOMB = pdfs.xref_bomb()
ATTACKS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "pdf-attacks"


def test_the_bomb_is_small_on_the_wire_and_a_valid_pdf_header() -> None:
    assert len(BOMB) < 200_000 and BOMB.startswith(b"%PDF-")


def test_a_bomb_sent_for_verification_is_refused_and_the_service_goes_on(client) -> None:
    resp = client.post(
        "/v1/signatures/pdf/verify", files={"file": ("bomb.pdf", BOMB, "application/pdf")}
    )
    problem(resp, 422, "pdf_too_complex")
    assert "inflates" in resp.json()["detail"]  # refused by the decode limits, not the deadline
    assert client.get("/healthz").status_code == 200


def test_a_bomb_sent_for_signing_is_refused_in_its_worker(client, admin) -> None:
    created = client.post("/v1/agencies/STP-HN/clients", headers=admin).json()
    token = client_token(client, created["client_id"], created["client_secret"]).json()
    agency = {"Authorization": f"Bearer {token['access_token']}"}
    for level in ("B-B", "B-LT"):
        resp = client.post(
            "/v1/signatures/pdf",
            headers=agency,
            data={"level": level},
            files={"file": ("bomb.pdf", BOMB, "application/pdf")},
        )
        problem(resp, 422, "pdf_too_complex")
    # ...and nothing was recorded as signed
    events = client.get("/v1/audit/events", headers=admin, params={"kind": "document.signed"})
    assert events.status_code == 200 and events.json() == []


def test_a_bomb_as_a_result_leaves_the_submission_open(world) -> None:
    c = world.client
    granted = c.post(
        "/v1/delegations",
        headers=world.citizen,
        json={
            "delegate": {"type": "agent", "code": "VNPOST"},
            "procedures": ["1.001612"],
            "valid_until": in_days(30),
            "max_uses": 1,
        },
    ).json()
    sub = c.post(
        "/v1/submissions",
        headers={**world.vnpost, "Idempotency-Key": "k1"},
        json=submission_body(granted["token"]),
    ).json()
    resp = c.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=world.agency,
        files={"file": ("bomb.pdf", BOMB, "application/pdf")},
    )
    problem(resp, 422, "pdf_too_complex")
    assert (
        c.get(f"/v1/submissions/{sub['id']}", headers=world.agency).json()["status"] == "received"
    )
    resp = c.post(
        f"/v1/submissions/{sub['id']}/result",
        headers=world.agency,
        files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    assert resp.status_code == 201, resp.text


@pytest.mark.slow
def test_bombs_in_flight_cost_their_sender_never_an_innocent_verifier(tmp_path) -> None:
    """A real server; four bombs at once from one address (behind the loopback proxy, as
    X-Forwarded-For says) and an innocent verification from another address."""
    port = free_port()
    env = clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN, UYQUYEN_DATA_DIR=str(tmp_path / "data"))
    with running_server(tmp_path, port, env=env) as server:
        api = Api(server.base)
        created = httpx.post(f"{server.base}/v1/agencies/STP-HN/clients", headers=api.admin).json()
        token = httpx.post(
            f"{server.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created["client_id"], created["client_secret"]),
        ).json()["access_token"]
        signed = httpx.post(
            f"{server.base}/v1/signatures/pdf",
            headers={"Authorization": f"Bearer {token}"},
            data={"level": "B-B"},
            files={"file": ("a.pdf", pdfs.simple_pdf(), "application/pdf")},
            timeout=30,
        ).content
        bomb_answers: list[httpx.Response] = []

        def bomb() -> None:
            bomb_answers.append(
                httpx.post(
                    f"{server.base}/v1/signatures/pdf/verify",
                    headers={"X-Forwarded-For": "203.0.113.66"},
                    files={"file": ("bomb.pdf", BOMB, "application/pdf")},
                    timeout=60,
                )
            )

        threads = [threading.Thread(target=bomb) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        innocent = httpx.post(
            f"{server.base}/v1/signatures/pdf/verify",
            headers={"X-Forwarded-For": "198.51.100.7"},
            files={"file": ("ok.pdf", signed, "application/pdf")},
            timeout=60,
        )
        for t in threads:
            t.join()
        assert innocent.status_code == 200 and innocent.json()["valid"] is True, innocent.text
        statuses = sorted(r.status_code for r in bomb_answers)
        assert 500 not in statuses and set(statuses) <= {422, 429}, [r.text for r in bomb_answers]
        assert 422 in statuses
        for r in bomb_answers:
            assert r.headers["content-type"] == "application/problem+json"
            if r.status_code == 429:
                assert (
                    r.json()["code"] == "too_many_concurrent_documents"
                    and int(r.headers["retry-after"]) >= 1
                )
        # Tampered documents are expected refusals: a line each in the log, no traceback.
        for attack in sorted(ATTACKS.glob("*.pdf")):
            resp = httpx.post(
                f"{server.base}/v1/signatures/pdf/verify",
                timeout=60,
                files={"file": (attack.name, attack.read_bytes(), "application/pdf")},
            )
            assert resp.status_code in (200, 422), resp.text
        log = server.log.read_text()
        assert "Traceback" not in log, log
        assert "pdf-worker" in log  # pyHanko's findings, one line each
