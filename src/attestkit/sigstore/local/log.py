"""The durable, append-only transparency log behind the embedded Rekor v1 API.

What it is for: :class:`TransparencyLog` stores canonical Rekor entry bodies in
an RFC 6962 Merkle tree and produces everything a Rekor v1 response carries
(Rekor v1's API and the C2SP ``tlog-checkpoint`` format): the signed entry
timestamp (SET), inclusion proofs, consistency proofs and signed checkpoints, all signed with the
instance's Rekor key from :class:`~attestkit.sigstore.local.keys.KeyStore`.

Storage is one SQLite database in WAL mode with ``synchronous=FULL`` (one
node), or PostgreSQL shared by every node (:mod:`.logdb` says what differs):

* ``entries(log_index, body, integrated_time, leaf_hash, set_signature)``, with a
  unique index on ``leaf_hash`` for look-ups by UUID and duplicate detection;
* ``nodes(level, idx, hash)``: the hash of every complete Merkle subtree (see
  :mod:`.merkle`), so roots and proofs read ``O(log n)`` rows;
* ``meta``: the tree ID and log ID the database belongs to.

Durability and atomicity: each append call is one write transaction (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's advisory lock) ... ``COMMIT`` holding the
entries, their new Merkle nodes and their SETs, and the call returns only after
the commit (an fsync of the WAL, or PostgreSQL's durable commit): an
acknowledged entry survives ``kill -9`` and power loss, and a crash can never
leave a partial tree.  Rows are never updated or deleted (triggers refuse it),
so the log only grows.  On open, the last leaves are re-checked against their
bodies and Merkle nodes, and nodes beyond the tree size are refused
(:class:`LogCorruptError`); :meth:`TransparencyLog.audit` re-checks everything.

Concurrency: appends are serialized by a lock (and by the database's write
lock across processes and nodes; an append first re-reads the size, so another
process or node that appended meanwhile is noticed, not overwritten).  Reads use one connection
per thread and run concurrently with appends.  :meth:`TransparencyLog.append_concurrent`
batches the appends of many threads into shared transactions (group commit).

Why one module over 500 lines: the append path (group commit, the frontier of
complete subtrees, SETs) and the read path (proofs, checkpoints, their caches)
share one object's state and locking invariants, which are easier to check
when they are read together.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import rfc8785

from attestkit.errors import AttestkitError
from attestkit.sigstore.local.logdb import LogConnection, LogDatabase, open_db
from attestkit.sigstore.local.merkle import (
    NodeReader,
    consistency_path,
    inclusion_path,
    leaf_hash,
    mth,
    new_nodes,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA

    from attestkit.sigstore.local.keys import KeyStore

__all__ = [
    "DuplicateEntry",
    "LogCorruptError",
    "LogEntry",
    "LogError",
    "TransparencyLog",
]

#: How many trailing leaves :meth:`TransparencyLog.open` re-checks.
_TAIL_CHECK: Final = 64
#: Signed checkpoints (and roots) kept in memory, most recent sizes.
_CACHE_SIZE: Final = 1024
#: Largest group-commit batch.
_MAX_GROUP: Final = 1024
#: Bodies per transaction in :meth:`TransparencyLog.bulk_load_for_benchmark`.
_BULK_BATCH: Final = 10_000


class LogError(AttestkitError):
    """The transparency log cannot do what was asked (base class of the log's errors)."""


class LogCorruptError(LogError):
    """The database is not a consistent transparency log (refused, never repaired)."""


class DuplicateEntry(LogError):  # noqa: N818 (the name the server expects)
    """The body is already in the log (real Rekor answers ``409 Conflict``)."""

    def __init__(self, index: int, uuid: str) -> None:
        super().__init__(f"an equivalent entry already exists in the log at index {index}")
        #: Index and UUID of the existing entry.
        self.index = index
        self.uuid = uuid

    def with_source(self, source: str) -> DuplicateEntry:
        """Duplicates name no source; return ``self``."""
        return self


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One integrated log entry."""

    #: Position in the log (0-based).
    index: int
    #: The canonical (RFC 8785) entry body: the Merkle leaf data.
    body: bytes
    #: Unix seconds at which the entry was appended.
    integrated_time: int
    #: Tree ID as 16 hex digits followed by the hex leaf hash (Rekor's entry UUID).
    uuid: str
    #: RFC 6962 leaf hash of :attr:`body`.
    leaf_hash: bytes
    #: DER ECDSA-SHA256 signature by the log key over the JCS SET payload (§5.3).
    signed_entry_timestamp: bytes


class _Pending:
    """One queued :meth:`TransparencyLog.append_concurrent` call."""

    __slots__ = ("body", "done", "error", "result")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.done = False
        self.result: LogEntry | None = None
        self.error: BaseException | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _frontier_keys(size: int) -> list[tuple[int, int]]:
    """The complete subtrees whose concatenation is the tree of ``size`` leaves."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


def _check_origin(origin: str) -> None:
    if not origin or any(c.isspace() for c in origin):
        raise ValueError(f"checkpoint origin must be non-empty without spaces: {origin!r}")


class TransparencyLog:
    """An RFC 6962 transparency log in one SQLite file; see the module docstring.

    Create one with :meth:`open`; it is safe to use from many threads.
    """

    def __init__(
        self,
        db: LogDatabase,
        keys: KeyStore,
        origin: str,
        conn: LogConnection,
        key: Any = None,
        tree_id: int | None = None,
    ) -> None:
        """Use :meth:`open`."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        from attestkit.sigstore.local.keys import key_id

        self.db = db
        #: Where the log is (a file, or a database URL without its password), for messages.
        self.path = db.where
        self.keys = keys
        self.origin = origin
        #: The key this log signs with (the instance's Rekor key unless given).
        self.key = key if key is not None else keys.rekor_key
        self._log_id = key_id(self.key.public_key())
        self._log_id_hex = self._log_id.hex()
        self._tree_id = tree_id if tree_id is not None else keys.tree_id
        self._uuid_prefix = f"{self._tree_id:016x}"
        self._ecdsa: ECDSA = ec.ECDSA(hashes.SHA256())
        self._writer = conn
        self._write_lock = threading.Lock()
        self._size = 0
        self._frontier: dict[tuple[int, int], bytes] = {}
        self._local = threading.local()
        self._readers: list[LogConnection] = []
        self._readers_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._roots: OrderedDict[int, bytes] = OrderedDict()
        self._checkpoints: OrderedDict[int, str] = OrderedDict()
        self._group = threading.Condition(threading.Lock())
        self._queue: list[_Pending] = []
        self._leader = False
        self._closed = False

    @property
    def log_id(self) -> bytes:
        """SHA-256 of the log key's SPKI: the log's id in trusted roots and entries."""
        return self._log_id

    # -- opening and closing ---------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        keys: KeyStore,
        origin: str,
        *,
        key: Any = None,
        tree_id: int | None = None,
    ) -> TransparencyLog:
        """Open (creating if needed) the log at ``path``, signing with ``keys.rekor_key``.

        ``key`` and ``tree_id`` give a second log of the instance (its Rekor v2
        log) its own key and tree.

        ``path`` is an SQLite file, or a ``postgresql://`` URL that every node of a
        scaled-out instance shares (:mod:`.logdb`).

        ``origin`` is the checkpoint origin, e.g. ``"127.0.0.1:8080"``; the
        checkpoint's first line is ``f"{origin} - {keys.tree_id}"``.  Raises
        :class:`LogCorruptError` if the stored tree is inconsistent, and
        :class:`LogError` if the database belongs to another instance.
        """
        _check_origin(origin)
        db = open_db(path)
        conn = db.connect(readonly=False)
        try:
            log = cls(db, keys, origin, conn, key, tree_id)
            log._init_schema()
            with log._write_lock:
                db.begin_read(conn)  # one snapshot, even if another process appends
                try:
                    log._load_state(check=True)
                finally:
                    _rollback(conn)
        except BaseException:
            conn.close()
            raise
        return log

    def close(self) -> None:
        """Close every database connection; the object is unusable afterwards."""
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> TransparencyLog:
        """Context manager: :meth:`close` on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the log."""
        self.close()

    def _init_schema(self) -> None:
        conn = self._writer
        self.db.begin_write(conn)
        try:
            if self.db.create_schema(conn):
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("tree_id", str(self._tree_id)), ("log_id", self._log_id_hex)],
                )
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        if meta.get("tree_id") != str(self._tree_id) or meta.get("log_id") != self._log_id_hex:
            raise LogError(
                f"{self.path} belongs to another log (tree {meta.get('tree_id')}, "
                f"log ID {meta.get('log_id')}), not to tree {self._tree_id} "
                f"with log ID {self._log_id_hex}"
            )

    def _load_state(self, *, check: bool) -> None:
        """Read the size and the frontier nodes (write lock held); optionally check the tail."""
        conn = self._writer
        row = conn.execute("SELECT max(log_index) FROM entries").fetchone()
        size = 0 if row[0] is None else row[0] + 1
        if check:
            _check_tail(conn, size, self._uuid_prefix)
        frontier = {}
        for level, idx in _frontier_keys(size):
            node = conn.execute(
                "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            if node is None:
                raise LogCorruptError(f"{self.path}: Merkle node ({level}, {idx}) is missing")
            frontier[(level, idx)] = node[0]
        self._frontier = frontier
        self._size = size

    def _reader(self) -> LogConnection:
        """This thread's read-only connection."""
        if self._closed:
            raise LogError("the transparency log is closed")
        conn: LogConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.db.connect(readonly=True)
            with self._readers_lock:
                registered = not self._closed  # close() may have run meanwhile
                if registered:
                    self._readers.append(conn)
            if not registered:
                conn.close()
                raise LogError("the transparency log is closed")
            self._local.conn = conn
        return conn

    def _node_reader(self, conn: LogConnection) -> NodeReader:
        frontier = self._frontier

        def read(level: int, idx: int) -> bytes:
            h = frontier.get((level, idx))
            if h is not None:
                return h
            row = conn.execute(
                "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            if row is None:
                raise LogCorruptError(f"{self.path}: Merkle node ({level}, {idx}) is missing")
            result: bytes = row[0]
            return result

        return read

    # -- appending ---------------------------------------------------------------

    def append(self, body: bytes) -> LogEntry:
        """Append one canonical body; return the entry once it is durably committed.

        Raises :class:`DuplicateEntry` if the body is already logged.
        """
        return self.append_many([body])[0]

    def append_many(self, bodies: Sequence[bytes]) -> list[LogEntry]:
        """Append ``bodies`` in one transaction, in order; all or none.

        Raises :class:`DuplicateEntry` (and appends nothing) if any body is
        already logged or repeated in ``bodies``.
        """
        results = self._append(bodies, all_or_nothing=True)
        return [r for r in results if isinstance(r, LogEntry)]

    def append_concurrent(self, body: bytes) -> LogEntry:
        """Append one body, sharing a transaction with other threads' concurrent calls.

        Group commit: the first caller to find no commit in progress becomes the
        leader, takes every queued body and commits them in one transaction
        while later callers queue up for the next one.  Same guarantees and
        errors as :meth:`append`; a duplicate fails only its own call.
        """
        if not isinstance(body, bytes):  # checked here: it must not fail the whole group
            raise TypeError(f"a log entry body must be bytes, not {type(body).__name__}")
        me = _Pending(body)
        with self._group:
            self._queue.append(me)
        while True:
            with self._group:
                while not me.done and self._leader:
                    self._group.wait()
                if me.done:
                    return _outcome(me)
                self._leader = True
                batch, self._queue = self._queue[:_MAX_GROUP], self._queue[_MAX_GROUP:]
            self._commit_group(batch)

    def _commit_group(self, batch: list[_Pending]) -> None:
        """Leader side of :meth:`append_concurrent`: commit ``batch``, wake everyone."""
        try:
            results = self._append([p.body for p in batch], all_or_nothing=False)
        except BaseException as exc:
            for i, p in enumerate(batch):
                p.error = exc if i == 0 else _group_failure(exc)
        else:
            for p, r in zip(batch, results, strict=True):
                if isinstance(r, LogEntry):
                    p.result = r
                else:
                    p.error = r
        finally:
            with self._group:
                for p in batch:
                    p.done = True
                self._leader = False
                self._group.notify_all()

    def bulk_load_for_benchmark(self, bodies: Iterable[bytes]) -> int:
        """Append many bodies quickly, in large transactions; return how many.

        For building big logs in benchmarks: the same storage path, checks and
        guarantees as :meth:`append_many`, with ``10,000`` bodies per transaction.
        """
        count = 0
        batch: list[bytes] = []
        for body in bodies:
            batch.append(body)
            if len(batch) == _BULK_BATCH:
                self._append(batch, all_or_nothing=True, results=False)
                count += len(batch)
                batch = []
        if batch:
            self._append(batch, all_or_nothing=True, results=False)
            count += len(batch)
        return count

    def _append(
        self, bodies: Sequence[bytes], *, all_or_nothing: bool, results: bool = True
    ) -> list[LogEntry | DuplicateEntry]:
        """Integrate ``bodies`` in one committed transaction.

        With ``all_or_nothing``, a duplicate raises and nothing is appended;
        otherwise duplicates are returned in place of their entries.
        """
        for body in bodies:
            if not isinstance(body, bytes):
                raise TypeError(f"a log entry body must be bytes, not {type(body).__name__}")
        if not bodies:
            return []
        with self._write_lock:
            if self._closed:
                raise LogError("the transparency log is closed")
            conn = self._writer
            self.db.begin_write(conn)
            try:
                row = conn.execute("SELECT max(log_index) FROM entries").fetchone()
                if (0 if row[0] is None else row[0] + 1) != self._size:
                    self._load_state(check=False)  # another process appended
                size = self._size
                known = dict(self._frontier)
                frontier_read = self._node_reader(conn)

                def read(level: int, idx: int) -> bytes:
                    h = known.get((level, idx))
                    return h if h is not None else frontier_read(level, idx)

                now = int(time.time())
                out: list[LogEntry | DuplicateEntry] = []
                entry_rows: list[tuple[int, bytes, int, bytes, bytes]] = []
                node_rows: list[tuple[int, int, bytes]] = []
                batch_hashes: dict[bytes, int] = {}
                for body in bodies:
                    lh = leaf_hash(body)
                    existing = batch_hashes.get(lh)
                    if existing is None:
                        found = conn.execute(
                            "SELECT log_index FROM entries WHERE leaf_hash = ?", (lh,)
                        ).fetchone()
                        existing = None if found is None else found[0]
                    if existing is not None:
                        dup = DuplicateEntry(existing, self._uuid_prefix + lh.hex())
                        if all_or_nothing:
                            raise dup
                        out.append(dup)
                        continue
                    index = size
                    size += 1
                    batch_hashes[lh] = index
                    set_signature = self._sign_set(body, now, index)
                    entry_rows.append((index, body, now, lh, set_signature))
                    for level, idx, h in new_nodes(index, lh, read):
                        known[(level, idx)] = h
                        node_rows.append((level, idx, h))
                    if results:
                        out.append(
                            LogEntry(
                                index=index,
                                body=body,
                                integrated_time=now,
                                uuid=self._uuid_prefix + lh.hex(),
                                leaf_hash=lh,
                                signed_entry_timestamp=set_signature,
                            )
                        )
                conn.executemany(
                    "INSERT INTO entries (log_index, body, integrated_time, leaf_hash, "
                    "set_signature) VALUES (?, ?, ?, ?, ?)",
                    entry_rows,
                )
                conn.executemany("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", node_rows)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            # Committed: publish the new size (readers see every row it needs).
            self._frontier = {k: known[k] for k in _frontier_keys(size)}
            self._size = size
            return out

    def copy_from(self, source: TransparencyLog) -> int:
        """Copy every entry and Merkle node of ``source`` into this empty log; the new size.

        For moving a single node's SQLite log to a shared PostgreSQL log under the same
        keys: the same tree, byte for byte, so no checkpoint anyone has seen is forked.
        Both logs must belong to the same tree (tree ID and log key).  One transaction:
        all or nothing; the copy is then re-audited against the source's root.
        """
        if (source._tree_id, source._log_id) != (self._tree_id, self._log_id):
            raise LogError("the logs belong to different trees: copy only under the same keys")
        with self._write_lock:
            conn = self._writer
            self.db.begin_write(conn)
            try:
                if conn.execute("SELECT count(*) FROM entries").fetchone()[0]:
                    raise LogError(f"{self.path}: the target log is not empty")
                reading = source.db.connect(readonly=True)
                try:
                    source.db.begin_read(reading)
                    for table, columns in (
                        ("entries", "log_index, body, integrated_time, leaf_hash, set_signature"),
                        ("nodes", "level, idx, hash"),
                    ):
                        marks = ", ".join("?" for _ in columns.split(","))
                        rows = reading.execute(f"SELECT {columns} FROM {table}")  # noqa: S608
                        while batch := rows.fetchmany(_BULK_BATCH):
                            conn.executemany(
                                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
                                [tuple(row) for row in batch],
                            )
                    _rollback(reading)
                finally:
                    reading.close()
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            self.db.begin_read(conn)
            try:
                self._load_state(check=True)
            finally:
                _rollback(conn)
        if self.audit(verify_sets=False) != source.audit(verify_sets=False):
            raise LogCorruptError(f"{self.path}: the copy does not have the source's root")
        return self._size

    def _sign(self, data: bytes) -> bytes:
        signature: bytes = self.key.sign(data, self._ecdsa)
        return signature

    def _sign_set(self, body: bytes, integrated_time: int, index: int) -> bytes:
        return self._sign(self.set_payload(body, integrated_time, index))

    def set_payload(self, body: bytes, integrated_time: int, index: int) -> bytes:
        """The bytes the SET signs: RFC 8785 JSON of body, integratedTime, logID, logIndex."""
        return rfc8785.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated_time,
                "logID": self._log_id_hex,
                "logIndex": index,
            }
        )

    # -- reading -------------------------------------------------------------------

    def size(self) -> int:
        """Number of committed entries, including those other processes appended.

        ``attestkit serve --workers N`` runs several processes on one log, so a
        read must not report this process's last known size (one indexed lookup).
        """
        row = self._reader().execute("SELECT max(log_index) FROM entries").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def _tree_size(self, size: int | None) -> int:
        current = self.size()
        if size is None:
            return current
        if not 0 <= size <= current:
            raise ValueError(f"tree size {size} is not between 0 and {current}")
        return size

    def root_hash(self, size: int | None = None) -> bytes:
        """Root hash of the tree of ``size`` entries (default: the current size)."""
        size = self._tree_size(size)
        with self._cache_lock:
            cached = self._roots.get(size)
        if cached is not None:
            return cached
        root = mth(size, self._node_reader(self._reader()))
        with self._cache_lock:
            self._roots[size] = root
            if len(self._roots) > _CACHE_SIZE:
                self._roots.popitem(last=False)
        return root

    def entry(self, index: int) -> LogEntry:
        """The entry at ``index``; :class:`IndexError` if there is none."""
        current = self.size()
        if not 0 <= index < current:
            raise IndexError(f"no log entry at index {index} (log size {current})")
        row = (
            self._reader()
            .execute(
                "SELECT body, integrated_time, leaf_hash, set_signature FROM entries "
                "WHERE log_index = ?",
                (index,),
            )
            .fetchone()
        )
        if row is None:
            raise LogCorruptError(f"{self.path}: entry {index} is missing")
        body, integrated_time, lh, set_signature = row
        return LogEntry(
            index=index,
            body=body,
            integrated_time=integrated_time,
            uuid=self._uuid_prefix + lh.hex(),
            leaf_hash=lh,
            signed_entry_timestamp=set_signature,
        )

    def bodies(self, start: int, count: int) -> list[bytes]:
        """The bodies of entries ``[start, start + count)`` (one range read), in order."""
        rows = (
            self._reader()
            .execute(
                "SELECT log_index, body FROM entries WHERE log_index >= ? AND log_index < ?"
                " ORDER BY log_index",
                (start, start + count),
            )
            .fetchall()
        )
        if [r[0] for r in rows] != list(range(start, start + len(rows))):
            raise LogCorruptError(f"{self.path}: entries from {start} are not contiguous")
        return [bytes(r[1]) for r in rows]

    def find_leaf_hash(self, h: bytes) -> LogEntry | None:
        """The entry whose RFC 6962 leaf hash is ``h``, or ``None``."""
        row = (
            self._reader()
            .execute("SELECT log_index FROM entries WHERE leaf_hash = ?", (h,))
            .fetchone()
        )
        if row is None:
            return None
        return self.entry(row[0])

    def find_uuid(self, uuid: str) -> LogEntry | None:
        """The entry with this UUID (80 hex digits, or the 64-digit leaf hash alone), or ``None``.

        An 80-digit UUID must name this log's tree.
        """
        uuid = uuid.lower()
        if len(uuid) == 80:
            if uuid[:16] != self._uuid_prefix:
                return None
            uuid = uuid[16:]
        if len(uuid) != 64 or not all(c in "0123456789abcdef" for c in uuid):
            return None
        return self.find_leaf_hash(bytes.fromhex(uuid))

    def inclusion_proof(self, index: int, size: int | None = None) -> tuple[list[bytes], bytes]:
        """``(hashes, root)``: the audit path of entry ``index`` in the tree of ``size`` entries."""
        size = self._tree_size(size)
        if not 0 <= index < size:
            raise ValueError(f"no entry {index} in a tree of size {size}")
        hashes = inclusion_path(index, size, self._node_reader(self._reader()))
        return hashes, self.root_hash(size)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 6962 consistency proof from tree size ``first`` to ``second`` (default: current)."""
        second = self._tree_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"no consistency proof from size {first} to size {second}")
        return consistency_path(first, second, self._node_reader(self._reader()))

    def checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint (a signed note, §5.5) for the tree of ``size`` entries.

        Signed once per size and cached, so repeated calls return the same text.
        """
        size = self._tree_size(size)
        with self._cache_lock:
            cached = self._checkpoints.get(size)
        if cached is not None:
            return cached
        header = f"{self.origin} - {self._tree_id}\n{size}\n{_b64(self.root_hash(size))}\n"
        signature = self._sign(header.encode())
        text = f"{header}\n\u2014 {self.origin} {_b64(self._log_id[:4] + signature)}\n"
        with self._cache_lock:
            text = self._checkpoints.setdefault(size, text)
            if len(self._checkpoints) > _CACHE_SIZE:
                self._checkpoints.popitem(last=False)
        return text

    def entry_response(self, index: int, size: int | None = None) -> dict[str, Any]:
        """The Rekor v1 response object ``{uuid: entry}`` for entry ``index`` (§5.4).

        The inclusion proof and checkpoint are for the tree of ``size`` entries
        (default: the current size, which includes the entry).
        """
        entry = self.entry(index)
        size = self._tree_size(size)
        hashes, root = self.inclusion_proof(index, size)
        return {
            entry.uuid: {
                "body": _b64(entry.body),
                "integratedTime": entry.integrated_time,
                "logID": self._log_id_hex,
                "logIndex": index,
                "verification": {
                    "signedEntryTimestamp": _b64(entry.signed_entry_timestamp),
                    "inclusionProof": {
                        "logIndex": index,
                        "treeSize": size,
                        "rootHash": root.hex(),
                        "hashes": [h.hex() for h in hashes],
                        "checkpoint": self.checkpoint(size),
                    },
                },
            }
        }

    def audit(self, *, verify_sets: bool = True) -> bytes:
        """Re-check the whole log from its bodies; return the recomputed root.

        Recomputes every leaf hash and every Merkle node from the stored bodies
        and compares them with the stored ones (and verifies every SET unless
        ``verify_sets`` is false).  ``O(n)``; raises :class:`LogCorruptError`.
        """
        from cryptography.exceptions import InvalidSignature

        public_key = self.key.public_key()
        conn = self.db.connect(readonly=True)
        try:
            self.db.begin_read(conn)  # one snapshot for the whole audit
            last = conn.execute("SELECT max(log_index) FROM entries").fetchone()[0]
            size = 0 if last is None else int(last) + 1
            known: dict[tuple[int, int], bytes] = {}
            expected = 0
            rows = conn.execute(
                "SELECT log_index, body, integrated_time, leaf_hash, set_signature "
                "FROM entries WHERE log_index < ? ORDER BY log_index",
                (size,),
            )
            node_at = conn.cursor()
            for index, body, integrated_time, lh, set_signature in rows:
                if index != expected:
                    raise LogCorruptError(f"{self.path}: entry {expected} is missing")
                expected += 1
                if leaf_hash(body) != lh:
                    raise LogCorruptError(f"{self.path}: entry {index} has a wrong leaf hash")
                if verify_sets:
                    try:
                        public_key.verify(
                            set_signature,
                            self.set_payload(body, integrated_time, index),
                            self._ecdsa,
                        )
                    except InvalidSignature:
                        raise LogCorruptError(
                            f"{self.path}: entry {index} has an invalid SET"
                        ) from None
                for level, idx, h in new_nodes(index, lh, lambda lv, i: known[(lv, i)]):
                    stored = node_at.execute(
                        "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx)
                    ).fetchone()
                    if stored is None or stored[0] != h:
                        raise LogCorruptError(
                            f"{self.path}: Merkle node ({level}, {idx}) does not match the entries"
                        )
                    known[(level, idx)] = h
                    if level:  # its children are no longer on the right edge
                        known.pop((level - 1, 2 * idx), None)
                        known.pop((level - 1, 2 * idx + 1), None)
            if expected != size:
                raise LogCorruptError(f"{self.path}: entry {expected} is missing")
            conn.execute("COMMIT")
        finally:
            conn.close()
        return mth(size, lambda lv, i: known[(lv, i)])


def _outcome(pending: _Pending) -> LogEntry:
    if pending.error is not None:
        raise pending.error
    assert pending.result is not None
    return pending.result


def _group_failure(exc: BaseException) -> BaseException:
    """A follower's own copy of the leader's failure (one exception object per thread)."""
    if isinstance(exc, Exception):
        error = LogError(f"the shared append transaction failed: {exc}")
        error.__cause__ = exc
        return error
    return exc


def _rollback(conn: LogConnection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _check_tail(conn: LogConnection, size: int, uuid_prefix: str) -> None:
    """Check the last leaves against their bodies and nodes, and that no node lies beyond size.

    ``O(log n)`` queries: per level, the stored nodes must be exactly
    ``0 .. (size >> level) - 1`` (their first and last index are checked).
    """

    def scalar(query: str, *args: int) -> int | None:
        value: int | None = conn.execute(query, args).fetchone()[0]
        return value

    low_level = scalar("SELECT min(level) FROM nodes")
    high_level = scalar("SELECT max(level) FROM nodes")
    first_entry = scalar("SELECT min(log_index) FROM entries")
    if (low_level is not None and (low_level < 0 or (high_level or 0) >= 64)) or (
        size and first_entry != 0
    ):
        raise LogCorruptError("the log has entries or nodes at impossible positions")
    for level in range(64):
        want = (size >> level) - 1
        first = scalar("SELECT min(idx) FROM nodes WHERE level = ?", level)
        last = scalar("SELECT max(idx) FROM nodes WHERE level = ?", level)
        if (first, last) != ((0, want) if want >= 0 else (None, None)):
            raise LogCorruptError(
                f"the Merkle nodes at level {level} span {first}..{last}, "
                f"but a tree of {size} entries has "
                + (f"0..{want}" if want >= 0 else "none at that level")
            )
    start = max(0, size - _TAIL_CHECK)
    rows = conn.execute(
        "SELECT log_index, body, leaf_hash FROM entries WHERE log_index >= ? ORDER BY log_index",
        (start,),
    ).fetchall()
    if [r[0] for r in rows] != list(range(start, size)):
        raise LogCorruptError(f"the last entries of the log (from {start}) are not contiguous")

    def read(level: int, idx: int) -> bytes:
        row = conn.execute(
            "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx)
        ).fetchone()
        if row is None:
            raise LogCorruptError(f"Merkle node ({level}, {idx}) is missing")
        h: bytes = row[0]
        return h

    for index, body, lh in rows:
        if leaf_hash(body) != lh:
            raise LogCorruptError(f"entry {index} ({uuid_prefix}{lh.hex()}) has a wrong leaf hash")
        for level, idx, h in new_nodes(index, lh, read):
            if read(level, idx) != h:
                raise LogCorruptError(f"Merkle node ({level}, {idx}) does not match the entries")
