"""The default file store: a content-addressed tree in the data directory (one node).

Files are written to a temporary name in the target directory, fsynced and
renamed, so a reader or a crash never sees a partial file; an identical file
already in place is left as is.  A failed write removes its temporary file;
:meth:`LocalFileStore.sweep` removes what a killed process left.  Uploads of
the same content serialise on an ``flock`` of the file's directory.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from attestkit.index.storage.base import Download, IsReferenced, relative_path

__all__ = ["LocalFileStore", "directory_lock"]

_THREAD_LOCK = threading.Lock()


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on a store directory: ``flock`` (across processes and threads).

    Where ``fcntl`` is unavailable, one process-wide lock serialises all stores.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        with _THREAD_LOCK:
            yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class LocalFileStore:
    """Content-addressed file storage below ``root``."""

    #: Only ``attestkit serve`` sweeps, at start, holding the data directory's lock:
    #: nothing can be in flight, so no grace period is needed.
    sweep_grace = 0.0

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def relative_path(blake2_256: str, filename: str) -> str:
        """See :func:`~attestkit.index.storage.base.relative_path`."""
        return relative_path(blake2_256, filename)

    def describe(self) -> str:
        """The directory."""
        return str(self.root)

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
    ) -> None:
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

    def read_bytes(self, relative: str) -> bytes | None:
        """The file's bytes, or None if absent."""
        try:
            return self.path(relative).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def exists(self, relative: str) -> bool:
        """Whether the file exists."""
        return self.path(relative).is_file()

    def download(self, relative: str) -> Download | None:
        """The file's path (sent with sendfile), or None."""
        path = self.path(relative)
        try:
            size = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        return Download(size=size, path=path)

    def delete(self, relative: str) -> None:
        """Remove a stored file if present."""
        self.path(relative).unlink(missing_ok=True)

    def lock(self, relative: str) -> contextlib.AbstractContextManager[None]:
        """The ``flock`` of the file's directory."""
        return directory_lock(self.path(relative).parent)

    def objects(self) -> Iterator[tuple[str, int, float]]:
        """Every stored file (temporary files included)."""
        for path in self.root.rglob("*"):
            if path.is_file():
                stat = path.stat()
                yield path.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime

    def sweep(self, referenced: set[str], is_referenced: IsReferenced | None = None) -> list[str]:
        """Remove temporary files and files no row references; the removed relative paths.

        Only safe while no upload is in flight: ``attestkit serve`` runs it at start,
        holding the data directory's lock, before it accepts a connection.
        """
        removed: list[str] = []
        cutoff = time.time() - self.sweep_grace
        for relative, _, modified in list(self.objects()):
            if relative in referenced or modified > cutoff:
                continue  # temporary files are never referenced
            if is_referenced is not None and is_referenced(relative):
                continue
            self.path(relative).unlink(missing_ok=True)
            removed.append(relative)
        return removed
