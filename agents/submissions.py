"""Submissions: a delegate files a dossier under a delegation; one use is consumed atomically,
the dossier goes to the responsible agency's inbox and the delegate gets a signed receipt."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import Engine, bindparam, func, insert, literal, tuple_, update
from sqlmodel import Session, col, select

from agents.exceptions import (
    AlreadyCompleted,
    DossierTooComplex,
    DossierTooLarge,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidDossier,
    OperatorMismatch,
    OperatorNotAllowed,
    OperatorRequired,
    ResultNotReady,
    SubmissionNotFound,
    UnknownProcedure,
)
from agents.models import IdempotencyRecord, Procedure, Submission, SubmissionResult
from agents.schemas import SubmissionCreate
from audit import service as audit
from core import canonical
from core.auth import Principal, WrongCallerKind
from core.db import InsertIfAbsent
from core.errors import AppError, Conflict
from core.jsonshape import JsonTooComplex, check_shape
from delegation import service as delegation_service
from delegation.exceptions import InvalidDelegation, NotDelegate, ProcedureOutOfScope
from delegation.service import DelegationConfig
from signing.keyring import InvalidServiceToken, Keyring
from signing.mandate import RECEIPT_TYP, Mandate
from signing.pades import Level
from signing.service import SigningService

log = logging.getLogger("uyquyen.submissions")

MAX_DOSSIER_BYTES = 1024 * 1024
# Every reader of a dossier (pydantic, our canonicalizer, the agency's software) must be able to
# walk it: a form is a few levels deep; 255 levels broke every read of a stored one.
DOSSIER_SHAPE = {"max_depth": 32, "max_members": 20_000, "max_string": 262_144}
MAX_IDEMPOTENCY_KEY = 128


def canonical_json(value: Any) -> bytes:
    try:
        return canonical.canonical_json(value)
    except canonical.CanonicalizationError as exc:
        raise InvalidDossier(f"the dossier cannot be canonicalized (RFC 8785): {exc}") from None


def _is_delegate(principal: Principal, delegate: dict[str, Any]) -> bool:
    if delegate.get("type") == "agent":
        return principal.kind == "agent" and principal.agent_code == delegate.get("code")
    if delegate.get("type") == "person":
        return principal.kind == "citizen" and principal.subject == delegate.get("pid")
    return False


# The statements of the hot path are built once, with bind parameters, as Core statements on the
# tables: building an expression tree and its cache key per request, and the ORM's unit of
# work, cost more CPU than the database round trips they produce.
_IDEMPOTENCY = IdempotencyRecord.__table__  # type: ignore[attr-defined]
_SUBMISSIONS = Submission.__table__  # type: ignore[attr-defined]
_PROCEDURES = Procedure.__table__  # type: ignore[attr-defined]
_CLAIM_KEY = InsertIfAbsent(
    _IDEMPOTENCY,
    _IDEMPOTENCY.c.caller,
    caller=bindparam("p_caller"),
    key=bindparam("p_key"),
    request_sha256=bindparam("p_request_sha256"),
    response_status=0,
    response_body="",
    created_at=bindparam("p_now"),
)
_STORED_ANSWER = select(
    _IDEMPOTENCY.c.request_sha256, _IDEMPOTENCY.c.response_status, _IDEMPOTENCY.c.response_body
).where(_IDEMPOTENCY.c.caller == bindparam("p_caller"), _IDEMPOTENCY.c.key == bindparam("p_key"))
_STORE_ANSWER = (
    update(_IDEMPOTENCY)
    .where(_IDEMPOTENCY.c.caller == bindparam("p_caller"), _IDEMPOTENCY.c.key == bindparam("p_key"))
    .values(response_status=bindparam("p_status"), response_body=bindparam("p_body"))
)
_AGENCY_OF_PROCEDURE = select(_PROCEDURES.c.agency_code).where(
    _PROCEDURES.c.code == bindparam("code")
)
_INSERT_SUBMISSION = insert(_SUBMISSIONS)


def _stored_answer(
    session: Session, caller: str, key: str, request_sha256: str
) -> tuple[int, bytes] | None:
    record = session.execute(_STORED_ANSWER, {"p_caller": caller, "p_key": key}).first()
    if record is None or record.response_status == 0:
        return None
    if record.request_sha256 != request_sha256:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    return record.response_status, record.response_body.encode()


def _claim_key(session: Session, caller: str, key: str, request_sha256: str, now: datetime) -> bool:
    params = {"p_caller": caller, "p_key": key, "p_request_sha256": request_sha256, "p_now": now}
    return _CLAIM_KEY(session, params)


def submit(
    session: Session,
    keyring: Keyring,
    config: DelegationConfig,
    principal: Principal,
    body: SubmissionCreate,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[int, bytes]:
    """Returns (HTTP status, exact response body), so that a retry can be answered byte for byte."""
    if principal.kind not in ("agent", "citizen"):
        raise WrongCallerKind("submissions are made by agent counters and person delegates")
    if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise IdempotencyKeyRequired("send an Idempotency-Key header of 1 to 128 characters")
    operator, authenticated = body.operator, False
    if principal.staff_code is not None:  # a staff-bound token: the staff member acts
        if operator is not None and operator != principal.staff_code:
            raise OperatorMismatch(
                f"operator {operator!r} is not the logged-in staff member {principal.staff_code}"
            )
        operator, authenticated = principal.staff_code, True
    elif principal.kind == "agent" and not operator:
        raise OperatorRequired("a counter must say which staff member submits (operator)")
    if principal.kind == "citizen" and body.operator is not None:
        raise OperatorNotAllowed("operator is for agent counters only")
    try:
        check_shape(body.dossier, **DOSSIER_SHAPE)
    except JsonTooComplex as exc:
        raise DossierTooComplex(f"the dossier is too complex: {exc}") from None
    dossier = canonical_json(body.dossier)
    if len(dossier) > MAX_DOSSIER_BYTES:
        raise DossierTooLarge(f"the dossier is {len(dossier)} bytes; the limit is 1 MiB")
    request_sha256 = hashlib.sha256(
        canonical_json(
            {
                "delegation_token": body.delegation_token,
                "procedure": body.procedure,
                "operator": body.operator,
                "dossier": body.dossier,
            }
        )
    ).hexdigest()
    caller = f"{principal.kind}:{principal.subject}"

    # Claim the key before doing anything (one INSERT .. ON CONFLICT DO NOTHING): a concurrent
    # twin waits on this row (PostgreSQL) or on the write lock (SQLite) and then finds the
    # first answer instead of consuming a use.
    if not _claim_key(session, caller, idempotency_key, request_sha256, now):
        stored = _stored_answer(session, caller, idempotency_key, request_sha256)
        if stored:
            return stored
        raise Conflict(
            "a request with this Idempotency-Key is in progress",
            code="idempotency_key_in_progress",
        )

    # The checks, in the contract's order of precedence.
    claims = delegation_service.genuine_claims(keyring, config, body.delegation_token)
    delegate = claims["delegate"]
    if not _is_delegate(principal, delegate):
        raise NotDelegate("this delegation was not given to the caller")
    if body.procedure not in claims["procedures"]:
        raise ProcedureOutOfScope(f"procedure {body.procedure} is not covered by this delegation")
    delegation = delegation_service.consume_use(session, claims["jti"], now)

    agency_code = session.execute(_AGENCY_OF_PROCEDURE, {"code": body.procedure}).scalar()
    if agency_code is None:
        raise UnknownProcedure(f"procedure {body.procedure} is no longer in the catalogue")
    submission_id = "sub_" + secrets.token_hex(12)
    dossier_sha256 = hashlib.sha256(dossier).hexdigest()
    receipt_claims: dict[str, Any] = {
        "iss": config.issuer,
        "jti": submission_id,
        "iat": int(now.timestamp()),
        "sub": delegation.delegator_pid,
        "delegation": delegation.id,
        "delegate": delegate,
        "procedure": body.procedure,
        "dossier_sha256": dossier_sha256,
    }
    act = act_of(principal.counter_id, operator, authenticated)
    if act is not None:
        receipt_claims["act"] = act
    receipt = keyring.sign(receipt_claims, RECEIPT_TYP)
    answer = json.dumps(
        {"id": submission_id, "status": "received", "receipt": receipt, "agency": agency_code},
        separators=(",", ":"),
    ).encode()
    session.execute(
        _INSERT_SUBMISSION,
        {
            "id": submission_id,
            "delegation_id": delegation.id,
            "delegator_pid": delegation.delegator_pid,
            "delegate_type": delegate["type"],
            "delegate_ref": delegate.get("code") or delegate.get("pid"),
            "submitted_by": principal.subject,
            "counter_id": principal.counter_id,
            "operator": operator,
            "operator_authenticated": authenticated,
            "procedure": body.procedure,
            "agency_code": agency_code,
            "status": "received",
            "dossier": dossier.decode("utf-8"),
            "dossier_sha256": dossier_sha256,
            "receipt": receipt,
            "created_at": now,
            "completed_at": None,
        },
    )
    session.execute(
        _STORE_ANSWER,
        {"p_caller": caller, "p_key": idempotency_key, "p_status": 201, "p_body": answer.decode()},
    )
    audit.record(
        session,
        "submission.accepted",
        actor=_actor(principal),
        subjects=[delegation.delegator_pid, delegate.get("pid")],
        ref=submission_id,
        data={
            "submission": submission_id,
            "delegation": delegation.id,
            "procedure": body.procedure,
            "agency": agency_code,
            "delegate": delegate,
            "counter": principal.counter_id,
            "operator": operator,
            "operator_authenticated": authenticated,
            "uses": delegation.uses,
            "dossier_sha256": dossier_sha256,
        },
        now=now,
    )
    return 201, answer


def act_of(
    counter_id: str | None, operator: str | None, authenticated: bool = False
) -> dict[str, Any] | None:
    """Who acted at which counter (API.md, "Who acted"): the staff member of a staff-bound token
    (`authenticated: true`), or the `operator` a counter declares, taken at its word
    (`authenticated: false`). A person delegate's receipt has no `act`."""
    if counter_id is None:
        return None
    return {"sub": operator or "", "counter": counter_id, "authenticated": authenticated}


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.agent_code or principal.subject}"


def _staff_actor(principal: Principal) -> str:
    """Who acted, down to the staff member when the token or session is bound to one."""
    who = _actor(principal)
    return f"{who}/{principal.staff_code}"[:96] if principal.staff_code else who


def record_refusal(
    session: Session,
    keyring: Keyring,
    config: DelegationConfig,
    principal: Principal,
    body: SubmissionCreate,
    code: str,
    now: datetime,
) -> None:
    """A refused submission leaves an event with its code (in its own transaction: the refused
    one was rolled back). A delegation found expired on use gets its own event, once."""
    try:
        claims: dict[str, Any] | None = delegation_service.genuine_claims(
            keyring, config, body.delegation_token
        )
    except InvalidDelegation:
        claims = None  # a forged token names no one we can trust
    delegation_id = claims["jti"] if claims else None
    subjects = [claims.get("sub"), claims["delegate"].get("pid")] if claims else []
    audit.record(
        session,
        "submission.refused",
        actor=_actor(principal),
        subjects=subjects,
        ref=delegation_id,
        data={"code": code, "delegation": delegation_id, "procedure": body.procedure},
        now=now,
    )
    if (
        code == "expired"
        and delegation_id
        and not audit.has_event(session, "delegation.expired", delegation_id)
    ):
        audit.record(
            session,
            "delegation.expired",
            actor=_actor(principal),
            subjects=subjects,
            ref=delegation_id,
            data={"delegation": delegation_id},
            now=now,
        )


def may_see(principal: Principal, s: Submission) -> bool:
    if principal.kind == "citizen":
        return principal.subject in (
            s.delegator_pid,
            s.delegate_ref if s.delegate_type == "person" else None,
        )
    if principal.kind == "agent":
        return s.delegate_type == "agent" and principal.agent_code == s.delegate_ref
    if principal.kind == "agency":
        return principal.agency_code == s.agency_code
    return False


def dossier_number(submission_id: str) -> str:
    """The dossier's number as people read it aloud, write it down and quote it ("4F2A-9C01"):
    the first 8 of its id's 24 random hex digits; the full id stays in the receipt and the API."""
    digits = submission_id.removeprefix("sub_")[:8].upper()
    return f"{digits[:4]}-{digits[4:]}"


def visible_by_id(
    session: Session, principal: Principal, submission_ids: list[str]
) -> dict[str, Submission]:
    """The submissions among these that the caller may see, by id (one query, for a list)."""
    ids = [i for i in set(submission_ids) if len(i) <= 40][:500]
    if not ids:
        return {}
    found = session.scalars(select(Submission).where(col(Submission.id).in_(ids)))
    return {s.id: s for s in found if may_see(principal, s)}


def get_visible(session: Session, principal: Principal, submission_id: str) -> Submission:
    s = session.get(Submission, submission_id) if len(submission_id) <= 40 else None
    if s is None or not may_see(principal, s):
        raise SubmissionNotFound(f"no submission {submission_id!r} for this caller")
    return s


def agency_inbox(
    session: Session,
    principal: Principal,
    status: str,
    limit: int,
    after: str | None = None,
    query: str | None = None,
) -> list[Submission]:
    """One page of the agency's inbox, oldest first; `after` is the last id of the page before
    (a cursor: a page never repeats or skips a row, whatever arrives meanwhile). `query` finds a
    submission by its number or id, or the submissions of a procedure by its code."""
    if principal.kind != "agency":
        raise WrongCallerKind("the inbox is for agencies")
    stmt = select(Submission).where(
        col(Submission.agency_code) == principal.agency_code, col(Submission.status) == status
    )
    number = re.fullmatch(r"([0-9a-fA-F]{4})[- ]?([0-9a-fA-F]{4})", (query or "").strip())
    if number:  # the dossier number people read aloud (dossier_number): its id's first digits
        stmt = stmt.where(col(Submission.id).startswith(f"sub_{number[1]}{number[2]}".lower()))
    elif query:
        stmt = stmt.where(
            (col(Submission.id) == query.strip()) | (col(Submission.procedure) == query.strip())
        )
    if after is not None:
        previous = session.get(Submission, after) if len(after) <= 40 else None
        if previous is None or previous.agency_code != principal.agency_code:
            raise SubmissionNotFound(f"no submission {after!r} to continue after")
        stmt = stmt.where(
            tuple_(col(Submission.created_at), col(Submission.id))
            > tuple_(literal(previous.created_at), literal(previous.id))
        )
    stmt = stmt.order_by(col(Submission.created_at), col(Submission.id)).limit(limit)
    return list(session.scalars(stmt))


def uses_of(session: Session, principal: Principal, delegation_id: str) -> list[Submission]:
    """Every submission under a delegation, for its delegator."""
    d = delegation_service.get_visible(session, principal, delegation_id)
    if not delegation_service.is_delegator(principal, d):
        raise WrongCallerKind("only the delegator sees the uses of a delegation")
    stmt = (
        select(Submission)
        .where(col(Submission.delegation_id) == d.id)
        .order_by(col(Submission.created_at), col(Submission.id))
    )
    return list(session.scalars(stmt))


# Results are signed at B-LTA: at B-LT the revocation data and the CA certificates in the DSS
# have no proof of existence older than the moment of validation, so an EN 319 102-1 validator
# (pyHanko's, in ?report=etsi) cannot build the past validation path and rates every fresh
# result indeterminate/NO_POE. The document timestamp over the DSS is that proof; it costs one
# more timestamp and revision (benchmarks: B-LTA vs B-LT).
RESULT_LEVEL: Level = "B-LTA"


class IssuedResults:
    """signing.mandate.StoredResults: the results this service signed and stored, for
    `filed_under` to compare an uploaded document with."""

    MAX_SUBMISSION_ID = 40

    def __init__(self, engine: Engine):
        self.engine = engine

    def result_begins_with(
        self, submission: str, signed_length: int, signed_sha256: str
    ) -> bool | None:
        if len(submission) > self.MAX_SUBMISSION_ID or signed_length <= 0:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(  # only the prefix leaves the database
                    func.length(SubmissionResult.pdf),
                    func.substr(SubmissionResult.pdf, 1, signed_length),
                ).where(col(SubmissionResult.submission_id) == submission)
            ).first()
        if row is None:
            return None
        stored_length, prefix = row
        if stored_length < signed_length:
            return False
        return hashlib.sha256(bytes(prefix)).hexdigest() == signed_sha256


def attach_result(
    session: Session,
    signing: SigningService,
    principal: Principal,
    submission_id: str,
    pdf: IO[bytes],
    now: datetime,
) -> SubmissionResult:
    """The responsible agency answers: the service signs its PDF (PAdES B-LTA) with the
    agency's certificate and the submission is completed."""
    if principal.kind != "agency":
        raise WrongCallerKind("results come from the responsible agency")
    s = get_visible(session, principal, submission_id)
    if s.status == "completed":
        raise AlreadyCompleted(f"submission {s.id} already has its result")
    signed = signing.sign_upload(
        pdf,
        s.agency_code,
        RESULT_LEVEL,
        reason=f"Kết quả hồ sơ {s.id}",
        client=_actor(principal),
        mandate=Mandate(s.receipt, s.id, s.delegation_id),  # covered by the agency's signature
    )
    # Check-then-insert is a race between two uploads (two clerks, a double click, two
    # processes): the submission is claimed by one conditional UPDATE, so exactly one upload
    # wins and the other is told the result exists, on every backend.
    claimed = session.execute(  # type: ignore[attr-defined]
        update(Submission)
        .where(col(Submission.id) == s.id, col(Submission.status) == "received")
        .values(status="completed", completed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        session.rollback()
        raise AlreadyCompleted(f"submission {s.id} already has its result")
    result = SubmissionResult(
        submission_id=s.id,
        pdf=signed,
        level=RESULT_LEVEL,
        sha256=hashlib.sha256(signed).hexdigest(),
        signed_at=now,
    )
    session.add(result)
    session.flush()
    data: dict[str, Any] = {
        "submission": s.id,
        "agency": s.agency_code,
        "level": RESULT_LEVEL,
        "sha256": result.sha256,
    }
    if principal.staff_code:  # the agency clerk who uploaded it answers for it
        data["staff_code"] = principal.staff_code
    audit.record(
        session,
        "result.signed",
        actor=_staff_actor(principal),
        subjects=[s.delegator_pid, s.delegate_ref if s.delegate_type == "person" else None],
        ref=s.id,
        data=data,
        now=now,
    )
    return result


@dataclass
class Renewal:
    checked: int = 0
    renewed: int = 0
    failed: list[str] = field(default_factory=list)


def renew_results(
    engine: Engine, signing: SigningService, now: datetime, within: timedelta
) -> Renewal:
    """`python main.py results renew`: every signed result whose last timestamp (or a
    certificate it rests on) expires before `now + within` gets an archive timestamp (B-LTA),
    so it still verifies after that. One result per transaction; a result that changed
    meanwhile (another renewal) is left for the next run."""
    outcome = Renewal()
    after = ""
    while True:
        with Session(engine) as session:
            batch = session.exec(
                select(SubmissionResult.submission_id)
                .where(col(SubmissionResult.submission_id) > after)
                .order_by(col(SubmissionResult.submission_id))
                .limit(100)
            ).all()
        if not batch:
            return outcome
        for submission_id in batch:
            after = submission_id
            outcome.checked += 1
            try:
                renewed = _renew_one(engine, signing, submission_id, now, within)
            except AppError as exc:
                log.warning("result of %s not renewed: %s", submission_id, exc)
                outcome.failed.append(submission_id)
                continue
            outcome.renewed += renewed


def _renew_one(
    engine: Engine,
    signing: SigningService,
    submission_id: str,
    now: datetime,
    within: timedelta,
) -> bool:
    with Session(engine) as session:
        result = session.get(SubmissionResult, submission_id)
        s = session.get(Submission, submission_id)
        assert result is not None and s is not None
        before = result.sha256
        renewed = signing.renew_upload(result.pdf, s.agency_code, now + within)
        if renewed is None:
            return False
        sha256 = hashlib.sha256(renewed).hexdigest()
        changed = session.execute(
            update(SubmissionResult)
            .where(
                col(SubmissionResult.submission_id) == submission_id,
                col(SubmissionResult.sha256) == before,
            )
            .values(pdf=renewed, sha256=sha256, level="B-LTA")
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return False
        audit.record(
            session,
            "result.renewed",
            actor="system:results-renew",
            subjects=[s.delegator_pid, s.delegate_ref if s.delegate_type == "person" else None],
            ref=submission_id,
            data={"submission": submission_id, "level": "B-LTA", "sha256": sha256},
            now=now,
        )
        session.commit()
        return True


def result_of(session: Session, principal: Principal, submission_id: str) -> SubmissionResult:
    """The signed result, for the delegator, the delegate and the agency."""
    s = get_visible(session, principal, submission_id)
    result = session.get(SubmissionResult, s.id)
    if result is None:
        raise ResultNotReady(f"submission {s.id} has no result yet")
    return result


def file_and_commit(
    session: Session,
    keyring: Keyring,
    config: DelegationConfig,
    principal: Principal,
    body: SubmissionCreate,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[int, bytes]:
    """`submit`, committed: a refused submission leaves nothing but its refusal on the record;
    an accepted one is committed before anyone is told (the API's 201, the console's receipt)."""
    try:
        status, answer = submit(session, keyring, config, principal, body, idempotency_key, now)
    except AppError as exc:
        session.rollback()
        record_refusal(session, keyring, config, principal, body, exc.code, now)
        session.commit()
        raise
    session.commit()
    return status, answer


@dataclass(frozen=True)
class ReceiptCheck:
    """What anyone holding a receipt learns from the service: is it ours, and what became of
    the dossier it acknowledges."""

    valid: bool
    reason: str
    claims: dict[str, Any] | None = None
    status: str | None = None  # the submission's status now: received | completed


def check_receipt(session: Session, keyring: Keyring, issuer: str, token: str) -> ReceiptCheck:
    try:
        claims = keyring.verify(token.strip(), RECEIPT_TYP)
    except InvalidServiceToken as exc:
        return ReceiptCheck(False, f"not a receipt of this service: {exc}")
    if claims.get("iss") != issuer:
        return ReceiptCheck(False, "issued by another service")
    jti = claims.get("jti")
    s = session.get(Submission, jti) if isinstance(jti, str) and len(jti) <= 40 else None
    if s is None or s.receipt != token.strip():
        return ReceiptCheck(False, "this service holds no such receipt")
    return ReceiptCheck(True, "a genuine receipt of this service", claims, s.status)
