"""RFC 6962 Merkle tree arithmetic over stored complete subtrees (no I/O).

What it is for: the transparency log (:mod:`.log`) stores the hash of every
*complete* subtree of its Merkle tree, addressed as ``(level, index)``: level 0
holds the leaf hashes, and node ``(l, i)`` covers leaves ``[i * 2**l, (i + 1) *
2**l)``.  Appending leaf ``n`` creates node ``(0, n)`` plus one node per
trailing one bit of ``n`` (:func:`new_nodes`), and nodes never change after
that.  This module computes roots, inclusion proofs and consistency proofs from
those nodes through a caller-supplied ``read(level, index) -> hash`` callback.

Every range the RFC 6962 recursion visits is either a complete subtree (one
read) or ends at the tree size, in which case it splits into at most
``log2(size)`` complete subtrees along the binary digits of its length.  Each
computation therefore reads ``O(log n)`` nodes; none recomputes the tree.

Hashing (RFC 6962 §2.1): leaf = SHA-256(0x00 ‖
data), node = SHA-256(0x01 ‖ left ‖ right), and the root of the empty tree is
SHA-256 of the empty string.  Proof orders are the ones sigstore-python,
Trillian and RFC 9162 use: inclusion paths from the leaf up, consistency paths
as RFC 6962 ``SUBPROOF`` emits them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

# One RFC 6962 hashing for the verifier and the log (re-exported here for the log's callers).
from attestkit.sigstore.verify.engine import leaf_hash, node_hash

__all__ = [
    "EMPTY_ROOT",
    "NodeReader",
    "consistency_path",
    "inclusion_path",
    "leaf_hash",
    "mth",
    "new_nodes",
    "node_hash",
    "verify_consistency",
]

#: ``read(level, index)`` returns the stored hash of a complete subtree.
NodeReader: TypeAlias = Callable[[int, int], bytes]

#: Root hash of the empty tree: SHA-256 of the empty string.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(start: int, end: int, read: NodeReader) -> bytes:
    """MTH of leaves ``[start, end)``, a range the RFC 6962 recursion visits.

    Such a range starts at a multiple of the smallest power of two not below its
    length, so it is the concatenation of the complete subtrees given by the
    binary digits of ``end - start``, largest first; its hash folds them from
    the right.  At most ``log2(end - start) + 1`` reads.
    """
    n = end - start
    if n <= 0:
        raise ValueError(f"empty range [{start}, {end})")
    pieces: list[bytes] = []
    offset = start
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            if offset % (1 << level):
                raise ValueError(f"[{start}, {end}) is not a subtree of an RFC 6962 tree")
            pieces.append(read(level, offset >> level))
            offset += 1 << level
    result = pieces[-1]
    for piece in reversed(pieces[:-1]):
        result = node_hash(piece, result)
    return result


def mth(size: int, read: NodeReader) -> bytes:
    """Merkle tree hash (root) of the first ``size`` leaves; ``popcount(size)`` reads."""
    if size < 0:
        raise ValueError(f"negative tree size {size}")
    if size == 0:
        return EMPTY_ROOT
    return _subtree(0, size, read)


def inclusion_path(index: int, size: int, read: NodeReader) -> list[bytes]:
    """RFC 6962 ``PATH(index, D[size])``: the audit path of leaf ``index``, from the leaf up.

    This is what Rekor returns as ``inclusionProof.hashes`` and what
    sigstore-python's ``verify_merkle_inclusion`` expects.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []  # collected from the root down, reversed at the end
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(_subtree(start + k, end, read))
            end = start + k
        else:
            path.append(_subtree(start, start + k, read))
            start += k
    path.reverse()
    return path


def consistency_path(first: int, second: int, read: NodeReader) -> list[bytes]:
    """RFC 6962 ``PROOF(first, D[second])``: the consistency proof between two tree sizes.

    Ordered as RFC 6962 ``SUBPROOF`` emits it (as Trillian and Rekor do).  Empty
    when ``first`` is 0 or equals ``second``.
    """
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first == 0 or first == second:
        return []
    path: list[bytes] = []  # collected from the root down, reversed at the end
    m = first
    start, end = 0, second
    complete = True  # the SUBPROOF flag b: the old tree is this whole subtree
    while True:
        n = end - start
        if m == n:
            if not complete:
                path.append(_subtree(start, end, read))
            break
        k = _split(n)
        if m <= k:
            path.append(_subtree(start + k, end, read))
            end = start + k
        else:
            path.append(_subtree(start, start + k, read))
            start += k
            m -= k
            complete = False
    path.reverse()
    return path


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of size ``second`` extends the tree of size ``first``.

    RFC 9162 §2.1.4.2, with Trillian's conventions for the edge cases: equal
    sizes need an empty proof and equal roots; every tree extends the empty
    tree (empty proof).  Returns ``False`` rather than raising.
    """
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def new_nodes(index: int, leaf: bytes, read: NodeReader) -> list[tuple[int, int, bytes]]:
    """The complete-subtree nodes created by appending leaf ``index`` (its leaf *hash*).

    Returns ``(level, index, hash)`` triples, the leaf itself first: one more
    node per trailing one bit of ``index``, each combining its left sibling
    (read) with the node below it.
    """
    if index < 0:
        raise ValueError(f"negative leaf index {index}")
    nodes = [(0, index, leaf)]
    h, level, i = leaf, 0, index
    while i & 1:
        h = node_hash(read(level, i - 1), h)
        level += 1
        i >>= 1
        nodes.append((level, i, h))
    return nodes
