"""Receiving an upload: a request body bounded by the size limit, and the file copied out of it.

The file is copied once into the index's ``incoming`` directory, hashed (md5,
sha256, blake2b-256) on the way, and refused as soon as it exceeds the limit.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from starlette.datastructures import UploadFile
from starlette.types import Message, Receive

from attestkit.errors import AttestkitError
from attestkit.index.reasons import UploadError
from attestkit.index.upload.validate import MiB, StoredFile, Urls, size_text

__all__ = ["BodyTooLargeError", "limited_receive", "receive_file"]

_CHUNK = 1 * MiB


class BodyTooLargeError(AttestkitError):
    """The request body exceeded what any upload can need."""


def limited_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLargeError` once the body exceeds ``limit``."""
    total = 0

    async def wrapped() -> Message:
        nonlocal total
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > limit:
                raise BodyTooLargeError("request body too large")
        return message

    return wrapped


def receive_file(
    content: UploadFile, incoming: Path, limit: int, project_name: str, urls: Urls
) -> StoredFile:
    """Step 14: copy the upload out of the request, hashing it and enforcing the limit."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    blake2 = hashlib.blake2b(digest_size=32)
    size = 0
    source: BinaryIO = content.file
    source.seek(0)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".tmp", dir=incoming)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadError(
                        400,
                        f"File too large. Limit for project {project_name!r} is"
                        f" {size_text(limit)}. See {urls.docs}/project-management/"
                        "storage-limits#requesting-a-file-size-limit-increase for more"
                        " information.",
                    )
                md5.update(chunk)
                sha256.update(chunk)
                blake2.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StoredFile(path, size, md5.hexdigest(), sha256.hexdigest(), blake2.hexdigest())
