"""What the delegation domain needs to know about agents and the catalogue, without importing
them (imports run agents -> delegation). main.py plugs in agents' implementation."""

from __future__ import annotations

from typing import Protocol

from sqlmodel import Session


class Directory(Protocol):
    def agent_status(self, session: Session, code: str) -> str | None:
        """ "active", "suspended", or None for an unknown agent."""
        ...

    def known_procedures(self, session: Session, codes: list[str]) -> set[str]:
        """The subset of `codes` that are in the catalogue."""
        ...
