"""The durable transparency log: proofs verified by attestkit and sigstore-python, crash safety."""

from __future__ import annotations

import base64
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from attestkit.errors import VerificationError
from attestkit.sigstore.local.keys import KeyStore
from attestkit.sigstore.local.log import (
    DuplicateEntry,
    LogCorruptError,
    LogEntry,
    LogError,
    TransparencyLog,
)
from attestkit.sigstore.local.merkle import EMPTY_ROOT, leaf_hash, verify_consistency
from attestkit.sigstore.local.rekor import admit
from attestkit.sigstore.verify.engine import verify_checkpoint, verify_inclusion
from tests.fixtures.logutil import (
    dsse_request,
    hashedrekord_request,
    rekor_trusted_key,
    self_signed,
    sigstore_keyring,
    verify_response,
)

ORIGIN = "attestkit.test"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("instance"))


@pytest.fixture(scope="module")
def bodies() -> list[bytes]:
    """Real canonical bodies (hashedrekord and dsse), as admitted from client requests."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key)
    out = [admit(hashedrekord_request(key, cert, b"artifact %d" % i)) for i in range(40)]
    out += [admit(dsse_request(key, cert, f"pkg-{i}.whl")) for i in range(3)]
    return out


@pytest.fixture
def log(tmp_path: Path, keys: KeyStore):
    with TransparencyLog.open(tmp_path / "log.sqlite3", keys, ORIGIN) as opened:
        yield opened


def _synthetic(n: int, tag: str = "") -> list[bytes]:
    return [b'{"n":%d,"tag":"%s"}' % (i, tag.encode()) for i in range(n)]


# -- entries, SETs, proofs, checkpoints --------------------------------------------------


def test_append_returns_durable_entries(log: TransparencyLog, keys: KeyStore, bodies) -> None:
    before = int(time.time())
    entry = log.append(bodies[0])
    after = int(time.time())
    assert isinstance(entry, LogEntry)
    assert entry.index == 0
    assert entry.body == bodies[0]
    assert before <= entry.integrated_time <= after
    assert entry.leaf_hash == leaf_hash(bodies[0])
    assert entry.uuid == f"{keys.tree_id:016x}{entry.leaf_hash.hex()}"
    assert len(entry.uuid) == 80
    assert log.size() == 1
    assert log.entry(0) == entry
    # The SET is the log key's signature over the JCS payload of §5.3.
    payload = b'{"body":"%s","integratedTime":%d,"logID":"%s","logIndex":0}' % (
        base64.b64encode(bodies[0]),
        entry.integrated_time,
        keys.rekor_log_id.hex().encode(),
    )
    assert log.set_payload(bodies[0], entry.integrated_time, 0) == payload
    keys.rekor_key.public_key().verify(
        entry.signed_entry_timestamp, payload, ec.ECDSA(hashes.SHA256())
    )
    many = log.append_many(bodies[1:5])
    assert [e.index for e in many] == [1, 2, 3, 4]
    assert [e.body for e in many] == bodies[1:5]


def test_every_response_verifies_with_attestkit_and_sigstore(
    log: TransparencyLog, keys: KeyStore, bodies
) -> None:
    for body in bodies:
        entry = log.append(body)
        # What the server returns right after the append.
        verify_response(log.entry_response(entry.index), keys)
    size = log.size()
    # Every entry, in every tree size that contains it (sigstore-python on a sample).
    for tree_size in range(1, size + 1):
        for index in range(tree_size):
            response = log.entry_response(index, tree_size)
            verify_response(response, keys, sigstore=(index * 7 + tree_size) % 11 == 0)


def test_response_shape(log: TransparencyLog, keys: KeyStore, bodies) -> None:
    log.append_many(bodies[:6])
    response = log.entry_response(4)
    ((uuid, entry),) = response.items()
    assert set(entry) == {"body", "integratedTime", "logID", "logIndex", "verification"}
    assert set(entry["verification"]) == {"signedEntryTimestamp", "inclusionProof"}
    proof = entry["verification"]["inclusionProof"]
    assert set(proof) == {"logIndex", "treeSize", "rootHash", "hashes", "checkpoint"}
    assert proof["treeSize"] == 6
    assert proof["rootHash"] == log.root_hash().hex()
    assert all(h == h.lower() and len(h) == 64 for h in proof["hashes"])
    assert base64.b64decode(entry["body"]) == bodies[4]
    assert uuid == log.entry(4).uuid


def test_tampered_responses_are_rejected(log: TransparencyLog, keys: KeyStore, bodies) -> None:
    log.append_many(bodies[:9])
    good = log.entry_response(3)

    def tampered(mutate) -> dict:
        import copy

        response = copy.deepcopy(good)
        mutate(next(iter(response.values())))
        return response

    def bump_hash(entry: dict) -> None:
        hashes_ = entry["verification"]["inclusionProof"]["hashes"]
        hashes_[0] = ("0" if hashes_[0][0] != "0" else "1") + hashes_[0][1:]

    def other_time(entry: dict) -> None:
        entry["integratedTime"] += 1

    def other_checkpoint(entry: dict) -> None:
        entry["verification"]["inclusionProof"]["checkpoint"] = log.checkpoint(5)

    for mutate in (bump_hash, other_time, other_checkpoint):
        with pytest.raises(VerificationError):
            verify_response(tampered(mutate), keys, sigstore=False)
        with pytest.raises(Exception, match="(?i)invalid|root hash"):
            verify_response(tampered(mutate), keys, sigstore=True)


def test_checkpoint_format_and_cache(log: TransparencyLog, keys: KeyStore) -> None:
    log.append_many(_synthetic(5))
    text = log.checkpoint()
    root = log.root_hash()
    lines = text.split("\n")
    assert lines[:4] == [f"{ORIGIN} - {keys.tree_id}", "5", base64.b64encode(root).decode(), ""]
    assert lines[4].startswith(f"\u2014 {ORIGIN} ") and lines[5:] == [""]
    raw = base64.b64decode(lines[4].split(" ")[2])
    assert raw[:4] == keys.rekor_log_id[:4]
    header = "\n".join(lines[:3]) + "\n"
    keys.rekor_key.public_key().verify(raw[4:], header.encode(), ec.ECDSA(hashes.SHA256()))
    # Signed once per size: the same text every time (ECDSA signatures are randomized).
    assert log.checkpoint() == text == log.checkpoint(5)
    assert log.checkpoint(3) != text
    verify_checkpoint(
        log.checkpoint(3), keys.rekor_log_id, log.root_hash(3), rekor_trusted_key(keys)
    )


def test_empty_log_checkpoint(log: TransparencyLog, keys: KeyStore) -> None:
    from sigstore._internal.rekor.checkpoint import SignedCheckpoint
    from sigstore._utils import KeyID

    assert log.size() == 0
    assert log.root_hash() == EMPTY_ROOT
    text = log.checkpoint()
    assert text.split("\n")[1:3] == ["0", base64.b64encode(EMPTY_ROOT).decode()]
    verify_checkpoint(text, keys.rekor_log_id, EMPTY_ROOT, rekor_trusted_key(keys))
    signed = SignedCheckpoint.from_text(text)
    signed.signed_note.verify(sigstore_keyring(keys), KeyID(keys.rekor_log_id))
    assert signed.checkpoint.log_hash == EMPTY_ROOT.hex()
    assert signed.checkpoint.log_size == 0


def test_lookups(log: TransparencyLog, keys: KeyStore) -> None:
    entries = log.append_many(_synthetic(4))
    e = entries[2]
    assert log.find_uuid(e.uuid) == e
    assert log.find_uuid(e.uuid.upper()) == e
    assert log.find_uuid(e.leaf_hash.hex()) == e  # Rekor also accepts the bare leaf hash
    assert log.find_leaf_hash(e.leaf_hash) == e
    other_tree = f"{(keys.tree_id + 1) % 2**63:016x}{e.leaf_hash.hex()}"
    assert log.find_uuid(other_tree) is None
    assert log.find_uuid("zz" * 40) is None
    assert log.find_uuid(e.uuid[:-2]) is None
    assert log.find_leaf_hash(leaf_hash(b"never logged")) is None
    with pytest.raises(IndexError):
        log.entry(4)
    with pytest.raises(IndexError):
        log.entry(-1)
    with pytest.raises(ValueError, match="tree size"):
        log.inclusion_proof(0, 5)
    with pytest.raises(ValueError, match="no entry"):
        log.inclusion_proof(3, 3)
    with pytest.raises(ValueError):
        log.consistency_proof(3, 2)


def test_reads_from_other_threads(log: TransparencyLog, keys: KeyStore, bodies) -> None:
    log.append_many(bodies[:3])
    results: list[dict] = []
    thread = threading.Thread(target=lambda: results.append(log.entry_response(1)))
    thread.start()
    thread.join()
    verify_response(results[0], keys)


# -- duplicates ---------------------------------------------------------------------


def test_duplicates_are_refused(log: TransparencyLog) -> None:
    first = log.append_many(_synthetic(3))
    with pytest.raises(DuplicateEntry) as info:
        log.append(_synthetic(3)[1])
    assert info.value.index == 1
    assert info.value.uuid == first[1].uuid
    assert log.size() == 3
    # append_many is all or nothing: one duplicate (even within the call) appends nothing.
    with pytest.raises(DuplicateEntry) as info:
        log.append_many([b"new 1", _synthetic(3)[2], b"new 2"])
    assert info.value.index == 2
    with pytest.raises(DuplicateEntry):
        log.append_many([b"new 1", b"new 1"])
    assert log.size() == 3
    assert log.find_leaf_hash(leaf_hash(b"new 1")) is None
    with pytest.raises(TypeError):
        log.append_many([b"ok", "text"])  # type: ignore[list-item]
    assert log.size() == 3
    assert log.append_many([]) == []


# -- group commit ---------------------------------------------------------------------


def test_group_commit_batches_waiting_threads(
    log: TransparencyLog, keys: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.append(b"already there")
    calls: list[int] = []
    real_append = log._append

    def counting_append(bodies, **kwargs):
        calls.append(len(bodies))
        return real_append(bodies, **kwargs)

    monkeypatch.setattr(log, "_append", counting_append)
    results: dict[int, LogEntry | BaseException] = {}

    def client(i: int, body: bytes) -> None:
        try:
            results[i] = log.append_concurrent(body)
        except BaseException as exc:
            results[i] = exc

    # Hold the write lock: the first client becomes the leader and blocks in its
    # commit, the others queue up behind it and must share the next transaction.
    bodies = [b"c0"] + [b"c%d" % i for i in range(1, 7)] + [b"already there", b"c3"]
    with log._write_lock:
        threads = [threading.Thread(target=client, args=(0, bodies[0]))]
        threads[0].start()
        while not calls:
            time.sleep(0.001)
        for i, body in enumerate(bodies[1:], start=1):
            threads.append(threading.Thread(target=client, args=(i, body)))
            threads[-1].start()
        deadline = time.monotonic() + 10
        while len(log._queue) < len(bodies) - 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    for t in threads:
        t.join(timeout=10)
    assert calls == [1, len(bodies) - 1]  # two transactions for nine clients
    entries = {i: r for i, r in results.items() if isinstance(r, LogEntry)}
    assert sorted(e.index for e in entries.values()) == list(range(1, 8))
    for i, entry in entries.items():
        assert log.entry(entry.index).body == bodies[i]
    dup_old, dup_new = results[7], results[8]
    assert isinstance(dup_old, DuplicateEntry) and dup_old.index == 0
    assert isinstance(dup_new, DuplicateEntry) and dup_new.index == entries[3].index
    assert log.size() == 8
    assert log.audit() == log.root_hash()


def test_concurrent_appends_from_eight_threads(log: TransparencyLog, keys: KeyStore) -> None:
    per_thread = 60
    acked: list[list[LogEntry]] = [[] for _ in range(8)]

    def client(t: int) -> None:
        for body in _synthetic(per_thread, tag=f"t{t}"):
            acked[t].append(log.append_concurrent(body))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_entries = [e for es in acked for e in es]
    assert sorted(e.index for e in all_entries) == list(range(8 * per_thread))
    for n, es in enumerate(acked):
        assert [e.body for e in es] == _synthetic(per_thread, tag=f"t{n}")
        assert [e.index for e in es] == sorted(e.index for e in es)  # each client's order kept
    for e in all_entries[::37]:
        assert log.entry(e.index) == e
    assert log.audit() == log.root_hash()


# -- restarts and consistency ------------------------------------------------------------


def test_restart_keeps_the_tree_and_proofs_chain(tmp_path: Path, keys: KeyStore, bodies) -> None:
    path = tmp_path / "log.sqlite3"
    roots: dict[int, bytes] = {0: EMPTY_ROOT}
    old_proofs: dict[int, tuple[list[bytes], bytes]] = {}
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        for i, body in enumerate(bodies[:20]):
            log.append(body)
            roots[log.size()] = log.root_hash()
            old_proofs[i] = log.inclusion_proof(i)
        checkpoint_20 = log.checkpoint()
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        assert log.size() == 20
        for size, root in roots.items():
            assert log.root_hash(size) == root
        for body in bodies[20:]:
            log.append(body)
            roots[log.size()] = log.root_hash()
        final = log.size()
        assert final == len(bodies)
        # A checkpoint from before the restart still verifies and names the same root.
        verify_checkpoint(checkpoint_20, keys.rekor_log_id, roots[20], rekor_trusted_key(keys))
        # Every old inclusion proof still verifies against its old root, and each old
        # root is proven consistent with every later one (before and after the restart).
        for index, (hashes_, root) in old_proofs.items():
            verify_inclusion(index, index + 1, leaf_hash(bodies[index]), hashes_, root)
        for first in range(0, final + 1):
            for second in range(first, final + 1, 3):
                proof = log.consistency_proof(first, second)
                assert verify_consistency(first, second, roots[first], roots[second], proof), (
                    first,
                    second,
                )
        verify_response(log.entry_response(5), keys)
    # Reopening with a different origin is fine (the tree is the same).
    with TransparencyLog.open(path, keys, "127.0.0.1:8080") as log:
        assert log.root_hash() == roots[final]
        assert log.checkpoint().startswith(f"127.0.0.1:8080 - {keys.tree_id}\n")


def test_open_refuses_other_instances_and_databases(tmp_path: Path, keys: KeyStore) -> None:
    path = tmp_path / "log.sqlite3"
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        log.append(b"x")
    other = KeyStore.open(tmp_path / "other")
    with pytest.raises(LogError, match="belongs to another log"):
        TransparencyLog.open(path, other, ORIGIN)
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(LogError, match="not a transparency log"):
        TransparencyLog.open(foreign, keys, ORIGIN)
    for origin in ("", "a b", "a\nb"):
        with pytest.raises(ValueError, match="origin"):
            TransparencyLog.open(path, keys, origin)


def test_closed_log_refuses_use(tmp_path: Path, keys: KeyStore) -> None:
    log = TransparencyLog.open(tmp_path / "log.sqlite3", keys, ORIGIN)
    log.append(b"x")
    log.close()
    log.close()  # idempotent
    with pytest.raises(LogError, match="closed"):
        log.append(b"y")
    with pytest.raises(LogError, match="closed"):
        log.entry(0)


def test_durability_settings(log: TransparencyLog) -> None:
    writer = log._writer
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert log._reader().execute("PRAGMA synchronous").fetchone()[0] == 2


def test_a_second_writer_on_the_same_file_is_noticed(tmp_path: Path, keys: KeyStore) -> None:
    """Another writer (process) appended meanwhile: the next append continues after it."""
    path = tmp_path / "log.sqlite3"
    with (
        TransparencyLog.open(path, keys, ORIGIN) as a,
        TransparencyLog.open(path, keys, ORIGIN) as b,
    ):
        a.append_many(_synthetic(3, "a"))
        assert b.size() == 3  # reads see what other writers committed (serve --workers)
        assert b.root_hash(3) == a.root_hash(3)
        assert [e.index for e in b.append_many(_synthetic(2, "b"))] == [3, 4]
        assert a.append(b"a again").index == 5
        with pytest.raises(DuplicateEntry):
            a.append(_synthetic(2, "b")[1])
        assert a.audit() == a.root_hash()
        assert b.root_hash(5) == a.root_hash(5)
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        assert log.size() == 6
        assert log.audit() == log.root_hash()


def test_append_concurrent_type_error_fails_only_its_caller(log: TransparencyLog) -> None:
    with pytest.raises(TypeError):
        log.append_concurrent("text")  # type: ignore[arg-type]
    assert log.append_concurrent(b"bytes").index == 0


def test_rows_are_append_only(tmp_path: Path, keys: KeyStore) -> None:
    path = tmp_path / "log.sqlite3"
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        log.append_many(_synthetic(3))
    conn = sqlite3.connect(path)
    try:
        for statement in (
            "UPDATE entries SET body = x'00' WHERE log_index = 1",
            "DELETE FROM entries WHERE log_index = 2",
            "UPDATE nodes SET hash = x'00' WHERE level = 0 AND idx = 0",
            "DELETE FROM nodes",
            "UPDATE meta SET value = '1'",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)
    finally:
        conn.close()


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for name in [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ]:
            conn.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("statements", "match"),
    [
        (["INSERT INTO nodes VALUES (0, 10, zeroblob(32))"], "level 0"),  # orphan leaf node
        (["INSERT INTO nodes VALUES (3, 1, zeroblob(32))"], "level 3"),  # orphan inner node
        (["DELETE FROM nodes WHERE level = 1 AND idx = 4"], "level 1"),  # missing frontier node
        (["DELETE FROM entries WHERE log_index = 9"], "level 0"),  # nodes beyond the size
        (["UPDATE entries SET body = x'00' WHERE log_index = 9"], "wrong leaf hash"),
        (["UPDATE nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 3"], "does not match"),
        (["DELETE FROM entries WHERE log_index = 8"], "not contiguous"),
    ],
)
def test_open_refuses_inconsistent_trees(
    tmp_path: Path, keys: KeyStore, statements: list[str], match: str
) -> None:
    path = tmp_path / "log.sqlite3"
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        log.append_many(_synthetic(10))
    _tamper(path, *statements)
    with pytest.raises(LogCorruptError, match=match):
        TransparencyLog.open(path, keys, ORIGIN)


def test_audit_finds_damage_beyond_the_tail(tmp_path: Path, keys: KeyStore) -> None:
    path = tmp_path / "log.sqlite3"
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        log.append_many(_synthetic(200))
        assert log.audit() == log.root_hash()
    _tamper(path, "UPDATE entries SET body = x'7b7d' WHERE log_index = 3")
    with (
        TransparencyLog.open(path, keys, ORIGIN) as log,  # the tail check passes
        pytest.raises(LogCorruptError, match="entry 3 has a wrong leaf hash"),
    ):
        log.audit()
    zero_leaf = leaf_hash(bytes(1)).hex()
    _tamper(
        path, f"UPDATE entries SET body = x'00', leaf_hash = x'{zero_leaf}' WHERE log_index = 3"
    )
    with TransparencyLog.open(path, keys, ORIGIN) as log:
        with pytest.raises(LogCorruptError, match="entry 3 has an invalid SET"):
            log.audit()
        with pytest.raises(LogCorruptError, match=r"node \(0, 3\)"):
            log.audit(verify_sets=False)


def test_bulk_load(tmp_path: Path, keys: KeyStore) -> None:
    with TransparencyLog.open(tmp_path / "log.sqlite3", keys, ORIGIN) as log:
        log.append(b"first")
        assert log.bulk_load_for_benchmark(iter(_synthetic(10_500))) == 10_500
        assert log.size() == 10_501
        assert log.entry(10_500).body == _synthetic(10_500)[-1]
        assert log.audit(verify_sets=False) == log.root_hash()
        verify_response(log.entry_response(7777), keys, sigstore=False)  # synthetic bodies


# -- crash safety ---------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys, threading
    from attestkit.sigstore.local.keys import KeyStore
    from attestkit.sigstore.local.log import TransparencyLog

    keys = KeyStore.open(sys.argv[1])
    log = TransparencyLog.open(sys.argv[2], keys, "crash.test")
    tag = sys.argv[3]
    out = threading.Lock()

    def ack(entry):
        with out:
            sys.stdout.write(f"{entry.index} {entry.body.hex()}\\n")
            sys.stdout.flush()

    def body(kind, n):
        return ('{"tag":"%s","kind":"%s","n":%d}' % (tag, kind, n)).encode()

    def grouped(t):
        n = 0
        while True:
            ack(log.append_concurrent(body(f"g{t}", n)))
            n += 1

    for t in range(3):
        threading.Thread(target=grouped, args=(t,), daemon=True).start()
    n = 0
    while True:
        if n % 4 == 0:
            for entry in log.append_many([body("many", n + k) for k in range(5)]):
                ack(entry)
        else:
            ack(log.append(body("one", n)))
        n += 5
    """
)


def _run_and_kill(data_dir: Path, db: Path, tag: str) -> dict[int, bytes]:
    """Append in a child process, SIGKILL it mid-flight; return what it acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir), str(db), tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = proc.stdout
    assert stdout is not None
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, b"")))
    reader.start()
    deadline = time.monotonic() + 30
    while not lines:  # started and appending
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join()
    assert proc.returncode == -signal.SIGKILL
    acked: dict[int, bytes] = {}
    for line in lines:
        if line.endswith(b"\n"):  # a line cut by the kill was never acknowledged
            index, body = line.split()
            acked[int(index)] = bytes.fromhex(body.decode())
    return acked


def test_kill_9_never_loses_acknowledged_entries(tmp_path: Path, keys: KeyStore) -> None:
    data_dir = keys.directory.parent
    db = tmp_path / "log.sqlite3"
    sizes: list[int] = []
    roots: dict[int, bytes] = {}
    acked_all: dict[int, bytes] = {}
    for run in range(2):
        acked = _run_and_kill(data_dir, db, f"run{run}")
        assert len(acked) > 50, "the child acknowledged too few entries to test anything"
        assert not set(acked) & set(acked_all)
        acked_all.update(acked)
        with TransparencyLog.open(db, keys, "crash.test") as log:  # checks the tail
            size = log.size()
            assert size >= max(acked_all) + 1
            for index, body in acked_all.items():
                assert log.entry(index).body == body
            # The tree recomputed from the leaves equals the stored one.
            assert log.audit() == log.root_hash()
            sizes.append(size)
            roots[size] = log.root_hash()
            # The log only grew: every earlier tree is consistent with this one.
            for old in sizes:
                proof = log.consistency_proof(old, size)
                assert verify_consistency(old, size, roots[old], roots[size], proof)
            for index in list(acked)[:: max(1, len(acked) // 20)]:
                verify_response(log.entry_response(index), keys, sigstore=False)
