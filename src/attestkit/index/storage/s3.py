"""Files in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, moto, ...): shared by every node.

The client is boto3, chosen by measurement (import and first client ~0.36 s,
about minio's 0.28 s, and only the server imports it), because it is the
reference client every S3-compatible server is tested against, streams uploads
from disk with multipart transfers (s3transfer), and presigns URLs; warehouse
uses it for PyPI's own files.  Credentials come from boto3's usual chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, instance
roles); nothing secret lives in ``attestkit.toml``.

An object appears only when its PUT (or its multipart upload) completes, so a
node killed mid-upload leaves nothing or an incomplete multipart upload, never
a partial object.  Uploads and the sweep take a per-object lock from the
database (:mod:`attestkit.index.storage.locks`), so they agree across nodes.
Any failure of the store to answer is :class:`StoreUnavailableError`: 503 with
``Retry-After``, never a 500.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.index.storage.base import (
    Download,
    IsReferenced,
    StoreUnavailableError,
    relative_path,
)

if TYPE_CHECKING:
    from attestkit.index.storage.config import StorageConfig

__all__ = ["S3FileStore"]

log = logging.getLogger(__name__)

#: Multipart uploads above this size (S3's parts are 5 MiB at least).
_MULTIPART_THRESHOLD = 16 * 1024 * 1024
_CHUNK = 256 * 1024
#: Seconds a presigned download URL stays valid.
PRESIGNED_LIFETIME = 300

LockFactory = Callable[[str], contextlib.AbstractContextManager[None]]


class S3FileStore:
    """Objects under ``prefix`` in ``bucket``; see the module docstring."""

    def __init__(self, config: StorageConfig, lock_factory: LockFactory) -> None:
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError:
            from attestkit.errors import MissingExtraError

            raise MissingExtraError("an S3 file store", "s3", "boto3") from None

        assert config.bucket is not None
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.endpoint_url = config.endpoint_url
        self.redirect_downloads = config.redirect_downloads
        self.sweep_grace = float(config.sweep_grace)
        self._lock_factory = lock_factory
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            config=Config(
                # Path-style addressing works with every S3-compatible server.
                s3={"addressing_style": "path"},
                signature_version="s3v4",  # presigned URLs too (SigV2 is deprecated)
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=64,
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=_MULTIPART_THRESHOLD,
            multipart_chunksize=_MULTIPART_THRESHOLD,
            max_concurrency=4,
        )
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise StoreUnavailableError(
                f"cannot use bucket {self.bucket!r}"
                f"{f' at {self.endpoint_url}' if self.endpoint_url else ''}: {_reason(exc)}"
            ) from None

    @staticmethod
    def relative_path(blake2_256: str, filename: str) -> str:
        """See :func:`~attestkit.index.storage.base.relative_path`."""
        return relative_path(blake2_256, filename)

    def describe(self) -> str:
        """``s3://bucket/prefix`` (and the endpoint)."""
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def _key(self, relative: str) -> str:
        parts = relative.split("/")
        if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"path escapes the file store: {relative!r}")
        return self.prefix + relative

    def put(
        self,
        relative: str,
        data_path: Path | None = None,
        data: bytes | None = None,
        *,
        sync_directory: bool = True,
    ) -> None:
        """Upload from memory or stream the file at ``data_path`` (multipart when large)."""
        key = self._key(relative)
        try:
            if data is not None:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
            else:
                assert data_path is not None
                self._client.upload_file(str(data_path), self.bucket, key, Config=self._transfer)
        except Exception as exc:
            raise _unavailable("store", relative, exc) from None

    def _get(self, relative: str) -> Any | None:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(relative))
        except Exception as exc:
            if _missing(exc):
                return None
            raise _unavailable("read", relative, exc) from None

    def read_bytes(self, relative: str) -> bytes | None:
        """The object's bytes, or None if absent."""
        response = self._get(relative)
        if response is None:
            return None
        body = response["Body"]
        try:
            data: bytes = body.read()
        except Exception as exc:
            raise _unavailable("read", relative, exc) from None
        finally:
            body.close()
        return data

    def exists(self, relative: str) -> bool:
        """A HEAD request."""
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(relative))
        except Exception as exc:
            if _missing(exc):
                return False
            raise _unavailable("read", relative, exc) from None
        return True

    def download(self, relative: str) -> Download | None:
        """A presigned redirect (if configured) or the object's bytes as a stream."""
        if self.redirect_downloads:
            if not self.exists(relative):
                return None
            url = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(relative)},
                ExpiresIn=PRESIGNED_LIFETIME,
            )
            return Download(redirect=str(url))
        response = self._get(relative)
        if response is None:
            return None
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(_CHUNK)
            finally:
                body.close()

        return Download(size=int(response["ContentLength"]), chunks=chunks())

    def delete(self, relative: str) -> None:
        """Delete the object (absent is fine)."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(relative))
        except Exception as exc:
            if not _missing(exc):
                raise _unavailable("delete", relative, exc) from None

    def lock(self, relative: str) -> contextlib.AbstractContextManager[None]:
        """The database's lock on this object (every node sees it)."""
        return self._lock_factory(self._key(relative))

    def objects(self) -> Iterator[tuple[str, int, float]]:
        """Every object under the prefix (paged listing)."""
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    key: str = item["Key"]
                    yield (
                        key.removeprefix(self.prefix),
                        int(item["Size"]),
                        item["LastModified"].timestamp(),
                    )
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise _unavailable("list", self.prefix or "/", exc) from None

    def sweep(self, referenced: set[str], is_referenced: IsReferenced | None = None) -> list[str]:
        """Remove unreferenced objects older than the grace period, each under its lock."""
        import time

        cutoff = time.time() - self.sweep_grace
        removed: list[str] = []
        for relative, _, modified in list(self.objects()):
            if relative in referenced or modified > cutoff:
                continue
            with self.lock(relative):
                if is_referenced is not None and is_referenced(relative):
                    continue
                self.delete(relative)
            removed.append(relative)
        return removed


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _missing(exc: BaseException) -> bool:
    return _error_code(exc) in ("NoSuchKey", "404", "NotFound")


def _reason(exc: BaseException) -> str:
    code = _error_code(exc)
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return f"{code}: {line}" if code and code not in line else line


def _unavailable(action: str, relative: str, exc: BaseException) -> StoreUnavailableError:
    log.warning("object store: cannot %s %s: %s", action, relative, exc)
    return StoreUnavailableError(
        f"Service unavailable: the file store cannot {action} {relative} right now"
    )
