"""The start-up sweep: what a killed server left behind is removed before serving.

A ``kill -9`` (or a full disk) can leave an upload's copy in ``incoming/``, a
temporary file in the store, or a stored file whose transaction never committed.
None of them is ever served (every download goes through a committed row), but
they would stay forever.  :func:`sweep` removes them, and only them: a stored
file is kept if a hosted file row references it (or its ``.metadata``), or a
mirrored file row does.  In a bucket shared by several nodes, other nodes may
be uploading while this one starts: only objects older than the store's grace
period are candidates, and each is re-checked under its lock before removal.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from attestkit.index.db import File, MirrorFile

if TYPE_CHECKING:
    from attestkit.index.instance import Index

__all__ = ["sweep"]

log = logging.getLogger(__name__)


def sweep(index: Index) -> list[str]:
    """Remove orphans from ``incoming/`` and the file store; what was removed (for the log).

    ``attestkit serve`` calls it at start, holding the data directory's lock, before
    it accepts connections; nothing of this node is in flight then, and other nodes'
    uploads are protected by the store's grace period and object locks.
    """
    hosted: set[str] = set()
    mirrored: set[str] = set()
    with index.session() as session:
        for (path,) in session.execute(select(File.path)):
            hosted.update((path, f"{path}.metadata"))
        query = select(MirrorFile.path).where(MirrorFile.path.is_not(None))
        for (stored,) in session.execute(query):
            if stored is not None:
                mirrored.update((stored, f"{stored}.metadata"))

    def is_referenced(relative: str) -> bool:
        with index.session() as session:
            path = relative.removesuffix(".metadata")
            return session.scalar(select(File.id).where(File.path == path).limit(1)) is not None

    if index.store is index.local_store:
        removed = [f"files/{p}" for p in index.store.sweep(hosted | mirrored, is_referenced)]
    else:
        removed = [
            f"{index.store.describe()}: {p}" for p in index.store.sweep(hosted, is_referenced)
        ]
        removed += [f"files/{p}" for p in index.local_store.sweep(mirrored)]
    incoming = Path(index.config.data_dir) / "incoming"
    if incoming.is_dir():
        for leftover in incoming.iterdir():
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed.append(f"incoming/{leftover.name}")
    if removed:
        log.warning("start-up sweep removed %d leftover files", len(removed))
    return removed
