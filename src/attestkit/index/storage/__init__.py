"""Where the index keeps distribution files: one interface, two backends.

:class:`FileStore` is what the upload, download, lifecycle and sweep code use.
:class:`LocalFileStore` keeps files in the data directory (the default, one
node); :class:`S3FileStore` keeps them in an S3-compatible bucket, shared by any
number of nodes.  :func:`open_store` picks one from a :class:`StorageConfig`
(``--storage``, or ``storage = "s3://bucket/prefix"`` in ``attestkit.toml``).
"""

from attestkit.index.storage.base import (
    Download,
    FileStore,
    IsReferenced,
    StoreUnavailableError,
    relative_path,
)
from attestkit.index.storage.config import StorageConfig, open_store, parse_storage
from attestkit.index.storage.local import LocalFileStore, directory_lock

__all__ = [
    "Download",
    "FileStore",
    "IsReferenced",
    "LocalFileStore",
    "StorageConfig",
    "StoreUnavailableError",
    "directory_lock",
    "open_store",
    "parse_storage",
    "relative_path",
]
