"""RFC 6962 Merkle arithmetic over stored complete subtrees, against a naive reference."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestkit.errors import VerificationError
from attestkit.sigstore.local import merkle
from attestkit.sigstore.verify.engine import leaf_hash as verifier_leaf_hash
from attestkit.sigstore.verify.engine import node_hash as verifier_node_hash
from attestkit.sigstore.verify.engine import verify_inclusion

N = 70

# -- a naive, recursive RFC 6962 implementation (straight from §2.1) ---------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [naive_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], b), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def naive_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return naive_subproof(m, leaves, True)


# -- a node store built only through new_nodes ----------------------------------------


class Store:
    """Nodes as the log stores them, built by appending leaves one at a time."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.leaves: list[bytes] = []
        self.reads = 0

    def append(self, data: bytes) -> list[tuple[int, int, bytes]]:
        created = merkle.new_nodes(len(self.leaves), merkle.leaf_hash(data), self.read)
        for level, idx, h in created:
            assert (level, idx) not in self.nodes  # nodes are never rewritten
            self.nodes[(level, idx)] = h
        self.leaves.append(data)
        return created

    def read(self, level: int, idx: int) -> bytes:
        self.reads += 1
        return self.nodes[(level, idx)]


@pytest.fixture(scope="module")
def store() -> Store:
    s = Store()
    for i in range(N):
        s.append(f"leaf {i}".encode())
    return s


def test_hashes_match_the_verifier() -> None:
    for data in (b"", b"a", b"x" * 1000):
        assert merkle.leaf_hash(data) == verifier_leaf_hash(data)
    assert merkle.node_hash(b"l" * 32, b"r" * 32) == verifier_node_hash(b"l" * 32, b"r" * 32)
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_new_nodes_stores_exactly_the_complete_subtrees(store: Store) -> None:
    n = len(store.leaves)
    expected = {
        (level, idx)
        for level in range(n.bit_length())
        for idx in range(n >> level)  # every complete subtree of the first n leaves
    }
    assert set(store.nodes) == expected
    for (level, idx), h in store.nodes.items():
        start = idx << level
        assert h == naive_mth(store.leaves[start : start + (1 << level)])


def test_new_nodes_count_is_one_plus_trailing_ones() -> None:
    s = Store()
    for i in range(40):
        created = s.append(bytes([i]))
        trailing_ones = (i ^ (i + 1)).bit_length() - 1
        assert len(created) == 1 + trailing_ones
        assert created[0] == (0, i, merkle.leaf_hash(bytes([i])))


def test_mth_matches_naive_for_every_size(store: Store) -> None:
    for size in range(N + 1):
        assert merkle.mth(size, store.read) == naive_mth(store.leaves[:size]), size


def test_inclusion_paths_match_naive_and_verify(store: Store) -> None:
    for size in range(1, N + 1):
        root = naive_mth(store.leaves[:size])
        for index in range(size):
            path = merkle.inclusion_path(index, size, store.read)
            assert path == naive_path(index, store.leaves[:size]), (index, size)
            verify_inclusion(index, size, merkle.leaf_hash(store.leaves[index]), path, root)


def test_inclusion_path_rejected_when_tampered(store: Store) -> None:
    size, index = 43, 17
    root = merkle.mth(size, store.read)
    path = merkle.inclusion_path(index, size, store.read)
    leaf = merkle.leaf_hash(store.leaves[index])
    for i in range(len(path)):
        bad = list(path)
        bad[i] = bytes(32)
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaf, bad, root)
    with pytest.raises(VerificationError):
        verify_inclusion(index + 1, size, leaf, path, root)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaf, path[:-1], root)


def test_consistency_paths_match_naive_and_verify(store: Store) -> None:
    roots = [merkle.mth(n, store.read) for n in range(N + 1)]
    for second in range(N + 1):
        for first in range(second + 1):
            path = merkle.consistency_path(first, second, store.read)
            if 0 < first < second:
                assert path == naive_proof(first, store.leaves[:second]), (first, second)
            else:
                assert path == []
            assert merkle.verify_consistency(first, second, roots[first], roots[second], path)


def test_verify_consistency_rejects_wrong_proofs(store: Store) -> None:
    roots = [merkle.mth(n, store.read) for n in range(N + 1)]
    other = hashlib.sha256(b"other").digest()
    checked = 0
    for second in range(2, N + 1, 3):
        for first in range(1, second):
            path = merkle.consistency_path(first, second, store.read)
            r1, r2 = roots[first], roots[second]
            assert not merkle.verify_consistency(first, second, other, r2, path)
            assert not merkle.verify_consistency(first, second, r1, other, path)
            assert not merkle.verify_consistency(first, second, r1, r2, [*path, other])
            assert not merkle.verify_consistency(first, second, r1, r2, path[:-1])
            assert not merkle.verify_consistency(second, first, r2, r1, path)
            if first + 1 < second:
                assert not merkle.verify_consistency(first + 1, second, r1, r2, path)
            for i in range(len(path)):
                bad = list(path)
                bad[i] = other
                assert not merkle.verify_consistency(first, second, r1, r2, bad)
                checked += 1
    assert checked > 1000
    # Edge cases (Trillian's conventions).
    assert merkle.verify_consistency(5, 5, roots[5], roots[5], [])
    assert not merkle.verify_consistency(5, 5, roots[5], roots[6], [])
    assert not merkle.verify_consistency(5, 5, roots[5], roots[5], [roots[5]])
    assert merkle.verify_consistency(0, 9, merkle.EMPTY_ROOT, roots[9], [])
    assert not merkle.verify_consistency(0, 9, merkle.EMPTY_ROOT, roots[9], [roots[9]])
    assert not merkle.verify_consistency(4, 9, roots[4], roots[9], [])


def test_rfc6962_test_vector() -> None:
    """The a, b, c test vector (RFC 6962 hashing, as sigstore-python computes it)."""
    s = Store()
    for data in (b"a", b"b", b"c"):
        s.append(data)
    la, lb, lc = (merkle.leaf_hash(d) for d in (b"a", b"b", b"c"))
    assert la.hex() == "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c"
    assert lb.hex() == "57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31"
    assert lc.hex() == "597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8"
    assert merkle.mth(3, s.read).hex() == (
        "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1"
    )
    assert merkle.inclusion_path(0, 3, s.read) == [lb, lc]
    assert merkle.inclusion_path(1, 3, s.read) == [la, lc]
    assert [h.hex() for h in merkle.inclusion_path(2, 3, s.read)] == [
        "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb"
    ]


@pytest.mark.parametrize(
    ("index", "size", "length"),
    [
        (0, 1, 0),
        (0, 2, 1),
        (1, 2, 1),
        (0, 3, 2),
        (2, 3, 1),
        (5, 7, 3),
        (6, 7, 2),
        (3, 8, 3),
        (41, 42, 3),
    ],
)
def test_proof_lengths(store: Store, index: int, size: int, length: int) -> None:
    assert len(merkle.inclusion_path(index, size, store.read)) == length


def _fake_read(counter: list[int]) -> merkle.NodeReader:
    def read(level: int, idx: int) -> bytes:
        counter[0] += 1
        return hashlib.sha256(b"%d/%d" % (level, idx)).digest()

    return read


@pytest.mark.parametrize(
    "size", [1, 2, 3, 1000, 2**20, 2**20 + 1, 1_000_000, 2**40 - 1, 2**40 + 12345]
)
def test_reads_are_logarithmic(size: int) -> None:
    """Roots and proofs read O(log n) nodes, never the whole tree."""
    depth = max(1, (size - 1).bit_length())
    counter = [0]
    read = _fake_read(counter)
    merkle.mth(size, read)
    assert counter[0] == bin(size).count("1")
    for index in {0, size // 3, size // 2, size - 1}:
        counter[0] = 0
        path = merkle.inclusion_path(index, size, read)
        assert len(path) <= depth
        assert counter[0] <= 2 * depth, (index, counter[0])
    for first in {1, size // 3, size // 2, size - 1}:
        if not 0 < first < size:
            continue
        counter[0] = 0
        path = merkle.consistency_path(first, size, read)
        assert len(path) <= depth + 1
        assert counter[0] <= 2 * depth + 1, (first, counter[0])


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_larger_trees_match_naive(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=300))
    s = Store()
    for i in range(size):
        s.append(i.to_bytes(4, "big"))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    first = data.draw(st.integers(min_value=1, max_value=size))
    assert merkle.mth(size, s.read) == naive_mth(s.leaves)
    assert merkle.inclusion_path(index, size, s.read) == naive_path(index, s.leaves)
    proof = merkle.consistency_path(first, size, s.read)
    if first < size:
        assert proof == naive_proof(first, s.leaves)
    assert merkle.verify_consistency(
        first, size, merkle.mth(first, s.read), merkle.mth(size, s.read), proof
    )


def test_invalid_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_path(5, 5, store.read)
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_path(-1, 5, store.read)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_path(6, 5, store.read)
    with pytest.raises(ValueError, match="negative"):
        merkle.mth(-1, store.read)
    with pytest.raises(ValueError, match="negative"):
        merkle.new_nodes(-1, bytes(32), store.read)
