"""Moving a single-node index to the scaled-out layout: its rows to another database, its files
to another store (``attestkit index migrate``).

The target must be empty (a fresh PostgreSQL database, an empty bucket
prefix).  Files go first, each checked against the SHA-256 and BLAKE2b-256 its
row records (a damaged file stops the move, naming it), then every row in one
transaction, table by table in foreign-key order with their ids kept; on
PostgreSQL the id sequences are then moved past the copied ids.  An interrupted
move leaves no rows in the target (only objects, which a rerun overwrites), so
it can simply be run again.  The mirror's cache is not moved: it is each
node's own, and refills from upstream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from attestkit.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table

    from attestkit.index.instance import Index

__all__ = ["Relocation", "relocate"]

#: Rows copied per INSERT.
_BATCH = 1000


@dataclass
class Relocation:
    """What :func:`relocate` moved."""

    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0


def relocate(
    source: Index, target: Index, progress: Callable[[str], None] | None = None
) -> Relocation:
    """Copy every row and hosted file of ``source`` into the empty ``target``."""
    from sqlalchemy import func, select

    from attestkit.index.db import Base, File, IndexState, Project, User

    say = progress or (lambda text: None)
    with target.session() as session:
        if session.scalar(select(func.count()).select_from(User)) or session.scalar(
            select(func.count()).select_from(Project)
        ):
            raise InputError("the target index is not empty: move into a fresh database")
    report = Relocation()
    with source.session() as session:
        stored = list(
            session.execute(
                select(File.path, File.filename, File.sha256, File.blake2_256, File.metadata_sha256)
            )
        )
    for path, filename, sha256, blake2, metadata_sha256 in stored:
        size = _copy_file(source, target, path, filename, sha256, blake2)
        report.files += 1
        report.bytes += size
        if metadata_sha256:
            data = source.store.read_bytes(f"{path}.metadata")
            if data is None or hashlib.sha256(data).hexdigest() != metadata_sha256.lower():
                raise InputError(f"{filename}.metadata in the source store is missing or damaged")
            target.store.put(f"{path}.metadata", data=data)
        if report.files % 100 == 0:
            say(f"copied {report.files} of {len(stored)} files")
    say(f"copied {report.files} files ({report.bytes} bytes) to {target.store.describe()}")
    tables = list(Base.metadata.sorted_tables)
    with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in tables:
            if table.name == IndexState.__tablename__:
                writing.execute(table.delete())  # the target's own counter row
            count = 0
            rows = reading.execute(table.select()).mappings()
            while batch := [dict(row) for row in rows.fetchmany(_BATCH)]:
                writing.execute(table.insert(), batch)
                count += len(batch)
            report.rows[table.name] = count
        if writing.dialect.name == "postgresql":
            _advance_sequences(writing, tables)
    say("copied " + ", ".join(f"{n} {name}" for name, n in report.rows.items() if n))
    return report


def _copy_file(
    source: Index, target: Index, path: str, filename: str, sha256: str, blake2: str
) -> int:
    """Check one stored file against its row's digests and put it in the target store."""
    from attestkit.index.storage import LocalFileStore

    store = source.store
    if isinstance(store, LocalFileStore):
        local = store.path(path)
        digests = (hashlib.sha256(), hashlib.blake2b(digest_size=32))
        try:
            with local.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    for digest in digests:
                        digest.update(chunk)
            size = local.stat().st_size
        except OSError as exc:
            raise InputError(f"{filename}: cannot read {local}: {exc.strerror or exc}") from None
        if (digests[0].hexdigest(), digests[1].hexdigest()) != (sha256.lower(), blake2.lower()):
            raise InputError(f"{filename} in {local} does not match its recorded digests")
        target.store.put(path, data_path=local)
        return size
    data = store.read_bytes(path)
    if data is None or hashlib.sha256(data).hexdigest() != sha256.lower():
        raise InputError(f"{filename} in {store.describe()} is missing or damaged")
    target.store.put(path, data=data)
    return len(data)


def _advance_sequences(connection: Connection, tables: Sequence[Table]) -> None:
    """Move each serial id's sequence past the largest copied id (PostgreSQL)."""
    from sqlalchemy import Integer, func, select

    for table in tables:
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and column.autoincrement in (True, "auto"):
                # Names come from the schema's own metadata, passed as values, not SQL text.
                sequence = func.pg_get_serial_sequence(table.name, column.name)
                largest = select(func.coalesce(func.max(column), 0) + 1).scalar_subquery()
                connection.execute(select(func.setval(sequence, largest, False)))
