"""The transparency log: record events, sequence them into a Merkle tree, sign checkpoints,
serve proofs, and verify the whole log against its signed checkpoints.

Every domain records through `record()`, in the transaction of the change it records: the
event commits with the change or not at all. Recording is a plain INSERT: no request waits for
a global lock. A sequencer (one at a time: an advisory lock on PostgreSQL, the write lock on
SQLite) then numbers committed events densely, in the order it finds them, and signs a
checkpoint of the new tree.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import String, bindparam, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from audit import merkle
from audit.models import AuditCheckpoint, AuditEvent, AuditSubject
from core.canonical import canonical_json
from core.db import read_only


class CheckpointSigner(Protocol):
    """What the log needs of signing's keyring, handed in at start-up (every domain, signing
    included, records events, so audit sits below signing and cannot import it)."""

    def sign(self, claims: dict[str, Any], typ: str) -> str: ...

    def verify(self, token: str, typ: str) -> dict[str, Any]: ...


log = logging.getLogger("uyquyen.audit")
CHECKPOINT_TYP = "checkpoint+jwt"
SEQUENCER_LOCK = 7401922
BATCH = 5000


def has_event(session: Session, kind: str, ref: str) -> bool:
    """Whether an event of this kind about this ref is on the record already."""
    found = session.exec(
        select(AuditEvent.id)
        .where(col(AuditEvent.kind) == kind, col(AuditEvent.ref) == ref)
        .limit(1)
    ).first()
    return found is not None


def record(
    session: Session | Connection,
    kind: str,
    *,
    actor: str,
    subjects: Iterable[str | None] = (),
    ref: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Record one event in the caller's transaction. `subjects` are the PIDs it concerns."""
    pids = sorted({p for p in subjects if p})
    # Core INSERTs, not ORM objects: every request records at least one event, and building and
    # flushing a model instance costs more CPU than the rest of a login.
    values = {
        "kind": kind,
        "ref": ref,
        "actor": actor,
        "subjects": json.dumps(pids),
        "data": json.dumps(data or {}, ensure_ascii=False, sort_keys=True),
        "occurred_at": now or datetime.now(UTC),
    }
    if not pids:
        session.execute(_INSERT_EVENT, values)
    elif _dialect_name(session) == "postgresql":
        # One round trip: the event and its subjects in one statement (a data-modifying CTE).
        session.execute(
            _INSERT_EVENT_WITH_SUBJECTS, {f"e_{k}": v for k, v in values.items()} | {"e_pids": pids}
        )
    else:
        event_id = session.execute(_INSERT_EVENT_RETURNING_ID, values).scalar_one()
        session.execute(_INSERT_SUBJECT, [{"event_id": event_id, "pid": pid} for pid in pids])


_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = _EVENTS.insert().inline()  # no RETURNING: nobody needs the new id
_INSERT_EVENT_RETURNING_ID = _EVENTS.insert().returning(_EVENTS.c.id)
_SUBJECTS = AuditSubject.__table__  # type: ignore[attr-defined]
_INSERT_SUBJECT = _SUBJECTS.insert()
_NEW_EVENT = (
    _EVENTS.insert()
    .values(
        {
            name: bindparam(f"e_{name}")
            for name in ("kind", "ref", "actor", "subjects", "data", "occurred_at")
        }
    )
    .returning(_EVENTS.c.id)
    .cte("new_event")
)
_INSERT_EVENT_WITH_SUBJECTS = _SUBJECTS.insert().from_select(
    ["event_id", "pid"],
    sa_select(_NEW_EVENT.c.id, func.unnest(bindparam("e_pids", type_=postgresql.ARRAY(String)))),
)
_PENDING_EVENTS = (
    sa_select(_EVENTS).where(_EVENTS.c.seq.is_(None)).order_by(_EVENTS.c.id).limit(BATCH)
)
_NUMBER_EVENT = (
    _EVENTS.update()
    .where(_EVENTS.c.id == bindparam("b_id"))
    .values(seq=bindparam("b_seq"), leaf_hash=bindparam("b_leaf"), root_after=bindparam("b_root"))
)


def _dialect_name(db: Session | Connection) -> str:
    return db.dialect.name if isinstance(db, Connection) else db.get_bind().dialect.name


def entry_bytes(event: AuditEvent | Any, seq: int) -> bytes:
    """The canonical bytes of an event's leaf (a model or a row): everything that matters, its
    position included."""
    return canonical_json(
        {
            "seq": seq,
            "kind": event.kind,
            "ref": event.ref,
            "actor": event.actor,
            "subjects": json.loads(event.subjects),
            "data": json.loads(event.data),
            "at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        }
    )


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: str
    timestamp: datetime
    signed: str


class AuditLog:
    def __init__(self, engine: Engine, keyring: CheckpointSigner, issuer: str):
        self.engine = engine
        self.keyring = keyring
        self.issuer = issuer

    # -- sequencing --------------------------------------------------------------------------
    def sequence(self, yield_every: int = 0) -> int:
        """Number the committed, unnumbered events and sign a checkpoint. Returns how many.

        `yield_every` events the thread lets others run: in a server process a batch of
        thousands of events would otherwise hold the interpreter for tens of milliseconds, and
        every request in flight would wait that long (the p99 latency)."""
        with Session(self.engine) as session:
            if self.engine.dialect.name == "postgresql":
                got = session.execute(
                    select(func.pg_try_advisory_xact_lock(SEQUENCER_LOCK))
                ).scalar()
                if not got:
                    return 0  # another process is sequencing right now
            # Core rows and one executemany UPDATE: the sequencer runs in every server process,
            # and ORM objects for thousands of events would cost the requests their CPU.
            pending = session.execute(_PENDING_EVENTS).all()
            if not pending:
                return 0
            last = session.exec(
                select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size).desc()).limit(1)
            ).first()
            size = last.tree_size if last else 0
            frontier = [bytes.fromhex(h) for h in json.loads(last.frontier)] if last else []
            numbered = []
            for event in pending:
                leaf = merkle.leaf_hash(entry_bytes(event, size))
                frontier = merkle.frontier_append(frontier, size, leaf)
                numbered.append(
                    {
                        "b_id": event.id,
                        "b_seq": size,
                        "b_leaf": leaf.hex(),
                        "b_root": merkle.frontier_root(frontier).hex(),
                    }
                )
                size += 1
                if yield_every and size % yield_every == 0:
                    time.sleep(0)  # releases the GIL to a waiting request thread
            session.execute(_NUMBER_EVENT, numbered)
            now = datetime.now(UTC)
            root = merkle.frontier_root(frontier).hex()
            signed = self.keyring.sign(
                {
                    "iss": self.issuer,
                    "tree_size": size,
                    "root_hash": root,
                    "iat": int(now.timestamp()),
                    "timestamp": now.isoformat(timespec="microseconds"),
                },
                CHECKPOINT_TYP,
            )
            session.add(
                AuditCheckpoint(
                    tree_size=size,
                    root_hash=root,
                    signed=signed,
                    frontier=json.dumps([h.hex() for h in frontier]),
                    created_at=now,
                )
            )
            session.commit()
            return len(pending)

    def latest_checkpoint(self) -> Checkpoint | None:
        with Session(read_only(self.engine)) as session:
            row = session.exec(
                select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size).desc()).limit(1)
            ).first()
        if row is None:
            return None
        return Checkpoint(row.tree_size, row.root_hash, row.created_at, row.signed)

    # -- proofs ------------------------------------------------------------------------------
    def _leaves(self, size: int) -> list[bytes]:
        with Session(read_only(self.engine)) as session:
            hashes = session.exec(
                select(AuditEvent.leaf_hash)
                .where(col(AuditEvent.seq).is_not(None), col(AuditEvent.seq) < size)
                .order_by(col(AuditEvent.seq))
            ).all()
        return [bytes.fromhex(h) for h in hashes if h]

    def backlog(self, now: datetime) -> tuple[int, float]:
        """Events committed but not yet in the tree, and the age in seconds of the oldest."""
        with Session(self.engine) as session:
            count, oldest = session.execute(
                sa_select(func.count(), func.min(AuditEvent.occurred_at)).where(
                    col(AuditEvent.seq).is_(None)
                )
            ).one()
        return count, (now - oldest).total_seconds() if oldest is not None else 0.0

    def sequenced_size(self) -> int:
        checkpoint = self.latest_checkpoint()
        return checkpoint.tree_size if checkpoint else 0

    def inclusion(self, seq: int, size: int) -> tuple[bytes, list[bytes]]:
        leaves = self._leaves(size)
        return leaves[seq], merkle.inclusion_path(leaves, seq)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return merkle.consistency_proof(self._leaves(second), first)

    # -- listing -----------------------------------------------------------------------------
    def events(
        self,
        *,
        pid: str | None = None,
        kind: str | None = None,
        ref: str | None = None,
        after_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        stmt = select(AuditEvent)
        if pid is not None:
            stmt = stmt.join(AuditSubject, col(AuditSubject.event_id) == col(AuditEvent.id)).where(
                col(AuditSubject.pid) == pid
            )
        if kind is not None:
            stmt = stmt.where(col(AuditEvent.kind) == kind)
        if ref is not None:
            stmt = stmt.where(col(AuditEvent.ref) == ref)
        if after_seq is not None:
            stmt = stmt.where(col(AuditEvent.seq) > after_seq)
        # Sequenced events in log order, then any not yet sequenced.
        stmt = stmt.order_by(col(AuditEvent.seq).is_(None), col(AuditEvent.seq), col(AuditEvent.id))
        with Session(read_only(self.engine)) as session:
            return list(session.exec(stmt.limit(limit)))

    # -- verification ------------------------------------------------------------------------
    def verify(self) -> tuple[bool, int | None, str]:
        """Recompute the tree from the database and check every signed checkpoint.

        Returns (ok, first bad sequence number or None, a sentence for a person)."""
        with Session(read_only(self.engine)) as session:
            events = list(
                session.exec(
                    select(AuditEvent)
                    .where(col(AuditEvent.seq).is_not(None))
                    .order_by(col(AuditEvent.seq))
                )
            )
            checkpoints = list(
                session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size)))
            )
        by_size = {c.tree_size: c for c in checkpoints}
        frontier: list[bytes] = []
        first_bad: int | None = None
        problem = ""
        for position, event in enumerate(events):
            if event.seq != position:
                first_bad, problem = (
                    position,
                    f"event {position} is missing (found {event.seq} in its place)",
                )
                break
            leaf = merkle.leaf_hash(entry_bytes(event, position))
            if event.leaf_hash != leaf.hex():
                first_bad, problem = position, f"event {position} does not match its leaf hash"
                break
            frontier = merkle.frontier_append(frontier, position, leaf)
            if event.root_after != merkle.frontier_root(frontier).hex():
                first_bad, problem = position, f"the tree after event {position} does not match"
                break
            checkpoint = by_size.pop(position + 1, None)
            if checkpoint is not None:
                bad = self._check_checkpoint(checkpoint, merkle.frontier_root(frontier).hex())
                if bad:
                    first_bad, problem = self._first_in_checkpoint(checkpoints, position + 1), bad
                    break
        if first_bad is None and by_size:
            size = min(by_size)
            first_bad = len(events)
            problem = (
                f"checkpoint of size {size} covers events the database no longer has "
                f"(from {len(events)})"
            )
        if first_bad is not None:
            return False, first_bad, problem
        return True, None, f"{len(events)} events and {len(checkpoints)} signed checkpoints verify"

    def _check_checkpoint(self, checkpoint: AuditCheckpoint, computed_root: str) -> str:
        try:
            claims = self.keyring.verify(checkpoint.signed, CHECKPOINT_TYP)
        except Exception as exc:  # InvalidServiceToken
            return f"checkpoint {checkpoint.tree_size} has a bad signature: {exc}"
        if (
            claims.get("tree_size") != checkpoint.tree_size
            or claims.get("root_hash") != checkpoint.root_hash
        ):
            return f"checkpoint {checkpoint.tree_size} does not match its signed statement"
        if computed_root != checkpoint.root_hash:
            return f"the events up to {checkpoint.tree_size} do not give the signed root"
        return ""

    @staticmethod
    def _first_in_checkpoint(checkpoints: list[AuditCheckpoint], size: int) -> int:
        earlier = [c.tree_size for c in checkpoints if c.tree_size < size]
        return max(earlier) if earlier else 0


class BackgroundSequencer:
    """Sequences every `interval_s` seconds in each server process (one wins the lock)."""

    def __init__(self, log_: AuditLog, interval_s: float = 2.0):
        self.log = log_
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.log.sequence(yield_every=32)
            except Exception:  # keep trying: the next round will pick the events up
                log.exception("audit sequencing failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
