"""Blocking work (database round trips, signing) off the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def install_executor(max_workers: int) -> ThreadPoolExecutor:
    """The event loop's default executor, sized to the connections its threads can use."""
    executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="uyquyen-blocking")
    asyncio.get_running_loop().set_default_executor(executor)
    return executor


async def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in the loop's executor.

    The hot routes use this rather than a plain `def` route, which FastAPI runs through
    anyio's `to_thread`: on the token endpoint that hop cost about a fifth of the CPU of a whole
    grant (client credentials, one worker on PostgreSQL, alternating runs: 1,000 vs 785 grants
    per second per core).
    """
    future = asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # A thread cannot be stopped. Like FastAPI's own hop, wait for it: the request's
        # clean-up (closing its session) must not run while the thread still uses it.
        while not future.done():
            try:
                await asyncio.wait([future])
            except asyncio.CancelledError:
                continue
        raise
