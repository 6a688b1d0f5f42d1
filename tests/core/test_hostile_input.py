"""Strings and numbers that a database cannot hold, or that name nothing, refused at the edge
with a 4xx problem on both backends (on PostgreSQL a NUL used to reach psycopg: 500)."""

from __future__ import annotations

import base64

import pytest

from tests.fixtures import pdfs
from tests.fixtures.factories import grant, submit
from tests.fixtures.world import World, problem

NUL = "\x00"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/delegations/dlg%00x",
        "/v1/submissions/sub%00x",
        "/v1/delegations/d%01/uses",
        "/v1/status-lists/1%00",
        "/v1/submissions/s%00/result.pdf",
    ],
)
def test_control_characters_in_a_path_are_refused(world: World, path: str) -> None:
    problem(world.client.get(path, headers=world.citizen), 400, "control_characters")


def test_control_characters_in_a_path_are_refused_on_writes_too(world: World) -> None:
    problem(
        world.client.post("/v1/agents/VN%00POST/suspend", headers=world.admin),
        400,
        "control_characters",
    )
    problem(
        world.client.post("/v1/delegations/x%00/revoke", headers=world.citizen),
        400,
        "control_characters",
    )


@pytest.mark.parametrize("query", ["kind=a%00b", "ref=%00", "pid=0010990%0012345", "kind=%7f"])
def test_control_characters_in_audit_filters_are_refused(world: World, query: str) -> None:
    problem(
        world.client.get(f"/v1/audit/events?{query}", headers=world.admin),
        400,
        "control_characters",
    )


def test_a_nul_in_the_basic_client_id_is_an_invalid_client(world: World) -> None:
    for user, secret in ((f"cli{NUL}ent", "secret"), ("client", f"se{NUL}cret")):
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
        resp = world.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert resp.status_code == 401 and resp.json()["error"] == "invalid_client", resp.text


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/agents", {"code": "NULAGENT", "name": f"Bưu{NUL}điện", "kind": "other"}),
        ("/v1/agents/VNPOST/counters", {"name": f"Quầy{NUL}1", "ward_code": "09552"}),
        ("/v1/agencies", {"code": "NULAGENCY", "name": f"Sở{NUL}", "procedures": []}),
        ("/v1/agencies", {"code": "NULAGENCY", "name": "Sở", "procedures": [f"1.0016{NUL}12"]}),
    ],
)
def test_a_nul_in_an_admin_body_is_a_validation_error(world: World, path: str, body: dict) -> None:
    problem(world.client.post(path, headers=world.admin, json=body), 422, "validation_error")


def test_a_nul_in_a_grant_or_a_submission_is_a_validation_error_and_consumes_nothing(
    world: World,
) -> None:
    c = world.client
    base = {
        "delegate": {"type": "agent", "code": "VNPOST"},
        "procedures": ["1.001612"],
        "valid_until": "2099-01-01T00:00:00Z",
        "max_uses": 1,
    }
    problem(
        c.post("/v1/delegations", headers=world.citizen, json={**base, "note": f"a{NUL}b"}),
        422,
        "validation_error",
    )
    problem(
        c.post(
            "/v1/delegations",
            headers=world.citizen,
            json={**base, "delegate": {"type": "agent", "code": f"VN{NUL}"}},
        ),
        422,
        "validation_error",
    )
    d = grant(c, world.citizen, note="Một dòng\nvà dòng thứ hai")  # line breaks are fine in a note
    problem(submit(c, world.vnpost, d["token"], operator=f"NV{NUL}1"), 422, "validation_error")
    problem(
        submit(c, world.vnpost, d["token"], procedure=f"1.001612{NUL}"), 422, "validation_error"
    )
    # a dossier is the caller's JSON: a NUL inside it is stored escaped and read back as sent
    ok = submit(c, world.vnpost, d["token"], dossier={"ghi chú": f"a{NUL}b"})
    assert ok.status_code == 201, ok.text
    back = c.get(f"/v1/submissions/{ok.json()['id']}", headers=world.agency).json()
    assert back["dossier"] == {"ghi chú": f"a{NUL}b"}


@pytest.mark.parametrize(
    "query",
    [
        "after_seq=9223372036854775808",
        "after_seq=99999999999999999999999",
        "limit=1001",
        "after_seq=-2",
    ],
)
def test_integers_past_what_the_database_holds_are_refused(world: World, query: str) -> None:
    problem(
        world.client.get(f"/v1/audit/events?{query}", headers=world.admin), 422, "validation_error"
    )


def test_huge_numbers_in_paths_and_proofs_are_refused(world: World) -> None:
    c = world.client
    problem(c.get("/v1/status-lists/2147483648"), 422, "validation_error")
    problem(
        c.get("/v1/audit/proofs/inclusion?seq=9223372036854775808&size=1"), 422, "validation_error"
    )
    problem(
        c.get("/v1/audit/proofs/consistency?from=1&to=9223372036854775808"), 422, "validation_error"
    )
    assert c.get("/v1/audit/events?after_seq=9223372036854775807", headers=world.admin).json() == []


def test_an_agency_name_as_long_as_the_schema_allows_gets_a_certificate_and_signs(
    world: World,
) -> None:
    c = world.client
    name = (
        "Ủy ban nhân dân phường Hoàn Kiếm, thành phố Hà Nội — Bộ phận tiếp nhận và trả kết quả " * 3
    )
    name = name[:200]
    created = c.post(
        "/v1/agencies",
        headers=world.admin,
        json={"code": "UBND-HK", "name": name, "procedures": []},
    )
    assert created.status_code == 201, created.text
    token = c.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created.json()["client_id"], created.json()["client_secret"]),
    ).json()["access_token"]
    signed = c.post(
        "/v1/signatures/pdf",
        headers={"Authorization": f"Bearer {token}"},
        data={"level": "B-B"},
        files={"file": ("a.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    assert signed.status_code == 200, signed.text
    report = c.post(
        "/v1/signatures/pdf/verify", files={"file": ("a.pdf", signed.content, "application/pdf")}
    ).json()
    subject = report["signatures"][0]["signer"]["subject"]
    assert report["valid"] is True and "Ủy ban nhân dân phường Hoàn Kiếm" in subject
