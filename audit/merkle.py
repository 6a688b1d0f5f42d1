"""Merkle tree hashing of RFC 9162 (Certificate Transparency 2.0), section 2.1.

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256()

A `frontier` is the list of roots of the perfect subtrees that make up a tree of size n (one per
1-bit of n, largest first): appending a leaf and computing the root are O(log n).
"""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def frontier_append(frontier: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """The frontier of the tree of size `size + 1`."""
    frontier = list(frontier)
    carry = leaf
    while size & 1:
        carry = node_hash(frontier.pop(), carry)
        size >>= 1
    frontier.append(carry)
    return frontier


def frontier_root(frontier: list[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for left in reversed(frontier[:-1]):
        root = node_hash(left, root)
    return root


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: list[bytes]) -> bytes:
    """MTH of a list of leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_path(leaves: list[bytes], m: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, over leaf hashes."""
    n = len(leaves)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return inclusion_path(leaves[:k], m) + [root(leaves[k:])]
    return inclusion_path(leaves[k:], m - k) + [root(leaves[:k])]


def consistency_proof(leaves: list[bytes], m: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1 (0 < m <= n)."""
    return _subproof(leaves, m, True)


def _subproof(leaves: list[bytes], m: int, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(leaves[:k], m, complete) + [root(leaves[k:])]
    return _subproof(leaves[k:], m - k, False) + [root(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root_: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `path` prove leaf `index` in the tree of `size` with `root_`?
    For anyone holding a signed checkpoint: the citizen's demo, their browser, an auditor."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_
