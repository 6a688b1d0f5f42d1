"""What a real server process makes of the caller's address and of a sender's uploads:
X-Forwarded-For only from a trusted proxy and only as an IP address (a 300-character header gave
500 on PostgreSQL), and a client that waits for each answer never meets its own upload slot
still taken (10 of 30 sequential 1.5 MB verifications got 429)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from signing.samples import text_pdf
from tests.fixtures.server import (
    ADMIN_TOKEN,
    Api,
    clean_env,
    free_port,
    running_server,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def env(server_backend: tuple[dict[str, str], str]) -> dict[str, str]:
    return server_backend[0]


def failed_logins_from(base: str) -> list[str]:
    events = httpx.get(
        f"{base}/v1/audit/events",
        params={"kind": "login.failed"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json()
    return [e["data"]["address"] for e in events]


def wrong_login(base: str, forwarded: str) -> httpx.Response:
    return httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("ctr_nobody", "wrong"),
        headers={"X-Forwarded-For": forwarded},
    )


def test_forwarded_addresses_only_from_trusted_proxies_and_only_addresses(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with running_server(tmp_path, free_port(), env=env) as server:  # loopback: trusted
        for forwarded in ("x" * 300, "1" * 300, "203.0.113.9, not-an-address", "2001:db8::7"):
            answer = wrong_login(server.base, forwarded)
            assert answer.status_code == 401, answer.text
        assert wrong_login(server.base, "198.51.100.4, 127.0.0.1").status_code == 401
        assert failed_logins_from(server.base) == [
            "127.0.0.1",
            "127.0.0.1",
            "127.0.0.1",  # the rightmost hop is no address: nothing further left is believed
            "2001:db8::7",
            "198.51.100.4",  # past our own proxy at 127.0.0.1
        ]
        assert "Traceback" not in server.log.read_text()
    untrusting = {**env, "UYQUYEN_TRUSTED_PROXIES": "10.9.9.9"}
    with running_server(tmp_path, free_port(), env=untrusting) as server:
        assert wrong_login(server.base, "203.0.113.9").status_code == 401
        assert failed_logins_from(server.base)[-1] == "127.0.0.1"


def big_signed_pdf(base: str) -> bytes:
    filler = b"% " + b"x" * 1_500_000 + b"\n"
    pdf = text_pdf([b"BT /F1 24 Tf 72 720 Td (KET QUA) Tj ET\n" + filler])
    signed = httpx.post(
        f"{base}/v1/signatures/pdf",
        headers=Api(base).agency(),
        data={"level": "B-B"},
        files={"file": ("big.pdf", pdf, "application/pdf")},
        timeout=60,
    )
    assert signed.status_code == 200, signed.text
    assert len(signed.content) > 1_500_000
    return signed.content


def test_sequential_uploads_over_1_mib_never_meet_429(tmp_path: Path) -> None:
    with running_server(
        tmp_path, free_port(), env=clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)
    ) as server:
        signed = big_signed_pdf(server.base)
        answers: Counter[int] = Counter()
        with httpx.Client(timeout=60) as client:
            for _ in range(30):
                verdict = client.post(
                    f"{server.base}/v1/signatures/pdf/verify",
                    files={"file": ("big.pdf", signed, "application/pdf")},
                )
                answers[verdict.status_code] += 1
        assert answers == {200: 30}, answers
