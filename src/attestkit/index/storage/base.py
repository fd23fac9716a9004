"""The file store's interface, shared by the local and the S3-compatible backend.

Layout as PyPI: ``{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}`` where ``b2`` is the
file's BLAKE2b-256 (warehouse's ``warehouse/packaging/utils.py`` scheme), plus
``.metadata`` beside a wheel.  Every backend keeps the same crash-safety rules:

* a stored object is complete or absent (a local temp file renamed into place;
  an S3 PUT or completed multipart upload is atomic);
* no row without its file: the upload stores first and records after;
* no file served without its row: downloads look the row up first;
* orphans (stored, never recorded) are swept, under the same per-object lock
  that uploads hold (:meth:`FileStore.lock`), so a sweep never removes an
  object that a concurrent upload is about to record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from attestkit.errors import ServiceError

__all__ = ["Download", "FileStore", "StoreUnavailableError", "relative_path"]


def relative_path(blake2_256: str, filename: str) -> str:
    """Where a file with this digest and name lives, relative to the store's root."""
    b2 = blake2_256.lower()
    return f"{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}"


class StoreUnavailableError(ServiceError):
    """The object store cannot be reached or failed transiently: answered 503 + Retry-After."""

    status = 503


@dataclass(frozen=True)
class Download:
    """How to send a stored file: a local path, a stream of chunks, or a redirect."""

    size: int | None = None
    #: A local file (sent with sendfile).
    path: Path | None = None
    #: Chunks read from the object store (the iterator closes its connection at the end).
    chunks: Iterator[bytes] | None = None
    #: A presigned URL that serves the object directly (``s3_redirect_downloads``).
    redirect: str | None = None


class FileStore(Protocol):
    """Content-addressed storage of distribution files and their metadata."""

    #: Seconds an unreferenced object must be old before :meth:`sweep` removes it.
    sweep_grace: float

    @staticmethod
    def relative_path(blake2_256: str, filename: str) -> str:
        """See :func:`relative_path`."""
        ...

    def describe(self) -> str:
        """Where the files are, for messages (``/var/lib/.../files``, ``s3://bucket/prefix``)."""
        ...

    def put(
        self,
        relative: str,
        data_path: Path | None = None,
        data: bytes | None = None,
        *,
        sync_directory: bool = True,
    ) -> None:
        """Store ``data`` (or the file at ``data_path``) at ``relative``: all or nothing."""
        ...

    def read_bytes(self, relative: str) -> bytes | None:
        """A small object's bytes (``.metadata``), or None if absent."""
        ...

    def exists(self, relative: str) -> bool:
        """Whether an object is stored at ``relative``."""
        ...

    def download(self, relative: str) -> Download | None:
        """How to send the object at ``relative``, or None if absent."""
        ...

    def delete(self, relative: str) -> None:
        """Remove an object if present."""
        ...

    def lock(self, relative: str) -> AbstractContextManager[None]:
        """Exclusive use of ``relative`` (its directory, locally) across processes and nodes."""
        ...

    def objects(self) -> Iterator[tuple[str, int, float]]:
        """Every stored object: ``(relative, size, modified as Unix seconds)``."""
        ...

    def sweep(self, referenced: set[str], is_referenced: IsReferenced | None = None) -> list[str]:
        """Remove objects not in ``referenced`` and older than :attr:`sweep_grace`.

        ``is_referenced(relative)`` re-checks one candidate under its lock just
        before removal (a concurrent upload may have recorded it meanwhile).
        Returns the removed relative paths.
        """
        ...


class IsReferenced(Protocol):
    """A fresh look-up: does a committed row reference this stored object?"""

    def __call__(self, relative: str) -> bool:
        """True if a row references ``relative`` now."""
        ...
