"""The service as an operator runs it: `python main.py serve` in its own process(es), over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.fixtures.server import (
    MAIN,
    clean_env,
    free_port,
    fresh_postgres_database,
    running_server,
)

TOKEN_EXCHANGE = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
}


def worker_pids(server_pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=,ppid=", "-e"], capture_output=True, text=True).stdout
    parents: dict[int, int] = {}
    for line in out.splitlines():
        pid, ppid = map(int, line.split())
        parents[pid] = ppid
    return {p for p, pp in parents.items() if pp == server_pid}


@pytest.mark.slow
def test_fresh_start_with_no_configuration(tmp_path: Path) -> None:
    """README's run line on SQLite: JWKS, a dev ID token from the CLI, exchange, /v1/me."""
    port = free_port()
    with running_server(tmp_path, port, env=clean_env()) as server:
        base = server.base
        assert (tmp_path / "data" / "uyquyen.db").exists()
        (key,) = httpx.get(f"{base}/.well-known/jwks.json").json()["keys"]
        assert key["alg"] == "ES256" and key["kty"] == "EC"

        minted = subprocess.run(
            [sys.executable, MAIN, "dev", "id-token", "--pid", "001099012345", "--loa", "2"],
            cwd=tmp_path,
            env=clean_env(UYQUYEN_PUBLIC_URL=base),
            capture_output=True,
            text=True,
            check=True,
        )
        id_token = minted.stdout.strip()
        resp = httpx.post(f"{base}/oauth/token", data={**TOKEN_EXCHANGE, "subject_token": id_token})
        assert resp.status_code == 200, resp.text
        access = resp.json()["access_token"]
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {access}"}).json()
        assert me == {"kind": "citizen", "pid": "001099012345", "loa": 2}

        # The dev provider's HTTP mint goes through the same verifier.
        minted2 = httpx.post(f"{base}/dev/vneid/id-token", json={"pid": "001099012346", "loa": 1})
        resp2 = httpx.post(
            f"{base}/oauth/token",
            data={**TOKEN_EXCHANGE, "subject_token": minted2.json()["id_token"]},
        )
        assert resp2.status_code == 200

    # Restarting keeps the same keys and admin token.
    admin_token = (tmp_path / "data" / "secrets" / "admin-token").read_text()
    with running_server(tmp_path, port, env=clean_env()) as server:
        base = server.base
        assert httpx.get(f"{base}/.well-known/jwks.json").json()["keys"] == [key]
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {admin_token}"})
        assert me.json() == {"kind": "admin"}
    assert admin_token in server.log.read_text()  # printed at start


@pytest.fixture
def postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("UYQUYEN_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    with fresh_postgres_database(POSTGRES_URL) as url:
        yield url


@pytest.mark.slow
def test_two_workers_on_postgresql_share_keys(tmp_path: Path, postgres_database: str) -> None:
    port = free_port()
    admin = "a" * 40
    env = clean_env(UYQUYEN_DATABASE_URL=postgres_database, UYQUYEN_ADMIN_TOKEN=admin)
    with running_server(tmp_path, port, "--workers", "2", env=env) as server:
        base = server.base
        server_pid = int(
            subprocess.run(
                ["pgrep", "-f", f"main.py serve --port {port}"], capture_output=True, text=True
            ).stdout.split()[0]
        )
        deadline = time.monotonic() + 30
        while len(worker_pids(server_pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(worker_pids(server_pid)) >= 2

        auth = {"Authorization": f"Bearer {admin}"}
        assert (
            httpx.post(
                f"{base}/v1/agents",
                headers=auth,
                json={"code": "VNPOST", "name": "Vietnam Post", "kind": "post_office"},
            ).status_code
            == 201
        )
        counter = httpx.post(
            f"{base}/v1/agents/VNPOST/counters",
            headers=auth,
            json={"name": "Bưu điện Hà Đông", "ward_code": "09552"},
        ).json()

        jwks_seen = set()
        kids = set()
        for _ in range(40):  # a new connection each time, so both workers answer
            jwks_seen.add(httpx.get(f"{base}/.well-known/jwks.json").text)
            token = httpx.post(
                f"{base}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(counter["client_id"], counter["client_secret"]),
            ).json()
            import base64
            import json

            header = json.loads(
                base64.urlsafe_b64decode(token["access_token"].split(".")[0] + "==")
            )
            kids.add(header["kid"])
            me = httpx.get(
                f"{base}/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
            )
            assert me.status_code == 200 and me.json()["agent"] == "VNPOST"
        assert len(jwks_seen) == 1
        (published,) = json.loads(jwks_seen.pop())["keys"]
        assert kids == {published["kid"]}


@pytest.mark.slow
def test_production_without_secrets_refuses_to_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, MAIN, "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=clean_env(UYQUYEN_ENV="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "UYQUYEN_ADMIN_TOKEN" in proc.stderr and "UYQUYEN_VNEID_ISSUER" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()  # nothing created


def test_production_has_no_dev_provider(make_client) -> None:
    client = make_client(
        env="production", vneid_issuer="https://vneid.gov.vn", key_passphrase="p" * 32
    )
    for path in ("/dev/vneid/.well-known/openid-configuration", "/dev/vneid/jwks.json"):
        assert client.get(path).status_code == 404
    resp = client.post("/dev/vneid/id-token", json={"pid": "001099012345", "loa": 2})
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert client.get("/.well-known/jwks.json").status_code == 200


def test_dev_cli_refuses_in_production(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, MAIN, "dev", "id-token", "--pid", "001099012345"],
        cwd=tmp_path,
        env=clean_env(
            UYQUYEN_ENV="production",
            UYQUYEN_ADMIN_TOKEN="a" * 40,
            UYQUYEN_VNEID_ISSUER="https://vneid.gov.vn",
            UYQUYEN_KEY_PASSPHRASE="p" * 32,
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "production" in proc.stderr and proc.stdout == ""
