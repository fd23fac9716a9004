"""The index database: SQLAlchemy 2 models, engine set-up and schema migrations.

SQLite (a file in the data directory, WAL mode) with zero configuration, or
PostgreSQL with ``postgresql://...``.  The schema is created and upgraded with
Alembic migrations (:mod:`attestkit.index.migrations`) on start-up, so an index
created by an older attestkit is upgraded in place.

Names are stored as given and as normalized (PEP 503) for lookups; digests
are lowercase hex.  Every upload is one transaction: the file row, its
provenance and the project's serial change together or not at all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

__all__ = [
    "ApiToken",
    "Base",
    "DeletedFilename",
    "File",
    "IndexState",
    "MirrorFile",
    "MirrorProject",
    "MirrorPublisher",
    "Project",
    "Provenance",
    "Release",
    "Role",
    "TrustedPublisher",
    "UsedJti",
    "User",
    "make_engine",
    "make_sessionmaker",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """Now, in UTC, as stored (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every index table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class User(Base):
    """An account; it owns projects and API tokens.  (No passwords: tokens only, like PyPI.)"""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Project(Base):
    """A project; ``normalized_name`` is its PEP 503 name and is unique."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Bumped by every change that the Simple API shows (``_last-serial``).
    serial: Mapped[int] = mapped_column(BigInteger, default=0)
    total_size: Mapped[int] = mapped_column(BigInteger, default=0)
    #: PEP 792 status marker: ``active``, ``archived``, ``quarantined`` or ``deprecated``.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    releases: Mapped[list[Release]] = relationship(back_populates="project")


class Role(Base):
    """A user's role on a project (``Owner`` or ``Maintainer``)."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("user_id", "project_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20), default="Owner")


class Release(Base):
    """A version of a project, with the metadata of its first upload."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("project_id", "canonical_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(100))
    canonical_version: Mapped[str] = mapped_column(String(100))
    requires_python: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    metadata_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str | None] = mapped_column(Text)
    project: Mapped[Project] = relationship(back_populates="releases")
    files: Mapped[list[File]] = relationship(back_populates="release")


class File(Base):
    """An uploaded distribution file.  ``filename`` and ``blake2_256`` are index-wide unique."""

    __tablename__ = "files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255), unique=True)
    packagetype: Mapped[str] = mapped_column(String(20))
    python_version: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    blake2_256: Mapped[str] = mapped_column(String(64), unique=True)
    #: Path in the file store, relative to its root.
    path: Mapped[str] = mapped_column(String(400))
    #: sha256 of the wheel's METADATA served at ``<file-url>.metadata`` (PEP 658), or None.
    metadata_sha256: Mapped[str | None] = mapped_column(String(64))
    requires_python: Mapped[str | None] = mapped_column(Text)
    upload_time: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploaded_via_trusted_publisher: Mapped[bool] = mapped_column(Boolean, default=False)
    publisher_url: Mapped[str | None] = mapped_column(Text)
    release: Mapped[Release] = relationship(back_populates="files")
    provenance: Mapped[Provenance | None] = relationship(back_populates="file")


class DeletedFilename(Base):
    """A filename whose file was deleted: never accepted again, as on PyPI."""

    __tablename__ = "deleted_filenames"
    filename: Mapped[str] = mapped_column(String(255), primary_key=True)
    blake2_256: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str] = mapped_column(String(200))
    deleted: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Provenance(Base):
    """The provenance object of a file (one bundle per attested upload)."""

    __tablename__ = "provenance"
    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    #: The provenance object as served by the Integrity API (PyPI's model dump).
    provenance: Mapped[dict[str, Any]] = mapped_column()
    #: The ``attestations`` form field exactly as uploaded (forward compatibility).
    uploaded_json: Mapped[str] = mapped_column(Text)
    file: Mapped[File] = relationship(back_populates="provenance")


class TrustedPublisher(Base):
    """A Trusted Publisher (``kind`` + ``config``), for one project or pending for a name.

    A *pending* publisher has no project yet: ``pending_project_name`` is the
    project it may create on first use, owned by ``added_by_id``.
    """

    __tablename__ = "trusted_publishers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column()
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pending_project_name: Mapped[str | None] = mapped_column(String(200))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: When a *pending* publisher stops being usable (None: never; registered ones: None).
    expires: Mapped[dt.datetime | None] = mapped_column()


class ApiToken(Base):
    """An upload token: a user's (optionally project-scoped) or one minted for a publisher.

    Only a SHA-256 of the secret is stored.
    """

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    description: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("trusted_publishers.id", ondelete="CASCADE")
    )
    #: Claims of the minting OIDC token that the index records (e.g. ref, sha).
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    not_before: Mapped[dt.datetime | None] = mapped_column()
    expires: Mapped[dt.datetime | None] = mapped_column()
    last_used: Mapped[dt.datetime | None] = mapped_column()


class UsedJti(Base):
    """OIDC ``jti`` values already exchanged (replay protection), kept until expiry."""

    __tablename__ = "used_jtis"
    issuer: Mapped[str] = mapped_column(String(300), primary_key=True)
    jti: Mapped[str] = mapped_column(String(300), primary_key=True)
    expires: Mapped[dt.datetime] = mapped_column()


class MirrorProject(Base):
    """A project the index mirrors from an upstream index (never one it hosts).

    ``serial`` is bumped by every change the mirrored pages show (new files,
    verdicts, yanks), like :attr:`Project.serial`; ``fetched`` is when upstream
    was last read successfully (the page is revalidated once it is older than
    the mirror's TTL).
    """

    __tablename__ = "mirror_projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    #: The upstream Simple API root the project comes from.
    upstream: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    #: The upstream page's project-level keys (``project-status``, ``versions``, ``meta``).
    page: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fetched: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    serial: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The version whose attested files set the publisher baseline (trust on first use).
    baseline_version: Mapped[str | None] = mapped_column(String(100))


class MirrorFile(Base):
    """One upstream file of a mirrored project, with its verdict.

    ``state``: ``pending`` (not judged yet), ``verified`` (provenance verified and
    the policy accepts it), ``unattested`` (no provenance, and the policy allows
    that), ``quarantined`` (failed; not served until released), ``released``
    (served by an operator's decision) or ``rejected`` (never served).
    """

    __tablename__ = "mirror_files"
    __table_args__ = (UniqueConstraint("project_id", "filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("mirror_projects.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(100))
    #: The SHA-256 first seen upstream: the only bytes ever served under this name.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: The upstream ``files[]`` entry, refreshed on every revalidation (yanks follow).
    entry: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Whether the file is on the upstream page as last read.
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    #: What a quarantine is about: ``changed`` (publisher), ``lost`` (provenance),
    #: ``signature``, ``policy`` or ``bytes`` (upstream changed the file).
    flag: Mapped[str | None] = mapped_column(String(20))
    #: The publishers whose attestations verified (PEP 740 publisher objects).
    publishers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The verified provenance object, served by the Integrity API.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Path in the file store once the bytes were fetched (and matched ``sha256``).
    path: Mapped[str | None] = mapped_column(String(400))
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: On the upstream page when the project was first mirrored (its history, not news).
    initial: Mapped[bool] = mapped_column(Boolean, default=False)
    judged: Mapped[dt.datetime | None] = mapped_column()


class MirrorPublisher(Base):
    """A publisher seen for a mirrored project: first seen when, and whether it is accepted."""

    __tablename__ = "mirror_publishers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("mirror_projects.id", ondelete="CASCADE"), index=True
    )
    publisher: Mapped[dict[str, Any]] = mapped_column()
    first_version: Mapped[str | None] = mapped_column(String(100))
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How it came to be accepted: ``first use``, or the operator's ``release``.
    note: Mapped[str | None] = mapped_column(Text)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``).

    SQLite gets WAL, ``synchronous=FULL`` and foreign keys; PostgreSQL URLs
    without a driver use psycopg 3.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class IndexState(Base):
    """One row (``id`` 1): ``changes`` counts committed changes to hosted projects.

    Any transaction that inserts, changes or deletes a project, release or file
    bumps it before it commits (:func:`make_sessionmaker`'s hooks), so the
    project list (``/simple/``) can be cached in each process, and on each node,
    and checked with one read of this row.
    """

    __tablename__ = "index_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger, default=0)


#: Rows whose change can change the project list (names and serials).
_LISTED = (Project, Release, File)


def _note_listed_changes(session: Session, _context: Any, _instances: Any) -> None:
    if any(isinstance(row, _LISTED) for row in (*session.new, *session.dirty, *session.deleted)):
        session.info["index_changed"] = True


def _bump_index_state(session: Session) -> None:
    session.flush()  # what is still pending is part of this commit
    if session.info.pop("index_changed", False):
        session.execute(
            update(IndexState).where(IndexState.id == 1).values(changes=IndexState.changes + 1)
        )


def _forget_changes(session: Session) -> None:
    session.info.pop("index_changed", None)


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    """Sessions that keep loaded objects usable after commit, and keep
    :class:`IndexState` counting changes to hosted projects."""
    maker = sessionmaker(engine, expire_on_commit=False)
    event.listen(maker, "before_flush", _note_listed_changes)
    event.listen(maker, "before_commit", _bump_index_state)
    event.listen(maker, "after_rollback", _forget_changes)
    return maker
