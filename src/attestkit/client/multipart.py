"""The streamed ``multipart/form-data`` body of an upload, with a known length.

Hand-written on purpose: ``requests`` builds a multipart body in memory
(``files=``), and ``requests-toolbelt``'s ``MultipartEncoder`` (what twine
uses) would be an extra dependency of the client for 50 lines.  This body
streams the distribution from disk in 64 KiB chunks, knows its length up
front (for ``Content-Length``) and reports progress as it is read.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["MultipartBody"]

_CHUNK = 1 << 16


class MultipartBody:
    """A streamed ``multipart/form-data`` body with a known length (for Content-Length)."""

    def __init__(
        self,
        fields: list[tuple[str, str]],
        path: Path,
        on_read: Callable[[int, int], None] | None,
    ) -> None:
        self.boundary = uuid.uuid4().hex
        head = io.BytesIO()
        for name, value in fields:
            disposition = f'Content-Disposition: form-data; name="{name}"'
            head.write(f"--{self.boundary}\r\n{disposition}\r\n\r\n".encode())
            head.write(value.encode("utf-8"))
            head.write(b"\r\n")
        filename = path.name.replace('"', "%22")
        head.write(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="content";'
            f' filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        self._head = head.getvalue()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._size = path.stat().st_size
        self._path = path
        self.length = len(self._head) + self._size + len(self._tail)
        self._on_read = on_read
        self._sent = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        self._report(len(self._head))
        with self._path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
                self._report(len(chunk))
        yield self._tail
        self._report(len(self._tail))

    def _report(self, n: int) -> None:
        self._sent += n
        if self._on_read is not None:
            self._on_read(self._sent, self.length)
