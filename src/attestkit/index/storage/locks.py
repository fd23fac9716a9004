"""Per-object locks that every node sees: PostgreSQL advisory locks, or ``flock`` on one node.

An upload holds its object's lock from storing the file until its transaction
has committed (or its orphan is removed), and the sweep takes the same lock
before it re-checks and removes an unreferenced object.  With PostgreSQL the
lock is ``pg_advisory_lock`` on a 64-bit hash of the object key, taken on a
connection of its own small pool (so a node waiting for a lock never holds the
connections its transactions need); PostgreSQL drops it if the node dies.  With
SQLite, which serves one node, it is an ``flock`` on one of 256 lock files in
the data directory.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.index.storage.local import directory_lock

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["ObjectLocks", "lock_key"]


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


class ObjectLocks:
    """``locks(key)`` is a context manager holding ``key``'s lock."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self._engine: Any = None
        self._dir = Path(data_dir) / "locks"
        if engine.dialect.name == "postgresql":
            from sqlalchemy import create_engine

            self._engine = create_engine(
                engine.url, pool_size=2, max_overflow=62, pool_pre_ping=True
            )

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Hold the lock of ``name`` for the block."""
        if self._engine is None:
            shard = hashlib.blake2b(name.encode(), digest_size=1).hexdigest()
            with directory_lock(self._dir / shard):
                yield
            return
        from sqlalchemy import text

        key = lock_key(name)
        with self._engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()

    def close(self) -> None:
        """Dispose of the lock connections."""
        if self._engine is not None:
            self._engine.dispose()
