"""Reading submissions is total: whatever a stored dossier holds, every read of it and the
agency's inbox answer; the inbox pages with a cursor."""

from __future__ import annotations

import sqlalchemy as sa

from tests.fixtures.factories import grant, submit
from tests.fixtures.world import World


def test_a_dossier_stored_before_the_bounds_still_reads_everywhere(world: World) -> None:
    d = grant(world.client, world.citizen)
    sub = submit(world.client, world.vnpost, d["token"]).json()
    # What main accepted before the dossier bounds: 300 levels, past pydantic's 255.
    deep = "1"
    for _ in range(300):
        deep = '{"x":' + deep + "}"
    with world.client.app.state.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE submissions SET dossier = :d WHERE id = :id"),
            {"d": deep, "id": sub["id"]},
        )
    one = world.client.get(f"/v1/submissions/{sub['id']}", headers=world.agency)
    assert one.status_code == 200, one.text
    assert one.text.endswith('"dossier":' + deep + "}")
    inbox = world.client.get("/v1/agency/submissions", headers=world.agency)
    assert inbox.status_code == 200 and [s["id"] for s in inbox.json()] == [sub["id"]]
    assert (
        world.client.get(f"/v1/submissions/{sub['id']}", headers=world.citizen).status_code == 200
    )


def test_the_inbox_pages_with_a_cursor_and_a_next_link(world: World) -> None:
    d = grant(world.client, world.citizen, max_uses=5)
    filed = [submit(world.client, world.vnpost, d["token"]).json()["id"] for _ in range(5)]
    seen: list[str] = []
    url = "/v1/agency/submissions?limit=2"
    pages = 0
    while url:
        resp = world.client.get(url, headers=world.agency)
        assert resp.status_code == 200, resp.text
        seen += [s["id"] for s in resp.json()]
        pages += 1
        link = resp.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else ""
        assert pages <= 4
    assert seen == filed and pages == 3
    other = world.client.get(f"/v1/agency/submissions?after={filed[0]}", headers=world.other_agency)
    assert other.status_code == 404  # another agency's id is no cursor
