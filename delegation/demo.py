"""`python main.py demo`: the whole story over HTTP, told step by step as a person would read it.

Runs against a server at --url, or starts one on a temporary SQLite database. It only speaks
HTTP (and, for the offline check, the library an agency would use), like any other client.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from delegation.offline import verify_offline

CITIZEN_PID = "001099012345"
PROCEDURE = "1.001612"
TOKEN_EXCHANGE = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
}


class StepFailed(Exception):
    pass


def _expect(resp: httpx.Response, status: int) -> Any:
    if resp.status_code != status:
        raise StepFailed(
            f"{resp.request.method} {resp.request.url.path} answered "
            f"{resp.status_code}, expected {status}: {resp.text[:300]}"
        )
    return resp.json() if resp.headers.get("content-type", "").endswith("json") else resp.text


@contextmanager
def _temporary_server(main_py: Path) -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="uyquyen-demo-") as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("UYQUYEN_")}
        env["UYQUYEN_DATA_DIR"] = str(Path(tmp) / "data")
        proc = subprocess.Popen(
            [sys.executable, str(main_py), "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                if proc.poll() is not None:
                    said = proc.stderr.read().decode() if proc.stderr else ""
                    raise StepFailed(f"the server did not start: {said[-500:]}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            token = (Path(tmp) / "data" / "secrets" / "admin-token").read_text().strip()
            yield base, token
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


def run_story(base: str, admin_token: str, say: Callable[[str], None]) -> int:
    http = httpx.Client(base_url=base, timeout=30)
    admin = {"Authorization": f"Bearer {admin_token}"}
    steps: list[tuple[str, Callable[[dict[str, Any]], str]]] = []
    ctx: dict[str, Any] = {}

    def step(title: str) -> Callable[[Callable[[dict[str, Any]], str]], None]:
        def register(fn: Callable[[dict[str, Any]], str]) -> None:
            steps.append((title, fn))

        return register

    @step("A citizen logs in with VNeID (development provider, level 2)")
    def _(c: dict[str, Any]) -> str:
        minted = _expect(
            http.post(
                "/dev/vneid/id-token", json={"pid": CITIZEN_PID, "loa": 2, "name": "Nguyễn Thị Lan"}
            ),
            200,
        )
        tokens = _expect(
            http.post("/oauth/token", data={**TOKEN_EXCHANGE, "subject_token": minted["id_token"]}),
            200,
        )
        c["citizen"] = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = _expect(http.get("/v1/me", headers=c["citizen"]), 200)
        return f"logged in as {me['name']} (PID {me['pid']}, level {me['loa']})"

    @step("An administrator registers VNPost and opens a counter, which logs in")
    def _(c: dict[str, Any]) -> str:
        created = http.post(
            "/v1/agents",
            headers=admin,
            json={"code": "VNPOST", "name": "Bưu điện Việt Nam", "kind": "post_office"},
        )
        if created.status_code not in (201, 409):
            _expect(created, 201)
        counter = _expect(
            http.post(
                "/v1/agents/VNPOST/counters",
                headers=admin,
                json={"name": "Bưu điện Hà Đông", "ward_code": "09552"},
            ),
            201,
        )
        token = _expect(
            http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(counter["client_id"], counter["client_secret"]),
            ),
            200,
        )
        c["counter"] = {"Authorization": f"Bearer {token['access_token']}"}
        return f"counter {counter['id']} of VNPOST is logged in"

    @step(f"The citizen grants VNPost one use of procedure {PROCEDURE}")
    def _(c: dict[str, Any]) -> str:
        until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        c["granted"] = _expect(
            http.post(
                "/v1/delegations",
                headers=c["citizen"],
                json={
                    "delegate": {"type": "agent", "code": "VNPOST"},
                    "procedures": [PROCEDURE],
                    "valid_until": until,
                    "max_uses": 1,
                    "note": "Xin cấp Phiếu lý lịch tư pháp",
                },
            ),
            201,
        )
        return f"delegation {c['granted']['id']} is {c['granted']['status']}, signed token issued"

    def submit_dossier(c: dict[str, Any], copies: int, status: int) -> Any:
        return _expect(
            http.post(
                "/v1/submissions",
                headers={**c["counter"], "Idempotency-Key": secrets.token_hex(8)},
                json={
                    "delegation_token": c["granted"]["token"],
                    "procedure": PROCEDURE,
                    "operator": "NV-0042",
                    "dossier": {"applicant": "Nguyễn Thị Lan", "copies": copies},
                },
            ),
            status,
        )

    @step("The VNPost counter submits the citizen's dossier")
    def _(c: dict[str, Any]) -> str:
        c["submission"] = submit_dossier(c, 1, 201)
        return (
            f"received as {c['submission']['id']}, forwarded to {c['submission']['agency']}, "
            "signed receipt returned"
        )

    @step("A second submission under the same delegation is refused")
    def _(c: dict[str, Any]) -> str:
        refused = submit_dossier(c, 2, 409)
        if refused["code"] != "exhausted":
            raise StepFailed(f"refused with {refused['code']}, expected exhausted")
        return "409 exhausted: the one use is spent"

    @step("The citizen sees the use made of the delegation")
    def _(c: dict[str, Any]) -> str:
        uses = _expect(
            http.get(f"/v1/delegations/{c['granted']['id']}/uses", headers=c["citizen"]), 200
        )
        if [u["submission"] for u in uses] != [c["submission"]["id"]]:
            raise StepFailed(f"uses are {uses}")
        u = uses[0]
        who = f"{u['delegate']['code']} (operator {u['operator']})"
        return f"{u['created_at']}: {who} filed {u['procedure']}"

    @step("The citizen grants a second delegation and revokes it")
    def _(c: dict[str, Any]) -> str:
        until = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        c["second"] = _expect(
            http.post(
                "/v1/delegations",
                headers=c["citizen"],
                json={
                    "delegate": {"type": "agent", "code": "VNPOST"},
                    "procedures": ["1.001193"],
                    "valid_until": until,
                    "max_uses": 2,
                },
            ),
            201,
        )
        revoked = _expect(
            http.post(f"/v1/delegations/{c['second']['id']}/revoke", headers=c["citizen"]), 200
        )
        return f"delegation {revoked['id']} is {revoked['status']}"

    @step("A verifier checks both tokens online")
    def _(c: dict[str, Any]) -> str:
        first = _expect(
            http.post("/v1/delegations/verify", json={"token": c["granted"]["token"]}), 200
        )
        second = _expect(
            http.post("/v1/delegations/verify", json={"token": c["second"]["token"]}), 200
        )
        if (first["valid"], first["status"], second["valid"], second["status"]) != (
            False,
            "exhausted",
            False,
            "revoked",
        ):
            raise StepFailed(f"online verification said {first} and {second}")
        return "first: exhausted, second: revoked"

    @step("An agency checks both tokens offline, from the JWKS and the status list alone")
    def _(c: dict[str, Any]) -> str:
        jwks = _expect(http.get("/.well-known/jwks.json"), 200)
        lists = {}
        for d in (c["granted"], c["second"]):
            uri = d["status_list"]["uri"]
            lists[uri] = _expect(
                http.get(uri.removeprefix(base) if uri.startswith(base) else uri), 200
            )
        results = [
            verify_offline(d["token"], jwks, lists).status for d in (c["granted"], c["second"])
        ]
        if results != [
            "revoked",
            "revoked",
        ]:  # the list has one "invalid" for exhausted and revoked
            raise StepFailed(f"offline verification said {results}")
        return "both invalid in the status list (exhausted and revoked)"

    for number, (title, fn) in enumerate(steps, 1):
        say(f"{number}. {title}")
        try:
            say(f"   ok: {fn(ctx)}")
        except (StepFailed, httpx.HTTPError) as exc:
            say(f"   FAILED: {exc}")
            say(f"Step {number} of {len(steps)} failed.")
            return 1
    say(f"All {len(steps)} steps passed.")
    return 0


def main(url: str | None, admin_token: str | None, main_py: Path) -> int:
    if url:
        token = admin_token or os.environ.get("UYQUYEN_ADMIN_TOKEN")
        if not token:
            path = Path(os.environ.get("UYQUYEN_DATA_DIR", "./data")) / "secrets" / "admin-token"
            token = path.read_text().strip() if path.exists() else None
        if not token:
            print(
                "demo: give --admin-token (or UYQUYEN_ADMIN_TOKEN) for the server at --url",
                file=sys.stderr,
            )
            return 2
        return run_story(url.rstrip("/"), token, print)
    with _temporary_server(main_py) as (base, token):
        print(f"Started a temporary server at {base} (SQLite in a temporary directory)")
        return run_story(base, token, print)
