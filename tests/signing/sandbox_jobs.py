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


def cms_from_parent(cert_der: bytes) -> bytes:
    """What a signing job does with the parent's answer: take it as a CMS object, then write it
    into the PDF (pyHanko dumps it)."""
    import asyncio

    from asn1crypto import x509

    from signing.pades import _ParentSigner

    signer = _ParentSigner(x509.Certificate.load(cert_der), [])
    return bytes(asyncio.run(signer.async_sign(b"\0" * 32, "sha256")).dump())
