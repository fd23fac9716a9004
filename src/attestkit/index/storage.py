"""The index's file store: distribution files and their extracted metadata.

Layout as PyPI: ``{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}`` where ``b2`` is the
file's BLAKE2b-256.  Files are written to a temporary name in the target
directory, fsynced and renamed, so a reader or a crash never sees a partial
file; an identical file already in place is left as is.  A failed write removes its
temporary file; :meth:`FileStore.sweep` removes what a killed process left.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FileStore"]


class FileStore:
    """Content-addressed file storage below ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def relative_path(blake2_256: str, filename: str) -> str:
        """Where a file with this digest and name lives, relative to the root."""
        b2 = blake2_256.lower()
        return f"{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}"

    def path(self, relative: str) -> Path:
        """Absolute path of a stored file (``relative`` must not escape the root)."""
        path = (self.root / relative).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"path escapes the file store: {relative!r}")
        return path

    def put(
        self,
        relative: str,
        data_path: Path | None = None,
        data: bytes | None = None,
        *,
        sync_directory: bool = True,
    ) -> Path:
        """Store ``data`` (or the file at ``data_path``) atomically at ``relative``.

        ``sync_directory=False`` leaves the directory's fsync to the next ``put``
        into the same directory (which makes both names durable at once).
        """
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{id(target)}.tmp")
        try:
            with tmp.open("wb") as out:
                if data is not None:
                    out.write(data)
                else:
                    assert data_path is not None
                    with data_path.open("rb") as src:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk or a crash mid-copy leaves nothing behind
            raise
        if sync_directory:
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return target

    def sweep(self, referenced: set[str]) -> list[str]:
        """Remove temporary files and files no row references; the removed relative paths.

        Only safe while no upload is in flight: ``attestkit serve`` runs it at start,
        holding the data directory's lock, before it accepts a connection.
        """
        removed: list[str] = []
        for path in self.root.rglob("*"):
            if not path.is_file():
                continue
            relative = path.relative_to(self.root).as_posix()
            if relative not in referenced:  # temporary files are never referenced
                path.unlink(missing_ok=True)
                removed.append(relative)
        return removed

    def delete(self, relative: str) -> None:
        """Remove a stored file if present (used to roll back a failed upload)."""
        self.path(relative).unlink(missing_ok=True)
