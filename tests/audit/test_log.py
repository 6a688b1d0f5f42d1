"""The transparency log: what is recorded, what a citizen sees, proofs checked by an independent
RFC 9162 verifier, and tampering caught by `audit verify`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import sqlalchemy as sa

from tests.fixtures.factories import grant, in_days, submit
from tests.fixtures.issuer import IssuerKey, encode_jws
from tests.fixtures.world import DELEGATOR, RELATIVE, World, jws_parts, verify_with_jwks


# -- an independent verifier, written from RFC 9162 sections 2.1.3.2 and 2.1.4.2 ---------------
def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc9162_verify_inclusion(
    leaf: bytes, index: int, size: int, path: list[bytes], root: bytes
) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc9162_verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    if first & (first - 1) == 0:  # a power of two: first_root is the first node of the path
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def rfc9162_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 9162 2.1.1 over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return _node(rfc9162_root(leaves[:k]), rfc9162_root(leaves[k:]))


# -- helpers -------------------------------------------------------------------------------------
def story(w: World) -> dict[str, Any]:
    """Grant, use, exhaust, grant and revoke: the demo's story, in-process."""
    d = grant(w.client, w.citizen, max_uses=1)
    used = submit(w.client, w.vnpost, d["token"]).json()
    refused = submit(w.client, w.vnpost, d["token"])
    assert refused.status_code == 409
    other = grant(w.client, w.citizen)
    w.client.post(f"/v1/delegations/{other['id']}/revoke", headers=w.citizen)
    return {"delegation": d, "submission": used, "revoked": other}


def checkpoint(w: World) -> dict[str, Any]:
    resp = w.client.get("/v1/audit/checkpoint")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    header, claims = jws_parts(body["checkpoint"])
    assert header["typ"] == "checkpoint+jwt"
    verified = verify_with_jwks(w.client, body["checkpoint"])
    assert verified["tree_size"] == body["tree_size"] and verified["root_hash"] == body["root_hash"]
    return body


def log_of(w: World):  # type: ignore[no-untyped-def]
    return w.client.app.state.audit


def sql(w: World, statement: str, **params: Any) -> None:
    with w.client.app.state.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


# -- what is recorded ----------------------------------------------------------------------------
class TestRecording:
    def test_citizen_sees_grant_use_and_revocation_in_order(self, world: World) -> None:
        s = story(world)
        events = world.client.get("/v1/audit/events", headers=world.citizen).json()
        kinds = [e["kind"] for e in events]
        assert (
            kinds.index("delegation.granted")
            < kinds.index("submission.accepted")
            < kinds.index("delegation.revoked")
        )
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and None not in seqs
        accepted = next(e for e in events if e["kind"] == "submission.accepted")
        assert accepted["ref"] == s["submission"]["id"]
        assert accepted["data"]["dossier_sha256"] and "dossier" not in accepted["data"]
        refused = next(e for e in events if e["kind"] == "submission.refused")
        assert refused["data"]["code"] == "exhausted"
        assert log_of(world).verify()[0] is True

    def test_events_carry_no_tokens_secrets_or_dossiers(self, world: World) -> None:
        s = story(world)
        with world.client.app.state.engine.connect() as conn:
            dump = " ".join(str(r) for r in conn.execute(sa.text("SELECT * FROM audit_events")))
        for forbidden in (
            s["delegation"]["token"],
            s["submission"]["receipt"],
            "Nguyễn Thị Lan",
            "uyq_cs_",
            "eyJ",
        ):
            assert forbidden not in dump

    def test_each_citizen_sees_only_their_own(self, world: World, issuer) -> None:
        story(world)
        p = grant(world.client, world.citizen, delegate={"type": "person", "pid": RELATIVE})
        world.client.post(f"/v1/delegations/{p['id']}/accept", headers=world.relative)
        mine = world.client.get("/v1/audit/events", headers=world.relative).json()
        assert {e["kind"] for e in mine} >= {"delegation.granted", "delegation.accepted"}
        assert all(RELATIVE in e["subjects"] for e in mine)
        # asking for someone else's PID changes nothing for a citizen
        spy = world.client.get(f"/v1/audit/events?pid={DELEGATOR}", headers=world.stranger).json()
        assert all(DELEGATOR not in e["subjects"] for e in spy)
        assert world.client.get("/v1/audit/events", headers=world.vnpost).status_code == 403

    def test_admin_sees_all_with_filters(self, world: World) -> None:
        story(world)
        every = world.client.get("/v1/audit/events?limit=1000", headers=world.admin).json()
        kinds = {e["kind"] for e in every}
        assert {
            "login.token_exchange",
            "login.client_credentials",
            "admin.agent_created",
            "admin.counter_created",
            "admin.client_created",
            "delegation.granted",
            "submission.accepted",
            "submission.refused",
            "delegation.revoked",
        } <= kinds
        only = world.client.get(
            "/v1/audit/events?kind=delegation.revoked", headers=world.admin
        ).json()
        assert [e["kind"] for e in only] == ["delegation.revoked"]

    def test_agent_suspension_and_result_signing_are_recorded(self, world: World) -> None:
        from tests.fixtures import pdfs

        d = grant(world.client, world.citizen)
        sub = submit(world.client, world.vnpost, d["token"]).json()
        world.client.post(
            f"/v1/submissions/{sub['id']}/result",
            headers=world.agency,
            files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
        )
        world.client.post("/v1/agents/VNPOST/suspend", headers=world.admin)
        world.client.post("/v1/agents/VNPOST/reinstate", headers=world.admin)
        kinds = [
            e["kind"]
            for e in world.client.get("/v1/audit/events?limit=1000", headers=world.admin).json()
        ]
        assert {"result.signed", "agent.suspended", "agent.reinstated"} <= set(kinds)
        mine = [
            e["kind"] for e in world.client.get("/v1/audit/events", headers=world.citizen).json()
        ]
        assert "result.signed" in mine


class TestNoEventWithoutItsChange:
    def test_refused_grant_leaves_no_event(self, world: World) -> None:
        before = world.client.get("/v1/audit/events?limit=1000", headers=world.admin).json()
        grant(world.client, world.citizen, expect=422, delegate={"type": "agent", "code": "NOBODY"})
        after = world.client.get("/v1/audit/events?limit=1000", headers=world.admin).json()
        assert [e["kind"] for e in after] == [e["kind"] for e in before]

    def test_crash_mid_transaction_leaves_no_event(self, world: World, monkeypatch) -> None:
        # The event is written, then the request dies before its commit.
        from audit import service as audit_service
        from delegation import service as delegation_service

        real_record = audit_service.record

        def record_then_crash(*args: Any, **kwargs: Any) -> Any:
            real_record(*args, **kwargs)
            raise RuntimeError("the process dies here")

        monkeypatch.setattr(delegation_service.audit, "record", record_then_crash)
        resp = world.client.post(
            "/v1/delegations",
            headers=world.citizen,
            json={
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": ["1.001612"],
                "valid_until": in_days(30),
            },
        )
        assert resp.status_code == 500
        monkeypatch.undo()
        events = world.client.get(
            "/v1/audit/events?kind=delegation.granted", headers=world.admin
        ).json()
        assert events == []
        assert world.client.get("/v1/delegations", headers=world.citizen).json() == []

    def test_refused_submission_leaves_its_refusal_and_nothing_else(self, world: World) -> None:
        d = grant(world.client, world.citizen)
        resp = submit(world.client, world.fpt, d["token"])
        assert resp.status_code == 403
        events = world.client.get(f"/v1/audit/events?ref={d['id']}", headers=world.admin).json()
        assert [e["kind"] for e in events] == ["delegation.granted", "submission.refused"]
        assert events[1]["data"]["code"] == "not_delegate"
        assert (
            world.client.get(
                "/v1/audit/events?kind=submission.accepted", headers=world.admin
            ).json()
            == []
        )


# -- proofs ----------------------------------------------------------------------------------------
class TestProofs:
    def test_inclusion_and_consistency_proofs_verify_independently(self, world: World) -> None:
        story(world)
        first = checkpoint(world)
        story(world)  # more events, a later checkpoint
        second = checkpoint(world)
        assert second["tree_size"] > first["tree_size"]
        root1, root2 = bytes.fromhex(first["root_hash"]), bytes.fromhex(second["root_hash"])
        for size, root in ((first["tree_size"], root1), (second["tree_size"], root2)):
            for seq in range(size):
                p = world.client.get(f"/v1/audit/proofs/inclusion?seq={seq}&size={size}").json()
                path = [bytes.fromhex(h) for h in p["audit_path"]]
                assert rfc9162_verify_inclusion(
                    bytes.fromhex(p["leaf_hash"]), seq, size, path, root
                )
                assert not rfc9162_verify_inclusion(
                    hashlib.sha256(b"forged").digest(), seq, size, path, root
                )
        n = second["tree_size"]
        leaves = [
            bytes.fromhex(
                world.client.get(f"/v1/audit/proofs/inclusion?seq={i}&size={n}").json()["leaf_hash"]
            )
            for i in range(n)
        ]
        assert rfc9162_root(leaves) == root2
        for m in range(1, n + 1):
            proof = world.client.get(f"/v1/audit/proofs/consistency?from={m}&to={n}").json()
            hashes = [bytes.fromhex(h) for h in proof["proof"]]
            m_root = root1 if m == first["tree_size"] else rfc9162_root(leaves[:m])
            assert rfc9162_verify_consistency(m, n, m_root, root2, hashes), m
            assert not rfc9162_verify_consistency(
                m, n, hashlib.sha256(b"other").digest(), root2, hashes
            )

    def test_leaf_is_rfc9162_hash_of_the_event(self, world: World) -> None:
        story(world)
        checkpoint(world)
        events = world.client.get("/v1/audit/events?limit=1000", headers=world.admin).json()
        import rfc8785

        e = events[0]
        entry = rfc8785.dumps(
            {
                "seq": e["seq"],
                "kind": e["kind"],
                "ref": e["ref"],
                "actor": e["actor"],
                "subjects": e["subjects"],
                "data": e["data"],
                "at": e["at"].replace("Z", "+00:00"),
            }
        )
        assert hashlib.sha256(b"\x00" + entry).hexdigest() == e["leaf_hash"]

    @pytest.mark.parametrize(
        "query", ["seq=0&size=0", "seq=5&size=2", "seq=-1&size=1", "seq=0&size=99999"]
    )
    def test_bad_proof_requests(self, world: World, query: str) -> None:
        story(world)
        checkpoint(world)
        resp = world.client.get(f"/v1/audit/proofs/inclusion?{query}")
        assert (
            resp.status_code == 422 and resp.headers["content-type"] == "application/problem+json"
        )


# -- tampering -------------------------------------------------------------------------------------
class TestTampering:
    @pytest.fixture
    def logged(self, world: World) -> World:
        story(world)
        checkpoint(world)
        story(world)
        checkpoint(world)
        ok, bad, message = log_of(world).verify()
        assert ok, message
        return world

    def test_edited_event(self, logged: World) -> None:
        sql(
            logged,
            "UPDATE audit_events SET data = :d WHERE seq = 4",
            d=json.dumps({"code": "forged"}),
        )
        assert log_of(logged).verify()[:2] == (False, 4)

    def test_deleted_event(self, logged: World) -> None:
        sql(
            logged,
            "DELETE FROM audit_subjects WHERE event_id = (SELECT id FROM audit_events WHERE seq = 5)",
        )
        sql(logged, "DELETE FROM audit_events WHERE seq = 5")
        assert log_of(logged).verify()[:2] == (False, 5)

    def test_swapped_events(self, logged: World) -> None:
        sql(logged, "UPDATE audit_events SET seq = -1 WHERE seq = 2")
        sql(logged, "UPDATE audit_events SET seq = 2 WHERE seq = 6")
        sql(logged, "UPDATE audit_events SET seq = 6 WHERE seq = -1")
        assert log_of(logged).verify()[:2] == (False, 2)

    def test_forged_event_inserted(self, logged: World) -> None:
        sql(logged, "UPDATE audit_events SET seq = -seq - 100 WHERE seq >= 3")
        sql(logged, "UPDATE audit_events SET seq = -seq - 99 WHERE seq <= -100")
        with logged.client.app.state.engine.begin() as conn:
            row = conn.execute(
                sa.text("SELECT leaf_hash, root_after FROM audit_events WHERE seq = 4")
            ).one()
            conn.execute(
                sa.text(
                    "INSERT INTO audit_events (seq, kind, actor, subjects, data, occurred_at, leaf_hash, root_after) "
                    "VALUES (3, 'delegation.revoked', 'admin', '[]', '{}', :t, :l, :r)"
                ),
                {"t": "2026-01-01 00:00:00", "l": row[0], "r": row[1]},
            )
        assert log_of(logged).verify()[:2] == (False, 3)

    def test_consistency_with_an_earlier_checkpoint_fails_after_tampering(
        self, world: World
    ) -> None:
        story(world)
        old = checkpoint(world)
        story(world)
        new = checkpoint(world)
        # Rewrite event 1 and its hashes as a forger would; the old signed root no longer fits.
        from sqlmodel import Session, select

        from audit import merkle
        from audit.models import AuditEvent
        from audit.service import entry_bytes

        with Session(world.client.app.state.engine) as session:
            e = session.exec(select(AuditEvent).where(AuditEvent.seq == 1)).one()
            e.data = json.dumps({"loa": 1})
            e.leaf_hash = merkle.leaf_hash(entry_bytes(e, 1)).hex()
            session.add(e)
            session.commit()
        proof = world.client.get(
            f"/v1/audit/proofs/consistency?from={old['tree_size']}&to={new['tree_size']}"
        ).json()
        hashes = [bytes.fromhex(h) for h in proof["proof"]]
        # The tree the database now describes:
        leaves = [
            bytes.fromhex(
                world.client.get(
                    f"/v1/audit/proofs/inclusion?seq={i}&size={new['tree_size']}"
                ).json()["leaf_hash"]
            )
            for i in range(new["tree_size"])
        ]
        assert not rfc9162_verify_consistency(
            old["tree_size"],
            new["tree_size"],
            bytes.fromhex(old["root_hash"]),
            merkle.root(leaves),
            hashes,
        )
        assert log_of(world).verify()[0] is False


class TestCheckpointTampering:
    """`audit verify` checks each checkpoint's signature, that the signature says what the row
    says, and that the events give the signed root."""

    @pytest.fixture
    def logged(self, world: World) -> World:
        story(world)
        checkpoint(world)
        assert log_of(world).verify()[0]
        return world

    def test_a_checkpoint_with_a_forged_signature(self, logged: World) -> None:
        signed = logged.client.get("/v1/audit/checkpoint").json()["checkpoint"]
        head, payload, sig = signed.split(".")
        forged = f"{head}.{payload}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
        sql(logged, "UPDATE audit_checkpoints SET signed = :s", s=forged)
        ok, _, message = log_of(logged).verify()
        assert not ok and "bad signature" in message, message

    def test_a_checkpoint_signed_by_another_key(self, logged: World) -> None:
        signed = logged.client.get("/v1/audit/checkpoint").json()["checkpoint"]
        header, claims = jws_parts(signed)
        sql(
            logged,
            "UPDATE audit_checkpoints SET signed = :s",
            s=encode_jws(header, claims, IssuerKey.generate(header["kid"], "ES256")),
        )
        ok, _, message = log_of(logged).verify()
        assert not ok and "bad signature" in message, message

    def test_a_checkpoint_row_that_differs_from_its_signed_statement(self, logged: World) -> None:
        sql(logged, "UPDATE audit_checkpoints SET root_hash = :r", r="ab" * 32)
        ok, _, message = log_of(logged).verify()
        assert not ok and "does not match its signed statement" in message, message

    def test_events_rewritten_with_their_hashes_do_not_give_the_signed_root(
        self, logged: World
    ) -> None:
        """A forger who rewrites an event and recomputes its leaf hash (and every stored hash
        after it) is caught only by the signed root."""
        from sqlmodel import Session, col, select

        from audit import merkle
        from audit.models import AuditEvent
        from audit.service import entry_bytes

        with Session(logged.client.app.state.engine) as session:
            events = session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.seq).is_not(None))
                .order_by(col(AuditEvent.seq))
            ).all()
            events[0].data = json.dumps({"loa": 1, "forged": True})
            leaves = []
            for e in events:
                e.leaf_hash = merkle.leaf_hash(entry_bytes(e, e.seq or 0)).hex()
                leaves.append(bytes.fromhex(e.leaf_hash))
                e.root_after = merkle.root(leaves).hex()
                session.add(e)
            session.commit()
        ok, _, message = log_of(logged).verify()
        assert not ok and "do not give the signed root" in message, message


def test_checkpoint_claims(world: World) -> None:
    story(world)
    body = checkpoint(world)
    claims = jws_parts(body["checkpoint"])[1]
    assert claims["iss"] == "http://testserver" and len(claims["root_hash"]) == 64
    assert verify_with_jwks(world.client, body["checkpoint"]) == claims  # raises if forged


def test_empty_log_has_no_checkpoint(client) -> None:
    resp = client.get("/v1/audit/checkpoint")
    assert resp.status_code == 404 and resp.json()["code"] == "no_checkpoint"
