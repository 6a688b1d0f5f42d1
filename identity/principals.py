"""Who is calling. Built only from a verified credential, never from what a request says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["citizen", "agent", "agency", "admin"]


@dataclass(frozen=True)
class Principal:
    kind: Kind
    subject: str  # citizen: PID; agent/agency: client_id; admin: "admin"
    loa: int | None = None  # citizens only
    name: str | None = None  # citizens only, as VNeID gave it
    agent_code: str | None = None
    counter_id: str | None = None
    agency_code: str | None = None
    expires_at: int | None = None

    @property
    def pid(self) -> str | None:
        return self.subject if self.kind == "citizen" else None

    @property
    def client_id(self) -> str | None:
        return self.subject if self.kind in ("agent", "agency") else None
