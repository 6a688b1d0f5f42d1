"""The one place that reads the time, so rules take `now` as a parameter and tests pin it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch() -> float:
    return time.time()
