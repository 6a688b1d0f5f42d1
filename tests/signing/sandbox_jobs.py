"""Jobs for the sandbox tests; a module of their own so that spawned workers can import them."""

from __future__ import annotations

import time


def sleep_then_answer(seconds: float, answer: str) -> str:
    time.sleep(seconds)
    return answer


def allocate(mib: int) -> int:
    blocks = [bytearray(1024 * 1024) for _ in range(mib)]
    return len(blocks)


def fail(message: str) -> None:
    raise ValueError(message)


def ask(question: str) -> str:
    from signing.sandbox import ask_parent

    return "parent said " + ask_parent(question)
