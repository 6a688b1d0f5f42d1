"""Status lists, decoded by hand from the draft's rules, and offline verification."""

from __future__ import annotations

import base64
import json
import socket
import zlib
from pathlib import Path

import pytest

from delegation.offline import verify_offline
from tests.fixtures.factories import create_counter, grant, submit
from tests.fixtures.issuer import IssuerKey, encode_jws
from tests.fixtures.world import World, jws_parts, verify_with_jwks


def entry(lst_b64: str, idx: int) -> int:
    """An independent reading of draft-ietf-oauth-status-list: base64url, then zlib, then
    2-bit entries with entry i at bits 2*(i%4).. of byte i//4 (least significant first)."""
    raw = zlib.decompress(base64.urlsafe_b64decode(lst_b64 + "=" * (-len(lst_b64) % 4)))
    return (raw[idx // 4] >> (2 * (idx % 4))) & 0b11


def fetch_list(w: World, uri: str) -> tuple[dict, dict, str]:
    path = uri.removeprefix("http://testserver")
    resp = w.client.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/statuslist+jwt"
    assert "max-age" in resp.headers["cache-control"] and resp.headers["etag"]
    header, claims = jws_parts(resp.text)
    return header, claims, resp.text


def ref(d: dict) -> tuple[str, int]:
    r = jws_parts(d["token"])[1]["status"]["status_list"]
    return r["uri"], r["idx"]


def test_revoked_is_1_suspended_is_2_others_0(world: World) -> None:
    w = world
    keep = grant(w.client, w.citizen)
    revoked = grant(w.client, w.citizen)
    fpt = grant(w.client, w.citizen, delegate={"type": "agent", "code": "FPTSHOP"})
    exhausted = grant(w.client, w.citizen, max_uses=1)
    assert submit(w.client, w.vnpost, exhausted["token"]).status_code == 201
    w.client.post(f"/v1/delegations/{revoked['id']}/revoke", headers=w.citizen)
    w.client.post("/v1/agents/FPTSHOP/suspend", headers=w.admin)

    uri, _ = ref(keep)
    header, claims, token = fetch_list(w, uri)
    assert header["typ"] == "statuslist+jwt" and header["alg"] == "ES256"
    verify_with_jwks(w.client, token)
    assert claims["sub"] == uri and claims["status_list"]["bits"] == 2
    assert claims["exp"] > claims["iat"] and claims["ttl"] > 0
    lst = claims["status_list"]["lst"]
    assert entry(lst, ref(keep)[1]) == 0
    assert entry(lst, ref(revoked)[1]) == 1
    assert entry(lst, ref(exhausted)[1]) == 1
    assert entry(lst, ref(fpt)[1]) == 2

    # Reinstating puts the suspended agent's delegations back to 0, at once.
    w.client.post("/v1/agents/FPTSHOP/reinstate", headers=w.admin)
    assert entry(fetch_list(w, uri)[1]["status_list"]["lst"], ref(fpt)[1]) == 0


def test_conditional_get(world: World) -> None:
    d = grant(world.client, world.citizen)
    path = ref(d)[0].removeprefix("http://testserver")
    first = world.client.get(path)
    assert (
        world.client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    )
    world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.citizen)
    changed = world.client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]


def test_a_half_full_list_is_closed_and_grants_move_to_the_next(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lists hold at most half their entries (so random indexes rarely collide); when the
    newest is that full, grants go to a new one. Shrunk here to a fill of 3, checked every
    grant, so that the move happens within a few grants."""
    from delegation import service

    monkeypatch.setattr(service, "LIST_FILL", 3)
    monkeypatch.setattr(service, "LIST_CHECK_EVERY", 1)
    granted = [grant(world.client, world.citizen) for _ in range(8)]
    places = [ref(d) for d in granted]
    lists = [int(uri.rsplit("/", 1)[1]) for uri, _ in places]
    assert lists == sorted(lists) and len(set(places)) == len(places)
    assert {n: lists.count(n) for n in set(lists)} == {1: 3, 2: 3, 3: 2}
    for d, (uri, idx) in zip(granted, places, strict=True):
        world.client.post(f"/v1/delegations/{d['id']}/revoke", headers=world.citizen)
        assert entry(fetch_list(world, uri)[1]["status_list"]["lst"], idx) == 1


def test_unknown_list(world: World) -> None:
    for n in ("999", "0", "-1", "abc"):
        resp = world.client.get(f"/v1/status-lists/{n}")
        assert (
            resp.status_code in (404, 422)
            and resp.headers["content-type"] == "application/problem+json"
        )


def test_offline_verification_with_saved_files_and_no_network(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    valid = grant(w.client, w.citizen, max_uses=3)
    revoked = grant(w.client, w.citizen)
    suspended = grant(w.client, w.citizen, delegate={"type": "agent", "code": "FPTSHOP"})
    w.client.post(f"/v1/delegations/{revoked['id']}/revoke", headers=w.citizen)
    w.client.post("/v1/agents/FPTSHOP/suspend", headers=w.admin)
    header, claims = jws_parts(valid["token"])
    forged = encode_jws(
        header, {**claims, "max_uses": 99}, IssuerKey.generate(header["kid"], "ES256")
    )

    uri = ref(valid)[0]
    (tmp_path / "jwks.json").write_text(w.client.get("/.well-known/jwks.json").text)
    (tmp_path / "status-list-1.jwt").write_text(
        w.client.get(uri.removeprefix("http://testserver")).text
    )

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("network is off")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    jwks = json.loads((tmp_path / "jwks.json").read_text())
    lists = {uri: (tmp_path / "status-list-1.jwt").read_text()}
    check = lambda t: verify_offline(t, jwks, lists, issuer="http://testserver")  # noqa: E731

    ok = check(valid["token"])
    assert (ok.valid, ok.status) == (True, "active") and (ok.claims or {})["jti"] == valid["id"]
    assert (check(revoked["token"]).valid, check(revoked["token"]).status) == (False, "revoked")
    assert (check(suspended["token"]).valid, check(suspended["token"]).status) == (
        False,
        "suspended",
    )
    bad = check(forged)
    assert (bad.valid, bad.status) == (False, "invalid")
    assert check("not-a-token").status == "invalid"
    # A list that is not signed by the service proves nothing.
    lh, lc = jws_parts(lists[uri])
    fake_list = encode_jws(
        lh,
        {**lc, "status_list": {"bits": 2, "lst": lc["status_list"]["lst"]}},
        IssuerKey.generate(lh["kid"], "ES256"),
    )
    assert verify_offline(revoked["token"], jwks, {uri: fake_list}).status == "unknown"
    assert verify_offline(valid["token"], jwks, {}).valid is False


def test_counters_of_one_agent_share_its_delegations(world: World, admin) -> None:
    d = grant(world.client, world.citizen, max_uses=2)
    create_counter(world.client, admin, "VNPOST")
    listed = world.client.get("/v1/delegations", headers=world.vnpost).json()
    assert [x["id"] for x in listed] == [d["id"]]
