"""Each rule of offline verification and of the status lists, shown by the case that breaks it:
a pending delegation, a swapped or expired list, a delegation before its window, and the last
use read at once."""

from __future__ import annotations

import sqlalchemy as sa

from delegation.offline import verify_offline
from tests.delegation.test_status_lists import entry, fetch_list, ref
from tests.fixtures.factories import grant, in_days, submit
from tests.fixtures.world import RELATIVE, World

ISSUER = "http://testserver"


def jwks(w: World) -> dict:
    return w.client.get("/.well-known/jwks.json").json()


def list_token(w: World, uri: str) -> str:
    return w.client.get(uri.removeprefix(ISSUER)).text


def test_a_pending_person_delegation_is_3_in_its_list_and_not_valid_offline(world: World) -> None:
    w = world
    pending = grant(w.client, w.citizen, delegate={"type": "person", "pid": RELATIVE})
    assert pending["status"] == "pending"
    uri, idx = ref(pending)
    assert entry(fetch_list(w, uri)[1]["status_list"]["lst"], idx) == 3
    result = verify_offline(pending["token"], jwks(w), {uri: list_token(w, uri)}, issuer=ISSUER)
    assert (result.valid, result.status) == (False, "pending")
    # once accepted, the list says valid at once
    assert (
        w.client.post(f"/v1/delegations/{pending['id']}/accept", headers=w.relative).status_code
        == 200
    )
    assert entry(fetch_list(w, uri)[1]["status_list"]["lst"], idx) == 0
    accepted = verify_offline(pending["token"], jwks(w), {uri: list_token(w, uri)}, issuer=ISSUER)
    assert (accepted.valid, accepted.status) == (True, "active")


def test_a_list_published_for_another_uri_proves_nothing(world: World) -> None:
    w = world
    revoked = grant(w.client, w.citizen)
    w.client.post(f"/v1/delegations/{revoked['id']}/revoke", headers=w.citizen)
    uri, _ = ref(revoked)
    # A second, genuine list of the service's, in which every entry is 0 (valid).
    with w.client.app.state.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO status_lists (n, version) VALUES (77, 0)"))
    other = list_token(w, f"{ISSUER}/v1/status-lists/77")
    swapped = verify_offline(revoked["token"], jwks(w), {uri: other}, issuer=ISSUER)
    assert not swapped.valid and swapped.status == "unknown" and "another URI" in swapped.reason
    honest = verify_offline(revoked["token"], jwks(w), {uri: list_token(w, uri)}, issuer=ISSUER)
    assert (honest.valid, honest.status) == (False, "revoked")


def test_an_expired_list_is_not_used(world: World) -> None:
    w = world
    d = grant(w.client, w.citizen)
    uri, _ = ref(d)
    lst = list_token(w, uri)
    exp = fetch_list(w, uri)[1]["exp"]
    fresh = verify_offline(d["token"], jwks(w), {uri: lst}, issuer=ISSUER, now=exp - 10)
    assert fresh.valid
    stale = verify_offline(d["token"], jwks(w), {uri: lst}, issuer=ISSUER, now=exp + 61)
    assert (stale.valid, stale.status) == (False, "unknown") and "expired" in stale.reason


def test_a_delegation_before_its_window_is_not_yet_valid_offline(world: World) -> None:
    w = world
    later = grant(w.client, w.citizen, valid_from=in_days(3), valid_until=in_days(10))
    uri, _ = ref(later)
    early = verify_offline(later["token"], jwks(w), {uri: list_token(w, uri)}, issuer=ISSUER)
    assert (early.valid, early.status) == (False, "not_yet_valid")
    online = w.client.post("/v1/delegations/verify", json={"token": later["token"]}).json()
    assert online["valid"] is False


def test_the_last_use_shows_in_the_published_list_at_once(world: World) -> None:
    w = world
    d = grant(w.client, w.citizen, max_uses=2)
    uri, idx = ref(d)
    assert entry(fetch_list(w, uri)[1]["status_list"]["lst"], idx) == 0  # rendered and cached
    assert submit(w.client, w.vnpost, d["token"]).status_code == 201
    assert entry(fetch_list(w, uri)[1]["status_list"]["lst"], idx) == 0  # one use left
    assert submit(w.client, w.vnpost, d["token"]).status_code == 201
    assert entry(fetch_list(w, uri)[1]["status_list"]["lst"], idx) == 1  # exhausted, not cached
    offline = verify_offline(d["token"], jwks(w), {uri: list_token(w, uri)}, issuer=ISSUER)
    assert (offline.valid, offline.status) == (False, "revoked")
