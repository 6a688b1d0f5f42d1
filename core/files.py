"""Files in the data dir that several processes may try to create at the same moment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_exclusive(path: Path, data: bytes) -> None:
    """Write a new file (mode 0600) atomically; if another process won the race, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """A random secret kept in the data dir (development only), created on first use."""
    if not path.exists():
        create_exclusive(path, secrets.token_urlsafe(nbytes).encode("ascii"))
    return path.read_text().strip()
