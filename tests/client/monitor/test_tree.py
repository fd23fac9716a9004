"""The monitor's compact range against the local log's own Merkle tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from attestkit.client.monitor.tree import CompactRange, leaf_hash
from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.log import TransparencyLog


def test_the_range_grows_to_the_log_root_and_starts_from_any_head(tmp_path: Path) -> None:
    keys = KeyStore.open(tmp_path)
    with TransparencyLog.open(tmp_path / "log.sqlite3", keys, "origin") as log:
        grown = CompactRange()
        assert grown.root() == log.root_hash()  # the empty tree
        for n in range(1, 70):
            body = b"entry %d" % n
            log.append(body)
            grown.append(leaf_hash(body))
            assert grown.root() == log.root_hash(n)
            path, _ = log.inclusion_proof(n - 1, n)
            head = CompactRange.from_last_inclusion(n, leaf_hash(body), path)
            assert head == grown  # the same subtrees, from one proof
            assert CompactRange.from_json(head.to_json()) == head
        with pytest.raises(ValueError, match="inclusion proof of"):
            CompactRange.from_last_inclusion(69, leaf_hash(b"x"), path[:-1])
        with pytest.raises(ValueError, match="wrong number of hashes"):
            CompactRange.from_json({"size": 5, "hashes": []})
