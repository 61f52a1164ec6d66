"""RFC 6962 Merkle tree hashing: leaf and node hashes, roots, inclusion and consistency proofs.

The few lines of the RFC, written out rather than taken from a library: the maintained Python CT libraries pull in
X.509 and ASN.1 stacks we do not need, and these functions are small enough to check against the RFC line by line.
Proof verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 (the same hashing as RFC 6962, with the algorithms
spelled out).

A tree keeps the hash of every *perfect* subtree (2^level leaves starting at a multiple of 2^level) in a node
store: ``get(level, index)`` and ``put(level, index, hash)``. Appending writes about two nodes; a root, an
inclusion proof or a consistency proof reads O(log n) of them. The store is a dict in memory (``MemoryStore``) or
a SQLite table (referrals.ledger).
"""
from __future__ import annotations

import hashlib
from typing import Protocol


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 6962 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeStore(Protocol):
    def get(self, level: int, index: int) -> bytes: ...
    def put(self, level: int, index: int, value: bytes) -> None: ...


class MemoryStore:
    def __init__(self):
        self.levels: list[list[bytes]] = []

    def get(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def put(self, level: int, index: int, value: bytes) -> None:
        while len(self.levels) <= level:
            self.levels.append([])
        row = self.levels[level]
        if index == len(row):
            row.append(value)
        else:
            row[index] = value


class Tree:
    """A Merkle tree of ``size`` leaves whose perfect subtrees live in ``store``."""

    def __init__(self, store: NodeStore | None = None, size: int = 0):
        self.store = store if store is not None else MemoryStore()
        self.size = size

    def append_hash(self, leaf: bytes) -> int:
        """Add a leaf hash; write the perfect subtrees it completes. Returns the leaf's index."""
        index = self.size
        self.store.put(0, index, leaf)
        level, i, h = 0, index, leaf
        while i & 1:  # a right child completes its parent
            h = node_hash(self.store.get(level, i - 1), h)
            level, i = level + 1, i >> 1
            self.store.put(level, i, h)
        self.size = index + 1
        return index

    def append(self, data: bytes) -> int:
        return self.append_hash(leaf_hash(data))

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); start is always aligned for the ranges RFC 6962's recursion asks for."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self.store.get(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, start, start + k) + [self.subtree(start + k, end)]
        return self._path(m - k, start + k, end) + [self.subtree(start, start + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 §2.1.2."""
        second = self.size if second is None else second
        self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"no consistency proof from {first} to {second}")
        if first == 0 or first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.subtree(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, whole) + [self.subtree(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self.subtree(start, start + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {size}")


def root_of(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC's definition (for tests and for checking the incremental code)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = _split(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2; ``leaf`` is the leaf hash."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: the tree of ``second`` leaves extends the tree of ``first`` leaves, unchanged."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
