"""IETF OAuth Token Status List (draft-ietf-oauth-status-list): 2-bit entries, zlib, base64url.

Entry i lives in byte i // 4, at bit offset 2 * (i % 4) counted from the least significant bit.
"""

from __future__ import annotations

import zlib

from signing.jws import b64url_decode, b64url_encode

BITS = 2
VALID, INVALID, SUSPENDED = 0, 1, 2
# 0x03 is left to applications by the draft: ours means "pending", a person delegation that its
# delegate has not accepted yet. It must not read as valid to an offline verifier.
PENDING = 3
PER_BYTE = 8 // BITS


def encode(entries: dict[int, int], size: int) -> str:
    """`lst` for a list of `size` entries, all VALID except those given."""
    raw = bytearray(size // PER_BYTE)
    for idx, value in entries.items():
        if value:
            raw[idx // PER_BYTE] |= (value & 0b11) << (BITS * (idx % PER_BYTE))
    return b64url_encode(zlib.compress(bytes(raw), 9))


def decode(lst: str, max_bytes: int = 16 * 1024 * 1024) -> bytes:
    """The raw list; refuses a decompression bomb."""
    d = zlib.decompressobj()
    raw = d.decompress(b64url_decode(lst), max_bytes)
    if d.unconsumed_tail:
        raise ValueError("status list larger than allowed")
    return raw


def value_at(raw: bytes, idx: int) -> int:
    if idx < 0 or idx // PER_BYTE >= len(raw):
        raise IndexError("status index outside the list")
    return (raw[idx // PER_BYTE] >> (BITS * (idx % PER_BYTE))) & 0b11
