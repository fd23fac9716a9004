"""The index's configuration and its open handle (database, file store, trust roots).

:class:`Index` is what every HTTP surface and admin command works with:
``Index.open(IndexConfig(data_dir=...))`` creates or upgrades the schema and
the file store.  Attestations uploaded to it are verified against
``config.trust_roots`` (the embedded local Sigstore and/or public Sigstore).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.core.issuers import OidcIssuer
from attestkit.index.storage import FileStore, LocalFileStore, StorageConfig, open_store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.mirror import Mirror, MirrorConfig
    from attestkit.index.provenance import ProvenanceService
    from attestkit.sigstore.trust import TrustRoot

__all__ = ["Index", "IndexConfig", "OidcIssuer", "default_data_dir", "index_dir"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class IndexConfig:
    """Everything an index needs; defaults give a zero-configuration SQLite index."""

    data_dir: Path
    database_url: str | None = None
    #: The audience Trusted Publishing tokens must carry (``GET /_/oidc/audience``).
    audience: str = "attestkit"
    max_file_size: int = 100 * MiB
    max_project_size: int = 10 * 1024 * MiB
    #: Trust roots that uploaded attestations are verified against (any may match).
    trust_roots: tuple[TrustRoot, ...] = ()
    #: Issuers accepted at ``/_/oidc/mint-token``.
    oidc_issuers: tuple[OidcIssuer, ...] = ()
    #: Minted upload tokens' lifetime (PyPI: 15 minutes).
    minted_token_lifetime: int = 900
    #: Externally visible base URL (absolute links); default: from each request.
    base_url: str | None = None
    #: Every read needs a user's API token (:mod:`attestkit.index.private`).
    private: bool = False
    #: Mirror projects this index does not host from these upstreams (None: no mirror).
    mirror: MirrorConfig | None = None
    #: Where distribution files live (None: ``<data_dir>/files``; or an S3-compatible bucket).
    storage: StorageConfig | None = None
    #: Accept attestations timed by RFC 3161 timestamps (Rekor v2), which PyPI does not yet.
    rekor_v2: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved_database_url(self) -> str:
        """``database_url``, or a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'index.sqlite3'}"


class Index:
    """An open index: engine, session factory and file store."""

    def __init__(self, config: IndexConfig) -> None:
        from attestkit.index.db import make_engine, make_sessionmaker
        from attestkit.index.migrate import upgrade

        self.config = config
        Path(config.data_dir).mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(config.resolved_database_url)
        upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        #: This node's own files: the mirror's cache (and hosted files when local).
        self.local_store: LocalFileStore = LocalFileStore(Path(config.data_dir) / "files")
        self._locks: Any = None
        if config.storage is None or config.storage.is_local:
            #: The hosted distribution files, shared by every node when in a bucket.
            self.store: FileStore = self.local_store
        else:
            try:
                self.store, self._locks = open_store(config.storage, config.data_dir, self.engine)
            except BaseException:
                self.engine.dispose()
                raise

    @functools.cached_property
    def provenance(self) -> ProvenanceService:
        """Attestation verification with the index's trust roots, shared by every route."""
        from attestkit.index.provenance import ProvenanceService

        return ProvenanceService(self.config.trust_roots, rekor_v2=self.config.rekor_v2)

    @functools.cached_property
    def mirror(self) -> Mirror | None:
        """The verifying mirror of projects this index does not host, if configured."""
        if self.config.mirror is None:
            return None
        from attestkit.index.mirror import Mirror

        return Mirror(self, self.config.mirror)

    @classmethod
    def open(cls, config: IndexConfig) -> Index:
        """Open (creating or upgrading) the index described by ``config``."""
        return cls(config)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Finish the mirror's background work and dispose of the database connections."""
        mirror = self.__dict__.get("mirror")
        if mirror is not None:
            mirror.close()
        if self._locks is not None:
            self._locks.close()
        self.engine.dispose()


def default_data_dir() -> Path:
    """The top-level attestkit data directory shared by ``attestkit serve`` and ``attestkit index``.

    ``$ATTESTKIT_DATA_DIR``, else ``$XDG_DATA_HOME/attestkit`` (~/.local/share/attestkit).
    The index lives in its ``index/`` subdirectory, the embedded Sigstore in ``sigstore/``.
    """
    from attestkit.serving.bootstrap import default_data_dir as default

    return default("ATTESTKIT_DATA_DIR")


def index_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the index of ``data_dir`` (default :func:`default_data_dir`) lives."""
    return (Path(data_dir) if data_dir else default_data_dir()) / "index"
