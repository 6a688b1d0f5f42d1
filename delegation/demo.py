"""`python main.py demo`: the whole story over HTTP, told step by step as a person would read it.

Runs against a server at --url, or starts one on a temporary SQLite database. It only speaks
HTTP (and, for the offline check, the library an agency would use), like any other client.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
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

from audit.merkle import root as merkle_root
from audit.merkle import verify_inclusion
from core.canonical import canonical_json
from delegation.offline import verify_offline, verify_signed
from signing.jws import InvalidJWS
from signing.samples import sample_pdf

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
def _temporary_server(main_py: Path) -> Iterator[tuple[str, str, Path]]:
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
            yield base, token, Path(tmp) / "data"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


def _pdfsig(pdf: bytes, roots_pem: bytes) -> str:
    """poppler's own verdict, trusting only our roots (an NSS database of its own)."""
    if not (shutil.which("pdfsig") and shutil.which("certutil")):
        return "not installed here (apt-get install poppler-utils libnss3-tools)"
    with tempfile.TemporaryDirectory() as tmp:
        nss, roots, doc = Path(tmp) / "nss", Path(tmp) / "roots.pem", Path(tmp) / "signed.pdf"
        nss.mkdir()
        roots.write_bytes(roots_pem)
        doc.write_bytes(pdf)
        subprocess.run(
            ["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, timeout=30
        )
        subprocess.run(
            ["certutil", "-A", "-d", f"sql:{nss}", "-n", "uyquyen", "-t", "CT,C,C", "-i", roots],
            check=True,
            timeout=30,
        )
        out = subprocess.run(
            ["pdfsig", "-nssdir", f"sql:{nss}", str(doc)], capture_output=True, text=True
        ).stdout
    if "Signature Validation: Signature is Valid." not in out:
        raise StepFailed(f"pdfsig does not accept it:\n{out}")
    return "Signature is Valid"


def run_story(
    base: str,
    admin_token: str,
    say: Callable[[str], None],
    data_dir: Path | None = None,
    main_py: Path | None = None,
) -> int:
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

    @step("The counter checks the receipt with the service's public keys alone")
    def _(c: dict[str, Any]) -> str:
        jwks = _expect(http.get("/.well-known/jwks.json"), 200)
        try:
            receipt = verify_signed(c["submission"]["receipt"], jwks, "receipt+jwt")
        except InvalidJWS as exc:
            raise StepFailed(f"the receipt does not verify: {exc}") from None
        dossier = {"applicant": "Nguyễn Thị Lan", "copies": 1}
        expected = hashlib.sha256(canonical_json(dossier)).hexdigest()
        if receipt["jti"] != c["submission"]["id"] or receipt["dossier_sha256"] != expected:
            raise StepFailed(f"the receipt says {receipt}")
        return f"signed by the service; dossier SHA-256 {expected[:16]}... (RFC 8785 JSON)"

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

    @step("The agency reads its inbox and answers with a PDF, which the service signs")
    def _(c: dict[str, Any]) -> str:
        agency = c["submission"]["agency"]
        client = _expect(http.post(f"/v1/agencies/{agency}/clients", headers=admin), 201)
        token = _expect(
            http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client["client_id"], client["client_secret"]),
            ),
            200,
        )
        c["agency"] = {"Authorization": f"Bearer {token['access_token']}"}
        inbox = _expect(http.get("/v1/agency/submissions", headers=c["agency"]), 200)
        if c["submission"]["id"] not in [s["id"] for s in inbox]:
            raise StepFailed(f"the submission is not in the inbox of {agency}")
        result = _expect(
            http.post(
                f"/v1/submissions/{c['submission']['id']}/result",
                headers=c["agency"],
                files={"file": ("result.pdf", sample_pdf(), "application/pdf")},
            ),
            201,
        )
        level = result["level"]
        return f"{agency} answered; the result is signed at {level} and the dossier completed"

    @step("The citizen downloads the signed result")
    def _(c: dict[str, Any]) -> str:
        resp = http.get(f"/v1/submissions/{c['submission']['id']}/result.pdf", headers=c["citizen"])
        if resp.status_code != 200 or not resp.content.startswith(b"%PDF-"):
            raise StepFailed(f"the download answered {resp.status_code}: {resp.text[:200]}")
        c["signed_pdf"] = resp.content
        digest = hashlib.sha256(resp.content).hexdigest()
        return f"{len(resp.content):,} bytes, SHA-256 {digest[:16]}..."

    @step("Anyone verifies the signed PDF: with the service, and with poppler's pdfsig")
    def _(c: dict[str, Any]) -> str:
        report = _expect(
            http.post(
                "/v1/signatures/pdf/verify",
                files={"file": ("signed.pdf", c["signed_pdf"], "application/pdf")},
            ),
            200,
        )
        if not report["valid"]:
            raise StepFailed(f"the service says: {report}")
        subject = report["signatures"][-1]["signer"]["subject"]
        signer = subject.split("Common Name: ", 1)[-1].split(",", 1)[0]
        independent = _pdfsig(c["signed_pdf"], http.get("/v1/signatures/trust-anchors").content)
        return f"valid, signed by {signer}; pdfsig: {independent}"

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

    @step("The citizen reads their own audit trail")
    def _(c: dict[str, Any]) -> str:
        events = _expect(http.get("/v1/audit/events", headers=c["citizen"]), 200)
        c["events"] = events
        kinds = sorted({e["kind"] for e in events})
        return f"{len(events)} events: " + ", ".join(kinds)

    def signed_checkpoint() -> dict[str, Any]:
        """The log's latest checkpoint, its signature checked with the published keys."""
        checkpoint = _expect(http.get("/v1/audit/checkpoint"), 200)
        jwks = _expect(http.get("/.well-known/jwks.json"), 200)
        try:
            return verify_signed(checkpoint["checkpoint"], jwks, "checkpoint+jwt")
        except InvalidJWS as exc:
            raise StepFailed(f"the checkpoint does not verify: {exc}") from None

    @step("Each of those events is in the signed log (inclusion proofs, checked here)")
    def _(c: dict[str, Any]) -> str:
        signed = signed_checkpoint()
        size, root = signed["tree_size"], bytes.fromhex(signed["root_hash"])
        for event in c["events"]:
            proof = _expect(
                http.get(f"/v1/audit/proofs/inclusion?seq={event['seq']}&size={size}"), 200
            )
            leaf = bytes.fromhex(event["leaf_hash"])
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            if not verify_inclusion(leaf, event["seq"], size, path, root):
                raise StepFailed(f"event {event['seq']} is not in the signed tree")
        at = signed["timestamp"]
        return f"all {len(c['events'])} in the tree of {size} events signed at {at}"

    if data_dir is None:  # another server's database is out of reach: its log over HTTP

        @step("The administrator recomputes the signed root from every event in the log")
        def _recompute_root(c: dict[str, Any]) -> str:
            signed = signed_checkpoint()
            size = signed["tree_size"]
            leaves: list[bytes] = []
            while len(leaves) < size:
                page = _expect(
                    http.get(
                        "/v1/audit/events",
                        params={"after_seq": len(leaves) - 1, "limit": 1000},
                        headers=admin,
                    ),
                    200,
                )
                if not page:
                    raise StepFailed(f"the log lists {len(leaves)} of {size} events")
                leaves += [bytes.fromhex(e["leaf_hash"]) for e in page]
            if merkle_root(leaves[:size]).hex() != signed["root_hash"]:
                raise StepFailed("the events do not hash to the signed root")
            return f"{size} events hash to the root signed at {signed['timestamp']}"

    if data_dir is not None and main_py is not None:

        @step("The administrator verifies the whole log from the database (audit verify)")
        def _(c: dict[str, Any]) -> str:
            env = {k: v for k, v in os.environ.items() if not k.startswith("UYQUYEN_")}
            env["UYQUYEN_DATA_DIR"] = str(data_dir)
            done = subprocess.run(
                [sys.executable, str(main_py), "audit", "verify"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0:
                raise StepFailed(done.stdout + done.stderr)
            return done.stdout.strip().splitlines()[-1]

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
        base = url.rstrip("/")
        token = admin_token or os.environ.get("UYQUYEN_ADMIN_TOKEN")
        if not token:
            path = Path(os.environ.get("UYQUYEN_DATA_DIR", "./data")) / "secrets" / "admin-token"
            token = path.read_text().strip() if path.exists() else None
        if not token:
            print(
                "demo: with --url, give that server's admin token: --admin-token TOKEN (or "
                "UYQUYEN_ADMIN_TOKEN); `serve` prints it at start, and keeps it in "
                "data/secrets/admin-token",
                file=sys.stderr,
            )
            return 2
        try:
            probe = httpx.get(
                f"{base}/v1/agents", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
        except httpx.TransportError:
            print(f"demo: no server answers at {base}", file=sys.stderr)
            return 2
        if probe.status_code != 200:
            print(
                f"demo: the server at {base} does not take this admin token "
                f"({probe.status_code}): pass its own with --admin-token",
                file=sys.stderr,
            )
            return 2
        print(
            f"Warning: the story writes into {base}: an agent VNPOST with a new counter, an "
            "agency client, citizens' delegations, submissions and a signed result, all on "
            "that server's record (its audit log keeps them). Point it at a development server.",
            file=sys.stderr,
        )
        print(f"Telling the story against {base}")
        return run_story(base, token, print)
    with _temporary_server(main_py) as (base, token, data_dir):
        print(f"Started a temporary server at {base} (SQLite in a temporary directory)")
        return run_story(base, token, print, data_dir=data_dir, main_py=main_py)
