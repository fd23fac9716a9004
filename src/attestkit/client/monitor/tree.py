"""The monitor's view of a log: a compact range (RFC 6962 frontier) grown leaf by leaf.

Keeping the hashes of the complete subtrees that make up the tree at its last
verified size (at most 64), the monitor appends the leaf hash of every new entry
it reads and compares the resulting root with the new signed checkpoint.  Equal
roots prove at once that the new tree extends the old one (no split view, no
rewritten history) and that the entries read are exactly the log's; the cost is
one SHA-256 per leaf and one per interior node, which is why the monitor is
bounded by hashing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from attestkit.sigstore.verify.tlog import leaf_hash, node_hash

__all__ = ["CompactRange", "leaf_hash", "node_hash"]

_EMPTY = hashlib.sha256(b"").digest()


@dataclass
class CompactRange:
    """The tree of ``size`` leaves as its complete subtrees, largest first."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        sha256 = hashlib.sha256
        h, i = leaf, self.size
        hashes = self.hashes
        while i & 1:
            h = sha256(b"\x01" + hashes.pop() + h).digest()
            i >>= 1
        hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        """The RFC 6962 root of the tree."""
        if not self.hashes:
            return _EMPTY
        root = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            root = hashlib.sha256(b"\x01" + h + root).digest()
        return root

    @classmethod
    def from_last_inclusion(cls, size: int, leaf: bytes, path: list[bytes]) -> CompactRange:
        """The range of a tree from its last leaf's hash and that leaf's inclusion proof.

        Every hash of the proof is a complete subtree to the left of the leaf: the
        first ones (as many as the height of the tree's smallest complete subtree)
        complete that subtree with the leaf, the others are the larger subtrees,
        smallest first.  ValueError if the proof has the wrong length.
        """
        low = (size & -size).bit_length() - 1
        h = leaf
        for sibling in path[:low]:
            h = node_hash(sibling, h)
        hashes = [*reversed(path[low:]), h]
        if size < 1 or len(path) < low or len(hashes) != bin(size).count("1"):
            raise ValueError(f"an inclusion proof of {len(path)} hashes for a tree of {size}")
        return cls(size, hashes)

    def to_json(self) -> dict[str, object]:
        """For the state file."""
        return {"size": self.size, "hashes": [h.hex() for h in self.hashes]}

    @classmethod
    def from_json(cls, value: object) -> CompactRange:
        """From the state file; ValueError if it is not a consistent compact range."""
        if not isinstance(value, dict):
            raise ValueError("a log's state must be an object")
        size, hashes = value.get("size"), value.get("hashes")
        if not isinstance(size, int) or size < 0 or not isinstance(hashes, list):
            raise ValueError("a log's state needs a size and its hashes")
        if len(hashes) != bin(size).count("1"):
            raise ValueError("a log's state has the wrong number of hashes for its size")
        return cls(size, [bytes.fromhex(str(h)) for h in hashes])
