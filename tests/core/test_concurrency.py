"""The executor hop of the hot routes: a cancelled request waits for its thread."""

from __future__ import annotations

import asyncio
import threading
import time

from core.concurrency import run_blocking


def test_result_and_errors_come_back() -> None:
    async def main() -> None:
        assert await run_blocking(lambda a, b: a + b, 2, 3) == 5
        try:
            await run_blocking(int, "not a number")
        except ValueError:
            return
        raise AssertionError("the error did not come back")

    asyncio.run(main())


def test_cancelling_the_request_waits_for_its_thread_to_finish() -> None:
    started, finished = threading.Event(), threading.Event()

    def uses_the_session() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    async def main() -> None:
        task = asyncio.create_task(run_blocking(uses_the_session))
        await asyncio.get_running_loop().run_in_executor(None, started.wait)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        # Only now may the request's clean-up run (close the session the thread was using).
        assert finished.is_set()
        assert task.cancelled()

    asyncio.run(main())
