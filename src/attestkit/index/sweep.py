"""The start-up sweep: what a killed server left behind is removed before serving.

A ``kill -9`` (or a full disk) can leave an upload's copy in ``incoming/``, a
temporary file in the store, or a stored file whose transaction never committed.
None of them is ever served (every download goes through a committed row), but
they would stay forever.  :func:`sweep` removes them, and only them: a stored
file is kept if a hosted file row references it (or its ``.metadata``), or a
mirrored file row does.
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

    Call it only while nothing uploads: ``attestkit serve`` does, at start, holding the
    data directory's lock, before it accepts connections.
    """
    referenced: set[str] = set()
    with index.session() as session:
        for (path,) in session.execute(select(File.path)):
            referenced.update((path, f"{path}.metadata"))
        mirrored = select(MirrorFile.path).where(MirrorFile.path.is_not(None))
        for (stored,) in session.execute(mirrored):
            if stored is not None:
                referenced.update((stored, f"{stored}.metadata"))
    removed = [f"files/{p}" for p in index.store.sweep(referenced)]
    incoming = Path(index.config.data_dir) / "incoming"
    if incoming.is_dir():
        for leftover in incoming.iterdir():
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed.append(f"incoming/{leftover.name}")
    if removed:
        log.warning("start-up sweep removed %d leftover files", len(removed))
    return removed
