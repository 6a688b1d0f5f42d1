"""Throttling of failed logins: client credentials per client id, the admin token and token
exchange per address.

Counted in the database in fixed windows, so the count holds across server processes and hosts
with nothing but the database (SQLite in development). A key past its limit is refused (429 and
Retry-After until its window ends) before any secret is checked, so guessing stops and the
answer says nothing about the guess. Limits per address are far looser than per client: the
counters of several agents may share one NAT, and one client under attack must not lock out the
others.
"""

from __future__ import annotations

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
        key=sa.bindparam("key"), window_start=sa.bindparam("w"), failures=1
    )
    return stmt.on_conflict_do_update(
        index_elements=[_FAILURES.c.key],
        set_={
            "failures": sa.case(
                (_FAILURES.c.window_start == stmt.excluded.window_start, _FAILURES.c.failures + 1),
                else_=1,
            ),
            "window_start": stmt.excluded.window_start,
        },
    ).returning(_FAILURES.c.failures)


_COUNT = {
    "postgresql": _count_statement(postgresql_insert),
    "sqlite": _count_statement(sqlite_insert),
}
_READ = sa.select(_FAILURES.c.key, _FAILURES.c.failures).where(
    _FAILURES.c.key.in_(sa.bindparam("keys", expanding=True)),
    _FAILURES.c.window_start == sa.bindparam("w"),
)


def failures_in_window(key_param: str, window_param: str) -> sa.ColumnElement[int]:
    """A scalar subquery of one key's failures in the current window (0 if none): lets a hot
    path read the count in the statement it runs anyway."""
    return sa.func.coalesce(
        sa.select(_FAILURES.c.failures)
        .where(
            _FAILURES.c.key == sa.bindparam(key_param),
            _FAILURES.c.window_start == sa.bindparam(window_param),
        )
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

    def retry_after(self, now: float) -> int:
        return max(1, self.window(now) + self.window_s - int(now))

    def limit(self, key: str) -> int:
        return self.limits[key.split(":", 1)[0]]

    def check(self, counts: dict[str, int], now: float) -> None:
        """Raise Throttled if any key has used up its failures for this window."""
        for key, failures in counts.items():
            if failures >= self.limit(key):
                raise Throttled(key, self.retry_after(now))

    def read(self, conn: Session | Connection, keys: list[str], now: float) -> dict[str, int]:
        rows = conn.execute(_READ, {"keys": keys, "w": self.window(now)}).all()
        return dict.fromkeys(keys, 0) | {row.key: row.failures for row in rows}

    def fail(self, conn: Session | Connection, keys: list[str], now: float) -> dict[str, int]:
        """Count one failure against each key; returns the counts after it."""
        dialect = (conn.get_bind() if isinstance(conn, Session) else conn).dialect.name
        statement = _COUNT[dialect]
        w = self.window(now)
        return {key: conn.execute(statement, {"key": key, "w": w}).scalar_one() for key in keys}
