"""Which file store an index uses: ``--storage`` / ``storage = "..."`` parsed and opened.

``local`` (the default) keeps files in ``<data_dir>/files``.
``s3://BUCKET[/PREFIX]`` keeps them in an S3-compatible bucket, with
``s3_endpoint_url`` (MinIO, Ceph, ... ; default AWS), ``s3_region``,
``s3_redirect_downloads`` (answer downloads with a presigned URL instead of
streaming through the node) and ``sweep_grace`` (how old an unreferenced object
must be before a start-up sweep removes it: other nodes may be uploading it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from attestkit.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from attestkit.index.storage.base import FileStore
    from attestkit.index.storage.locks import ObjectLocks

__all__ = ["StorageConfig", "open_store", "parse_storage"]

#: Default seconds before an unreferenced S3 object is swept (an upload in flight is younger).
DEFAULT_SWEEP_GRACE = 3600


@dataclass(frozen=True)
class StorageConfig:
    """Where files live: ``bucket`` None means the data directory."""

    bucket: str | None = None
    #: Key prefix inside the bucket, empty or ending in ``/``.
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    redirect_downloads: bool = False
    sweep_grace: int = DEFAULT_SWEEP_GRACE

    @property
    def is_local(self) -> bool:
        """True for the data directory."""
        return self.bucket is None

    def describe(self) -> str:
        """``local`` or ``s3://bucket/prefix``."""
        return "local" if self.bucket is None else f"s3://{self.bucket}/{self.prefix}"


def parse_storage(
    spec: str | None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    redirect_downloads: bool = False,
    sweep_grace: int | None = None,
) -> StorageConfig:
    """``local`` or ``s3://bucket[/prefix]`` (plus the S3 options); InputError otherwise."""
    s3_options = endpoint_url or region or redirect_downloads
    if spec in (None, "", "local"):
        if s3_options:
            raise InputError("the S3 options need an S3 store: --storage s3://BUCKET[/PREFIX]")
        return StorageConfig()
    assert spec is not None
    if not spec.startswith("s3://"):
        raise InputError(f"storage {spec!r}: want 'local' or 's3://BUCKET[/PREFIX]'")
    bucket, _, prefix = spec.removeprefix("s3://").partition("/")
    # S3's bucket naming rules (3-63 lower-case letters, digits, dots, hyphens).
    if (
        not (3 <= len(bucket) <= 63)
        or not all(c.isalnum() or c in ".-" for c in bucket)
        or (bucket.lower() != bucket)
    ):
        raise InputError(f"storage {spec!r}: {bucket!r} is not a valid bucket name")
    prefix = prefix.strip("/")
    if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
        raise InputError(f"S3 endpoint {endpoint_url!r} must be an http(s):// URL")
    if sweep_grace is not None and sweep_grace < 0:
        raise InputError("sweep_grace must be 0 or more seconds")
    return StorageConfig(
        bucket=bucket,
        prefix=f"{prefix}/" if prefix else "",
        endpoint_url=endpoint_url.rstrip("/") if endpoint_url else None,
        region=region,
        redirect_downloads=redirect_downloads,
        sweep_grace=DEFAULT_SWEEP_GRACE if sweep_grace is None else sweep_grace,
    )


def open_store(
    config: StorageConfig | None,
    data_dir: str | os.PathLike[str],
    engine: Engine,
) -> tuple[FileStore, ObjectLocks | None]:
    """The store ``config`` names, and the lock pool it uses (to close with the index)."""
    from attestkit.index.storage.local import LocalFileStore

    if config is None or config.is_local:
        return LocalFileStore(Path(data_dir) / "files"), None
    from attestkit.index.storage.locks import ObjectLocks
    from attestkit.index.storage.s3 import S3FileStore

    locks = ObjectLocks(engine, Path(data_dir))
    try:
        return S3FileStore(config, locks), locks
    except BaseException:
        locks.close()
        raise
