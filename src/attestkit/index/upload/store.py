"""Recording an upload: the file store (under the object's lock), then one database transaction.

The file (and a wheel's ``METADATA``) is written to the content-addressed store
first (complete or absent: a renamed temp file, or one S3 PUT), then one
transaction records release, file, provenance and the project's serial and
size.  Uploads of the same content serialise on the object's lock (its
directory's ``flock``, or a database advisory lock shared by every node), so a
failed transaction can delete the stored file exactly when no committed row
references it.  A lost
race on the unique constraints is judged again as a duplicate, never a 500.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from packaging.utils import canonicalize_version
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import Response

from attestkit.core.constants import GITHUB_URL, GITLAB_URL
from attestkit.errors import AttestkitError
from attestkit.index import admin
from attestkit.index.db import (
    ApiToken,
    File,
    Project,
    Provenance,
    Release,
    Role,
    TrustedPublisher,
    utcnow,
)
from attestkit.index.instance import Index
from attestkit.index.reasons import UploadError
from attestkit.index.upload.auth import may_upload
from attestkit.index.upload.model import Upload
from attestkit.index.upload.validate import (
    MAX_FILENAME,
    StoredFile,
    Urls,
    already_exists,
    check_release_rules,
    find_duplicate,
    find_release,
    identical_response,
    is_identical,
    previously_deleted,
    project_too_large,
    reused_filename,
)

__all__ = [
    "IdenticalFileError",
    "Recorder",
    "duplicate_in",
    "is_duplicate",
    "publisher_url",
]

logger = logging.getLogger(__name__)
_TRANSACTION_ATTEMPTS = 3


class IdenticalFileError(AttestkitError):
    """An identical file is already stored (found inside the write transaction)."""


def publisher_url(publisher: TrustedPublisher | None, token: ApiToken) -> str | None:
    """The commit (or repository) the publisher's run built, from the token's stored claims."""
    if publisher is None:
        return None
    claims = token.claims or {}
    sha = claims.get("sha")
    repository = publisher.config.get("repository")
    issuer = publisher.config.get("issuer_url")
    if publisher.kind in ("GitHub", "GitLab") and repository:
        from attestkit.core.issuers import forge_url

        kind = publisher.kind.lower()
        default = GITHUB_URL if kind == "github" else GITLAB_URL
        base = f"{forge_url(kind, str(issuer)) if issuer else default}/{repository}"
    else:
        return None
    return f"{base}/commit/{sha}" if isinstance(sha, str) and sha else base


def is_duplicate(index: Index, filename: str, stored: StoredFile, urls: Urls) -> bool:
    """Step 16: True if an identical file is stored; raises if a conflicting one is."""
    with index.session() as session:
        return duplicate_in(session, filename, stored, urls)


def duplicate_in(session: Session, filename: str, stored: StoredFile, urls: Urls) -> bool:
    """:func:`is_duplicate` in the caller's session."""
    existing = find_duplicate(session, filename, stored.blake2_256)
    if existing is None:
        if previously_deleted(session, filename):
            raise reused_filename(urls)
        return False
    if is_identical(existing, filename, stored):
        return True
    raise already_exists(filename, stored.blake2_256, urls)


class Recorder:
    """Writes uploads of one index (step 22)."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def record(self, upload: Upload) -> Response:
        """Write the file to the store, then record it in one transaction."""
        filename, stored, urls = upload.filename, upload.stored, upload.urls
        sent = upload.attestations_text is not None
        store = self.index.store
        relative = store.relative_path(stored.blake2_256, filename)
        metadata_relative = f"{relative}.metadata"
        metadata_bytes = upload.metadata_bytes
        metadata_sha256 = hashlib.sha256(metadata_bytes).hexdigest() if metadata_bytes else None
        stored_name = f"{filename}.metadata" if metadata_bytes is not None else filename
        if len(filename) > MAX_FILENAME or len(stored_name.encode()) > MAX_FILENAME:
            raise UploadError(400, f"Filename is too long: {filename!r}")
        with store.lock(relative):
            # No duplicate check here: if an identical upload finished while we waited,
            # rewriting the same bytes is harmless and the transaction answers 200.
            # The file and its .metadata share a directory: one directory fsync for both.
            store.put(relative, data_path=stored.path, sync_directory=metadata_bytes is None)
            if metadata_bytes is not None:
                store.put(metadata_relative, data=metadata_bytes)
            try:
                for attempt in range(_TRANSACTION_ATTEMPTS):
                    try:
                        self._transaction(upload, relative, metadata_sha256)
                        return Response(status_code=200)
                    except IdenticalFileError:
                        return identical_response(sent)
                    except IntegrityError:
                        # A concurrent upload won a race: the same file (200), a
                        # conflicting one (400), or a new project or release (retry).
                        logger.info("upload of %s lost a race (attempt %d)", filename, attempt + 1)
                        if is_duplicate(self.index, filename, stored, urls):
                            return identical_response(sent)
                        if upload.project_id is None:
                            upload = replace(upload, project_id=self._created_project(upload))
                raise UploadError(
                    503,
                    "The upload conflicted with concurrent uploads; try again.",
                    {"Retry-After": "1"},
                )
            except BaseException as exc:
                self._discard_unreferenced(relative, metadata_relative)
                if isinstance(exc, DataError):  # deterministic: a value the schema cannot hold
                    raise UploadError(
                        400,
                        "Invalid upload: a value is too long or malformed for this index"
                        f" ({str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__}).",
                    ) from None
                if isinstance(exc, DBAPIError):
                    logger.exception("recording the upload of %s failed", filename)
                    raise UploadError(
                        503,
                        "The index's database is temporarily unavailable; try again.",
                        {"Retry-After": "5"},
                    ) from None
                raise

    def _created_project(self, upload: Upload) -> int | None:
        """After a lost race to create a project: the project, if we may upload to it."""
        name = upload.meta.name
        with self.index.session() as session:
            project = admin.find_project(session, name)
            if project is None:
                return None
            if not may_upload(session, upload.identity, project):
                raise UploadError(409, f"The name {name!r} conflicts with an existing project.")
            return project.id

    def _transaction(self, upload: Upload, relative: str, metadata_sha256: str | None) -> None:
        """The one write transaction of an upload."""
        identity, meta, raw, stored = upload.identity, upload.meta, upload.raw, upload.stored
        limit = self.index.config.max_project_size
        with self.index.session() as session:
            if upload.project_id is None:
                project = Project(
                    name=meta.name,
                    normalized_name=admin.normalize(meta.name),
                    serial=1,
                    total_size=stored.size,
                )
                session.add(project)
                session.flush()
                assert identity.user is not None
                session.add(Role(user_id=identity.user.id, project_id=project.id, role="Owner"))
            else:
                # The first statement writes the project row: it serialises uploads to
                # this project (PostgreSQL row lock; SQLite takes its write lock at once,
                # so no read snapshot can go stale), and checks the size limit atomically.
                result = session.execute(
                    update(Project)
                    .where(
                        Project.id == upload.project_id,
                        Project.total_size + stored.size <= limit,
                    )
                    .values(serial=Project.serial + 1, total_size=Project.total_size + stored.size)
                )
                project_row = session.get(Project, upload.project_id)
                if project_row is None:
                    raise UploadError(409, "The project was deleted during the upload.")
                project = project_row
                if getattr(result, "rowcount", 1) == 0:
                    raise project_too_large(project.name, limit, upload.urls)
                if project.name != meta.name:
                    project.name = meta.name  # the display name follows Name (step 9)
            existing = find_duplicate(session, upload.filename, stored.blake2_256)
            if existing is not None:
                if is_identical(existing, upload.filename, stored):
                    raise IdenticalFileError("identical file already stored")
                raise already_exists(upload.filename, stored.blake2_256, upload.urls)
            if previously_deleted(session, upload.filename):
                raise reused_filename(upload.urls)
            release = find_release(session, project.id, meta)
            if release is None:
                release = Release(
                    project_id=project.id,
                    version=str(meta.version),
                    canonical_version=canonicalize_version(meta.version),
                    requires_python=raw.get("requires_python"),
                    summary=raw.get("summary"),
                    metadata_json=dict(raw),
                )
                session.add(release)
                session.flush()
            else:
                check_release_rules(session, release, upload.form, upload.arrival)
            file = File(
                release_id=release.id,
                filename=upload.filename,
                packagetype=upload.form.filetype,
                python_version=upload.form.pyversion,
                size=stored.size,
                md5=stored.md5,
                sha256=stored.sha256,
                blake2_256=stored.blake2_256,
                path=relative,
                metadata_sha256=metadata_sha256,
                requires_python=raw.get("requires_python"),
                uploaded_via_trusted_publisher=identity.publisher is not None,
                publisher_url=publisher_url(identity.publisher, identity.token),
            )
            session.add(file)
            session.flush()
            if upload.provenance is not None:
                assert upload.attestations_text is not None
                session.add(
                    Provenance(
                        file_id=file.id,
                        provenance=upload.provenance,
                        uploaded_json=upload.attestations_text,
                    )
                )
            session.execute(
                update(ApiToken).where(ApiToken.id == identity.token.id).values(last_used=utcnow())
            )

    def _discard_unreferenced(self, *relatives: str) -> None:
        """Delete stored files no committed row references (called under the directory lock)."""
        try:
            with self.index.session() as session:
                referenced = session.scalar(
                    select(File.id).where(File.path == relatives[0]).limit(1)
                )
        except Exception:  # the database is unreachable: keep the files (an orphan is harmless)
            logger.exception("cannot tell whether %s is referenced; keeping it", relatives[0])
            return
        if referenced is None:
            for relative in relatives:
                self.index.store.delete(relative)
