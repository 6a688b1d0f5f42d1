"""Throttling of failed logins: client credentials per client id, the admin token and token
exchange per address (and, with other limits, lookups and requests).

Counted in the database, so the count holds across server processes and hosts with nothing but
the database (SQLite in development), in sliding windows: the current window's count plus the
previous window's, weighted by how much of it still lies within one window of now (so a burst
across a window's edge is counted whole). A key past its limit is refused (429 and
Retry-After until its window ends) before any secret is checked, so guessing stops and the
answer says nothing about the guess. Limits per address are far looser than per client: the
counters of several agents may share one NAT, and one client under attack must not lock out the
others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from identity.models import LoginFailures

_FAILURES = LoginFailures.__table__  # type: ignore[attr-defined]


def _count_statement(dialect_insert):  # type: ignore[no-untyped-def]
    stmt = dialect_insert(_FAILURES).values(
        key=sa.bindparam("key"), window_start=sa.bindparam("w"), failures=1, previous=0
    )
    same = _FAILURES.c.window_start == stmt.excluded.window_start
    just_before = _FAILURES.c.window_start == sa.bindparam("w_prev")
    return stmt.on_conflict_do_update(
        index_elements=[_FAILURES.c.key],
        set_={
            "failures": sa.case((same, _FAILURES.c.failures + 1), else_=1),
            "previous": sa.case(
                (same, _FAILURES.c.previous), (just_before, _FAILURES.c.failures), else_=0
            ),
            "window_start": stmt.excluded.window_start,
        },
    ).returning(_FAILURES.c.failures, _FAILURES.c.previous)


_COUNT = {
    "postgresql": _count_statement(postgresql_insert),
    "sqlite": _count_statement(sqlite_insert),
}
_READ = sa.select(
    _FAILURES.c.key, _FAILURES.c.window_start, _FAILURES.c.failures, _FAILURES.c.previous
).where(_FAILURES.c.key.in_(sa.bindparam("keys", expanding=True)))


def _weighted(
    window_start: int, failures: int, previous: int, w: int, w_prev: int, weight: float
) -> float:
    if window_start == w:
        return failures + previous * weight
    if window_start == w_prev:
        return failures * weight
    return 0.0


def failures_in_window(key_param: str, window_param: str) -> sa.ColumnElement[float]:
    """A scalar subquery of one key's sliding count (0 if none): lets a hot path read the count
    in the statement it runs anyway. Binds `window_param`, `w_prev` and `w_weight`
    (LoginThrottle.window_params)."""
    w = sa.bindparam(window_param, type_=sa.BigInteger)
    w_prev = sa.bindparam("w_prev", type_=sa.BigInteger)
    weight = sa.bindparam("w_weight", type_=sa.Float)
    return sa.func.coalesce(
        sa.select(
            sa.case(
                (
                    _FAILURES.c.window_start == w,
                    _FAILURES.c.failures + _FAILURES.c.previous * weight,
                ),
                (_FAILURES.c.window_start == w_prev, _FAILURES.c.failures * weight),
                else_=0,
            )
        )
        .where(_FAILURES.c.key == sa.bindparam(key_param))
        .scalar_subquery(),
        0,
    )


@dataclass(frozen=True)
class Throttled(Exception):
    key: str
    retry_after_s: int


class LoginThrottle:
    def __init__(
        self,
        *,
        window_s: int = 300,
        per_client: int = 10,
        per_address: int = 200,
        admin_per_address: int = 20,
        **other_limits: int,
    ):
        self.window_s = window_s
        self.limits = {
            "client": per_client,
            "staff": per_client,  # failed staff logins through one counter's credential
            "address": per_address,
            "admin": admin_per_address,
            **other_limits,  # e.g. lookup=10: lookups of request codes per citizen
        }

    def window(self, now: float) -> int:
        return int(now) // self.window_s * self.window_s

    def window_params(self, now: float) -> dict[str, float]:
        """What the sliding count needs beside the current window's start."""
        w = self.window(now)
        return {"w_prev": w - self.window_s, "w_weight": 1.0 - (now - w) / self.window_s}

    def retry_after(self, now: float) -> int:
        return max(1, self.window(now) + self.window_s - int(now))

    def limit(self, key: str) -> int:
        return self.limits[key.split(":", 1)[0]]

    def check(self, counts: dict[str, float], now: float) -> None:
        """Raise Throttled if any key has used up its failures within a window of now."""
        for key, failures in counts.items():
            # Rounded up: 9.93 of 10 in the last minute is 10 (the estimate errs on the safe side).
            if math.ceil(failures - 1e-9) >= self.limit(key):
                raise Throttled(key, self.retry_after(now))

    def read(self, conn: Session | Connection, keys: list[str], now: float) -> dict[str, float]:
        w = self.window(now)
        params = self.window_params(now)
        rows = conn.execute(_READ, {"keys": keys}).all()
        found = {
            row.key: _weighted(
                row.window_start,
                row.failures,
                row.previous,
                w,
                int(params["w_prev"]),
                params["w_weight"],
            )
            for row in rows
        }
        return dict.fromkeys(keys, 0.0) | found

    def fail(self, conn: Session | Connection, keys: list[str], now: float) -> dict[str, float]:
        """Count one failure against each key; returns the sliding counts after it."""
        dialect = (conn.get_bind() if isinstance(conn, Session) else conn).dialect.name
        statement = _COUNT[dialect]
        w = self.window(now)
        params = self.window_params(now)
        counts: dict[str, float] = {}
        for key in keys:
            failures, previous = conn.execute(
                statement, {"key": key, "w": w, "w_prev": int(params["w_prev"])}
            ).one()
            counts[key] = failures + previous * params["w_weight"]
        return counts
