from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from audit.models import AuditEvent
from audit.service import AuditLog
from core.auth import Principal, require_kind
from core.db import DB_BIGINT_MAX
from core.errors import NotFound, Unprocessable

router = APIRouter(prefix="/v1/audit", tags=["transparency log"])
CitizenOrAdmin = Annotated[Principal, Depends(require_kind("citizen", "admin"))]


def _log(request: Request) -> AuditLog:
    return request.app.state.audit


def _event(e: AuditEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "kind": e.kind,
        "ref": e.ref,
        "actor": e.actor,
        "subjects": json.loads(e.subjects),
        "data": json.loads(e.data),
        "at": e.occurred_at.isoformat(),
        "leaf_hash": e.leaf_hash,
    }


@router.get("/checkpoint")
async def checkpoint(request: Request) -> dict[str, Any]:
    """The latest signed checkpoint: tree size, root hash, time (JWS, typ checkpoint+jwt)."""
    log = _log(request)
    await run_in_threadpool(log.sequence)  # include what has just been recorded
    latest = await run_in_threadpool(log.latest_checkpoint)
    if latest is None:
        raise NotFound("the log is empty", code="no_checkpoint")
    return {
        "tree_size": latest.tree_size,
        "root_hash": latest.root_hash,
        "timestamp": latest.timestamp.isoformat(),
        "checkpoint": latest.signed,
    }


def _check_size(log: AuditLog, size: int) -> None:
    if size < 1 or size > log.sequenced_size():
        raise Unprocessable(f"no signed tree of size {size}", code="invalid_tree_size")


@router.get("/proofs/inclusion")
def inclusion(
    request: Request,
    seq: Annotated[int, Query(ge=0, le=DB_BIGINT_MAX)],
    size: Annotated[int, Query(ge=1, le=DB_BIGINT_MAX)],
) -> dict[str, Any]:
    """RFC 9162 inclusion proof (audit path) of event `seq` in the tree of size `size`."""
    log = _log(request)
    _check_size(log, size)
    if seq >= size:
        raise Unprocessable("seq must be smaller than size", code="invalid_seq")
    leaf, path = log.inclusion(seq, size)
    return {
        "seq": seq,
        "tree_size": size,
        "leaf_hash": leaf.hex(),
        "audit_path": [h.hex() for h in path],
    }


@router.get("/proofs/consistency")
def consistency(
    request: Request,
    first: Annotated[int, Query(alias="from", ge=1, le=DB_BIGINT_MAX)],
    second: Annotated[int, Query(alias="to", ge=1, le=DB_BIGINT_MAX)],
) -> dict[str, Any]:
    """RFC 9162 consistency proof between the trees of sizes `from` and `to`."""
    log = _log(request)
    _check_size(log, second)
    if first > second:
        raise Unprocessable("from must not exceed to", code="invalid_tree_size")
    return {"from": first, "to": second, "proof": [h.hex() for h in log.consistency(first, second)]}


@router.get("/events")
def events(
    request: Request,
    principal: CitizenOrAdmin,
    kind: str | None = None,
    ref: str | None = None,
    pid: str | None = None,
    after_seq: Annotated[int | None, Query(ge=-1, le=DB_BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """A citizen's events (as delegator or delegate); admins see all, with filters."""
    log = _log(request)
    log.sequence()
    if principal.kind == "citizen":
        pid = principal.subject  # a citizen sees only their own, whatever they ask
    return [
        _event(e) for e in log.events(pid=pid, kind=kind, ref=ref, after_seq=after_seq, limit=limit)
    ]
