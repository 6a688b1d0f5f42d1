"""Pages: weight over the wire (gzip, images excluded, nothing from another origin) and the
server time of the authorizations page of a citizen with 50 authorizations against the JSON
endpoint that serves the same data."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from benchmarks.common import Row
from signing.samples import sample_pdf

PAGE_BUDGET = 60 * 1024
RATIO_TARGET = 2.0


def _client(tmp: Path) -> tuple[TestClient, dict[str, str]]:
    from core.settings import Settings
    from main import bootstrap, create_app

    settings = Settings(data_dir=tmp / "data", public_url="http://testserver", admin_token="b" * 40)
    bootstrap(settings)
    client = TestClient(create_app(settings))
    now = datetime.now(UTC)
    with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            sa.text(
                "INSERT INTO web_sessions (id_hash, pid, name, loa, auth_time, created_at, last_seen_at)"
                " VALUES (:h, '001099012345', 'Nguyễn Văn An', 2, 0, :n, :n)"
            ),
            {"h": hashlib.sha256(b"bench-session").hexdigest(), "n": now},
        )
    client.cookies.set("uyq_session", "bench-session")
    admin = {"Authorization": "Bearer " + "b" * 40}
    client.post(
        "/v1/agents",
        headers=admin,
        json={"code": "VNPOST", "name": "Bưu điện Việt Nam", "kind": "post_office"},
    )
    csrf = client.get("/v1/me").json()["csrf_token"]
    until = (now + timedelta(days=30)).isoformat()
    for _ in range(50):
        client.post(
            "/v1/delegations",
            headers={"X-CSRF-Token": csrf},
            json={
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": ["1.001612"],
                "valid_until": until,
                "max_uses": 2,
            },
        )
    return client, {"X-CSRF-Token": csrf}


def _weight(client: TestClient, path: str) -> tuple[int, list[str]]:
    html = client.get(path).text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    foreign = re.findall(r'(?:href|src)="(https?://[^"]+)"', html)
    total = len(gzip.compress(html.encode()))
    for asset in assets:
        total += len(gzip.compress(client.get(asset).content))
    return total, foreign


def _median_ms(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    runs = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def run(quick: bool) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        client, _headers = _client(Path(tmp))
        delegation = client.get("/v1/delegations").json()[0]["id"]
        for path in ("/app", "/app/grant", f"/app/authorizations/{delegation}", "/app/activity"):
            size, foreign = _weight(client, path)
            name = path if "authorizations/" not in path else "/app/authorizations/{id}"
            rows.append(
                Row(
                    "pages",
                    f"{name}: bytes over the wire (gzip)",
                    size / 1024,
                    "KiB",
                    f"{len(foreign)} requests to other origins",
                    "60 KiB budget",
                    size / PAGE_BUDGET,
                    "<= 60 KiB, 0 foreign",
                    size <= PAGE_BUDGET and not foreign,
                )
            )
        n = 20 if quick else 100
        page = _median_ms(lambda: client.get("/app"), n)
        data = _median_ms(
            lambda: (client.get("/v1/delegations"), client.get("/v1/delegations?role=delegate")), n
        )
        rows.append(
            Row(
                "pages",
                "/app with 50 authorizations: server time",
                page,
                "ms",
                f"JSON endpoints (given + received) {data:.1f} ms",
                "the same data as JSON",
                page / data,
                f"<= {RATIO_TARGET:g}x",
                page / data <= RATIO_TARGET,
            )
        )
        # The verify page against the API it wraps: the same sandboxed check of a signed
        # result, plus the page (template, Vietnamese, filed_under names).
        signing = client.app.state.signing  # type: ignore[attr-defined]
        signed = signing.pades.sign(io.BytesIO(sample_pdf()), signing.identity("STP-HN"), "B-LT")
        files = {"file": ("r.pdf", signed, "application/pdf")}
        m = 10 if quick else 40
        via_page = _median_ms(lambda: client.post("/verify/pdf", files=files), m)
        via_api = _median_ms(lambda: client.post("/v1/signatures/pdf/verify", files=files), m)
        rows.append(
            Row(
                "pages",
                "/verify/pdf round trip (signed B-LT result)",
                via_page,
                "ms",
                "",
                f"POST /v1/signatures/pdf/verify = {via_api:.1f} ms",
                via_page / via_api,
            )
        )
        client.app.state.engine.dispose()  # type: ignore[attr-defined]
    return rows
