"""PyPI's legacy upload API (``POST /legacy/``), with PEP 740 attestations verified at upload.

twine, uv and gh-action-pypi-publish upload here exactly as to PyPI.  The
checks run in PyPI's order and refuse with PyPI's messages (warehouse
``warehouse/forklift/legacy.py``); the first failure wins and nothing is
written.  Deliberate differences, each an improvement that keeps PyPI's
message prefixes:

* every message is also the ``text/plain`` body (the reason phrase too where
  the server supports it: see :mod:`attestkit.index.reasons`);
* token expiry is judged at the request's arrival, not after the body
  (P3 in ``docs/defects.md``), and an expired token's message says what to do;
* an attestation that fails verification is named (``attestation 2 of 2``);
* an identical re-upload still answers 200 but says, in the body, that any
  attestations sent were not examined (P6);
* transient database failures answer 503 with ``Retry-After`` and races
  between concurrent uploads resolve to 200 or 400, never 500 (twine retries
  every 5xx immediately: P10).

Not implemented because the index has no such concept: e-mail verification and
2FA (step 7), organisations (step 8), admin kill-switches (A1/A2), name
policies beyond the syntax rule (prohibited, stdlib and too-similar names),
description rendering (step 10) and the deleted-filename registry.

Storage is crash-safe and race-free: the file (and a wheel's ``METADATA``) is
written to the content-addressed store first (temp file, fsync, rename), then
one transaction records release, file, provenance and the project's serial
and size.  Uploads of the same content serialise on a lock on the file's
store directory, so a failed transaction can delete the stored file exactly
when no committed row references it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from packaging.metadata import Metadata, RawMetadata
from packaging.utils import canonicalize_version
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive

from attestkit.core.constants import ACCEPTED_PREDICATE_TYPES, GITHUB_URL, GITLAB_URL
from attestkit.core.distribution import Distribution
from attestkit.core.models import Attestation
from attestkit.errors import InputError, VerificationError
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
from attestkit.index.reasons import MessageResponse, UploadError
from attestkit.index.upload.archives import check_sdist, check_wheel, inspect_archive
from attestkit.index.upload.auth import (
    Identity,
    as_utc,
    authenticate,
    caveat_failure,
    may_upload,
)
from attestkit.index.upload.metadata import UploadForm, parse_metadata, validate_form
from attestkit.sigstore.verify.attestation import Verifier

__all__ = ["UploadHandler", "routes"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
GiB = 1024 * MiB
#: Largest non-file form part kept in memory (description, attestations, ...).
MAX_FIELD_SIZE = 8 * MiB
#: Request body allowed beyond the file size limit (the other form fields).
BODY_ALLOWANCE = 32 * MiB
#: A release accepts new files for this long after it was created (PyPI's rule).
RELEASE_UPLOAD_WINDOW = dt.timedelta(days=14)
_CHUNK = 1 * MiB
#: Longest stored file name (the database column, and NAME_MAX of common file systems).
MAX_FILENAME = 255
_TRANSACTION_ATTEMPTS = 3

_DIST_FILE = re.compile(r".+?(?P<extension>\.(tar\.gz|zip|whl))\Z", re.IGNORECASE)
_EXTENSIONS = {"sdist": {".tar.gz", ".zip"}, "bdist_wheel": {".whl"}}
_FILE_FIELDS = {"content", "gpg_signature"}


def routes(index: Index) -> list[BaseRoute]:
    """The upload routes: ``POST /legacy/``, and ``POST /legacy`` (a 308 to it)."""
    handler = UploadHandler(index)
    return [
        Route("/legacy/", handler.upload, methods=["POST"]),
        Route("/legacy", handler.redirect, methods=["POST"]),
    ]


class _BodyTooLargeError(Exception):
    """The request body exceeded what any upload can need."""


@dataclass(frozen=True)
class _Urls:
    help: str
    docs: str


@dataclass
class _Stored:
    """The uploaded file, copied out of the request and hashed."""

    path: Path
    size: int
    md5: str
    sha256: str
    blake2_256: str


class _IdenticalFileError(Exception):
    """An identical file is already stored (found inside the write transaction)."""


class UploadHandler:
    """The upload endpoint for one index (its verifiers are built once)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.verifiers = [Verifier(root, pypi_compatible=True) for root in index.config.trust_roots]
        self.incoming = Path(index.config.data_dir) / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    # -- HTTP ------------------------------------------------------------------------
    def _urls(self, request: Request) -> _Urls:
        base = (self.index.config.base_url or str(request.base_url)).rstrip("/")
        return _Urls(help=f"{base}/help", docs=f"{base}/docs")

    async def redirect(self, request: Request) -> Response:
        """``POST /legacy`` → 308 to ``/legacy/`` with PyPI's message."""
        location = str(request.url.replace(path=request.url.path + "/"))
        return MessageResponse(
            308,
            "An upload was attempted to /legacy but the expected upload URL is /legacy/"
            " (with a trailing slash)",
            {"Location": location},
        )

    async def upload(self, request: Request) -> Response:
        """``POST /legacy/``: route on ``:action``, then run the upload."""
        arrival = utcnow()  # before the body is read: token expiry is judged at arrival
        urls = self._urls(request)
        limit = self.index.config.max_file_size + BODY_ALLOWANCE
        try:
            length = int(request.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        try:
            if length > limit:
                raise _BodyTooLargeError
            limited = Request(request.scope, _limited_receive(request.receive, limit))
            try:
                form = await limited.form(
                    max_files=10, max_fields=10_000, max_part_size=MAX_FIELD_SIZE
                )
            except HTTPException as exc:
                return MessageResponse(400, f"Invalid upload form: {exc.detail}")
        except _BodyTooLargeError:
            return MessageResponse(
                413,
                "Request body too large: files are limited to"
                f" {_size(self.index.config.max_file_size)} on this index.",
            )
        try:
            return await run_in_threadpool(
                self._handle,
                form,
                request.query_params.getlist(":action"),
                request.headers.get("authorization"),
                arrival,
                urls,
            )
        except UploadError as exc:
            return exc.response()
        finally:
            await form.close()

    # -- the upload itself (runs in a worker thread) ------------------------------------
    def _handle(
        self,
        form: FormData,
        query_actions: list[str],
        authorization: str | None,
        arrival: dt.datetime,
        urls: _Urls,
    ) -> Response:
        actions = [
            *query_actions,
            *(v for k, v in form.multi_items() if k == ":action" and isinstance(v, str)),
        ]
        action = actions[0] if actions else None
        if action in {"submit", "submit_pkg_info"}:
            raise UploadError(
                410,
                "Project pre-registration is no longer required or supported, upload your"
                " files instead.",
            )
        if action == "doc_upload":
            raise UploadError(
                410,
                "Uploading documentation is no longer supported, we recommend using"
                " https://readthedocs.org/.",
            )
        if action != "file_upload":
            raise UploadError(
                400,
                f"Unknown :action {action!r}: this endpoint accepts :action=file_upload",
            )
        fields, files = _sanitize(form)

        with self.index.session() as session:
            identity = authenticate(session, authorization, urls.help)

        # 1. protocol version
        if (_first(fields, "protocol_version") or "1") != "1":
            raise UploadError(400, "Unknown protocol version.")
        # 2. the upload form, 3. core metadata (from the form, not the artifact)
        upload_form = validate_form(fields)
        meta, raw = parse_metadata(fields)
        # 4. the file
        contents = files.get("content") or []
        if not contents:
            raise UploadError(400, "Upload payload does not have a file.")
        content = contents[0]

        # 5.-6. the project and the permission to upload to it
        project_id, project_name, normalized = self._authorize(identity, meta, arrival, urls)

        filename = content.filename or ""
        _check_filename(filename, upload_form.filetype)  # 12.
        content_type = content.content_type or ""
        if not content_type or content_type.startswith("image/"):  # 13.
            raise UploadError(400, "Invalid distribution file.")

        stored = self._receive_file(content, project_name, urls)  # 14.
        try:
            self._check_size(project_id, project_name, stored.size, urls)
            _check_digests(upload_form, stored)  # 15.
            attestations_text = _first_or_none(fields, "attestations")
            if self._is_duplicate(filename, stored, urls):  # 16.
                return _identical_response(attestations_text is not None)
            try:
                self._check_release(project_id, meta, upload_form, arrival)  # 17.-18.
            except UploadError:
                # A concurrent upload of this very file may have landed since step 16:
                # then the duplicate (or identical) answer is the one that applies.
                if self._is_duplicate(filename, stored, urls):
                    return _identical_response(attestations_text is not None)
                raise

            # 19.-20. the archive, then the sdist or wheel rules
            info = inspect_archive(stored.path, filename, urls.docs)
            license_files = list(raw.get("license_files", []))
            metadata_bytes: bytes | None = None
            if upload_form.filetype == "sdist":
                check_sdist(info, filename, project_name, normalized, meta.version, license_files)
            else:
                metadata_bytes = check_wheel(
                    info, filename, project_name, normalized, meta.version, license_files
                )

            # 21. attestations
            provenance = None
            if attestations_text is not None:
                provenance = self._verify_attestations(
                    attestations_text, identity, filename, stored.sha256
                )

            # 22. store, then record
            return self._store(
                identity=identity,
                project_id=project_id,
                meta=meta,
                raw=raw,
                upload_form=upload_form,
                filename=filename,
                stored=stored,
                metadata_bytes=metadata_bytes,
                provenance=provenance,
                attestations_text=attestations_text,
                urls=urls,
                arrival=arrival,
            )
        finally:
            stored.path.unlink(missing_ok=True)

    def _authorize(
        self, identity: Identity, meta: Metadata, arrival: dt.datetime, urls: _Urls
    ) -> tuple[int | None, str, str]:
        """Steps 5-6: ``(project id or None if it will be created, display name, normalized)``."""
        normalized = admin.normalize(meta.name)
        with self.index.session() as session:
            project = admin.find_project(session, meta.name)
            if project is None and not identity.is_user:
                raise UploadError(
                    400,
                    "Non-user identities cannot create new projects. This was probably caused"
                    " by successfully using a pending publisher but specifying the project"
                    " name incorrectly (either in the publisher or in your project's"
                    " metadata). Please ensure that both match. See:"
                    f" {urls.docs}/trusted-publishers/troubleshooting/",
                )
            # A new project is created with the user as Owner.  PyPI's checks on the
            # account (verified e-mail, 2FA: step 7) have no counterpart here.
            reason = caveat_failure(identity, project, meta.name, arrival)
            if reason is not None:
                raise UploadError(403, f"Invalid API Token: {reason}")
            if project is None:
                return None, meta.name, normalized
            if not may_upload(session, identity, project):
                if identity.user is not None:
                    who = f"The user '{identity.user.username}' isn't"
                else:
                    who = "The given token isn't"
                raise UploadError(
                    403,
                    f"{who} allowed to upload to project '{project.name}'."
                    f" See {urls.help}#project-name for more information.",
                )
            return project.id, project.name, project.normalized_name

    def _receive_file(self, content: UploadFile, project_name: str, urls: _Urls) -> _Stored:
        """Step 14: copy the upload out of the request, hashing it and enforcing the limit."""
        limit = self.index.config.max_file_size
        md5 = hashlib.md5(usedforsecurity=False)
        sha256 = hashlib.sha256()
        blake2 = hashlib.blake2b(digest_size=32)
        size = 0
        source: BinaryIO = content.file
        source.seek(0)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".tmp", dir=self.incoming)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise UploadError(
                            400,
                            f"File too large. Limit for project {project_name!r} is"
                            f" {_size(limit)}. See {urls.docs}/project-management/storage-limits"
                            "#requesting-a-file-size-limit-increase for more information.",
                        )
                    md5.update(chunk)
                    sha256.update(chunk)
                    blake2.update(chunk)
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return _Stored(path, size, md5.hexdigest(), sha256.hexdigest(), blake2.hexdigest())

    def _check_size(
        self, project_id: int | None, project_name: str, size: int, urls: _Urls
    ) -> None:
        """Step 14, the project's total size (re-checked atomically when recording)."""
        total = 0
        if project_id is not None:
            with self.index.session() as session:
                total = (
                    session.scalar(select(Project.total_size).where(Project.id == project_id)) or 0
                )
        if total + size > self.index.config.max_project_size:
            raise _project_too_large(project_name, self.index.config.max_project_size, urls)

    def _is_duplicate(self, filename: str, stored: _Stored, urls: _Urls) -> bool:
        """Step 16: True if an identical file is stored; raises if a conflicting one is."""
        with self.index.session() as session:
            existing = _find_duplicate(session, filename, stored.blake2_256)
            if existing is None:
                return False
            if _is_identical(existing, filename, stored):
                return True
        raise _already_exists(filename, stored.blake2_256, urls)

    def _check_release(
        self, project_id: int | None, meta: Metadata, form: UploadForm, arrival: dt.datetime
    ) -> None:
        """Steps 17-18: the release's age and its single sdist."""
        if project_id is None:
            return
        with self.index.session() as session:
            release = _find_release(session, project_id, meta)
            if release is None:
                return
            _check_release_rules(session, release, form, arrival)

    # -- attestations (step 21, §3) -----------------------------------------------------
    def _verify_attestations(
        self, text: str, identity: Identity, filename: str, sha256: str
    ) -> dict[str, Any]:
        """Verify the ``attestations`` field; return the provenance object to store."""

        def refuse(error: str) -> UploadError:
            return UploadError(400, f"Invalid attestations supplied during upload: {error}")

        if identity.publisher is None:
            raise refuse(
                "Attestations are only supported when using Trusted Publishing (this upload"
                " used an API token: upload from a Trusted Publisher, or drop the attestations)"
            )
        publisher = admin.publisher_object(identity.publisher)
        if not publisher.supported:
            raise refuse(
                f"Attestations are not currently supported with {publisher.kind} publishers"
            )
        attestations = _parse_attestations(text, refuse)
        if not self.verifiers:
            raise refuse(
                "Could not verify the uploaded artifact using the included attestation:"
                " this index has no Sigstore trust root configured, so it cannot verify"
                " attestations (upload without them, or ask the index's administrator to"
                " configure a trust root)"
            )
        try:
            dist = Distribution(filename, sha256)
        except InputError as exc:
            raise refuse(
                "Could not verify the uploaded artifact using the included attestation:"
                f" Verification failed: {exc.reason}"
            ) from None
        seen: set[str] = set()
        count = len(attestations)
        for i, attestation in enumerate(attestations):
            errors: list[str] = []
            predicate_type: str | None = None
            for verifier in self.verifiers:
                try:
                    predicate_type = verifier.verify(attestation, publisher, dist).predicate_type
                    break
                except (VerificationError, InputError) as exc:
                    errors.append(exc.reason)
                except Exception as exc:  # a bug or an unexpected input: a 400, not a 500
                    logger.exception("unexpected error verifying attestation %d of %s", i, filename)
                    raise refuse(
                        f"Unknown error while trying to verify included attestations: {exc}"
                    ) from None
            if predicate_type is None:
                which = f" (attestation {i + 1} of {count})" if count > 1 else ""
                raise refuse(
                    "Could not verify the uploaded artifact using the included attestation:"
                    f" Verification failed: {errors[0]}{which}"
                )
            if predicate_type not in ACCEPTED_PREDICATE_TYPES:
                raise refuse(f"Attestation with unsupported predicate type: {predicate_type}")
            if predicate_type in seen:
                raise refuse(
                    "Multiple attestations for the same file with the same predicate type"
                    f" ({predicate_type}) are not supported"
                )
            seen.add(predicate_type)
        return {
            "version": 1,
            "attestation_bundles": [
                {
                    "publisher": publisher.to_dict(),
                    "attestations": [a.to_dict() for a in attestations],
                }
            ],
        }

    # -- recording (step 22) ------------------------------------------------------------
    def _store(
        self,
        *,
        identity: Identity,
        project_id: int | None,
        meta: Metadata,
        raw: RawMetadata,
        upload_form: UploadForm,
        filename: str,
        stored: _Stored,
        metadata_bytes: bytes | None,
        provenance: dict[str, Any] | None,
        attestations_text: str | None,
        urls: _Urls,
        arrival: dt.datetime,
    ) -> Response:
        """Write the file to the store, then record it in one transaction."""
        store = self.index.store
        relative = store.relative_path(stored.blake2_256, filename)
        metadata_relative = f"{relative}.metadata"
        metadata_sha256 = hashlib.sha256(metadata_bytes).hexdigest() if metadata_bytes else None
        stored_name = f"{filename}.metadata" if metadata_bytes is not None else filename
        if len(filename) > MAX_FILENAME or len(stored_name.encode()) > MAX_FILENAME:
            raise UploadError(400, f"Filename is too long: {filename!r}")
        target = store.path(relative)
        with _directory_lock(target.parent):
            # Another upload of this content may have finished while we waited.
            if self._is_duplicate(filename, stored, urls):
                return _identical_response(attestations_text is not None)
            store.put(relative, data_path=stored.path)
            if metadata_bytes is not None:
                store.put(metadata_relative, data=metadata_bytes)
            try:
                for attempt in range(_TRANSACTION_ATTEMPTS):
                    try:
                        self._record(
                            identity=identity,
                            project_id=project_id,
                            meta=meta,
                            raw=raw,
                            upload_form=upload_form,
                            filename=filename,
                            stored=stored,
                            relative=relative,
                            metadata_sha256=metadata_sha256,
                            provenance=provenance,
                            attestations_text=attestations_text,
                            urls=urls,
                            arrival=arrival,
                        )
                        return Response(status_code=200)
                    except _IdenticalFileError:
                        return _identical_response(attestations_text is not None)
                    except IntegrityError:
                        # A concurrent upload won a race: the same file (200), a
                        # conflicting one (400), or a new project or release (retry).
                        logger.info("upload of %s lost a race (attempt %d)", filename, attempt + 1)
                        if self._is_duplicate(filename, stored, urls):
                            return _identical_response(attestations_text is not None)
                        if project_id is None:
                            project_id = self._created_project(identity, meta)
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

    def _created_project(self, identity: Identity, meta: Metadata) -> int | None:
        """After a lost race to create a project: the project, if we may upload to it."""
        with self.index.session() as session:
            project = admin.find_project(session, meta.name)
            if project is None:
                return None
            if not may_upload(session, identity, project):
                raise UploadError(
                    409, f"The name {meta.name!r} conflicts with an existing project."
                )
            return project.id

    def _record(
        self,
        *,
        identity: Identity,
        project_id: int | None,
        meta: Metadata,
        raw: RawMetadata,
        upload_form: UploadForm,
        filename: str,
        stored: _Stored,
        relative: str,
        metadata_sha256: str | None,
        provenance: dict[str, Any] | None,
        attestations_text: str | None,
        urls: _Urls,
        arrival: dt.datetime,
    ) -> None:
        """The one write transaction of an upload."""
        limit = self.index.config.max_project_size
        with self.index.session() as session:
            if project_id is None:
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
                    .where(Project.id == project_id, Project.total_size + stored.size <= limit)
                    .values(serial=Project.serial + 1, total_size=Project.total_size + stored.size)
                )
                project_row = session.get(Project, project_id)
                if project_row is None:
                    raise UploadError(409, "The project was deleted during the upload.")
                project = project_row
                if getattr(result, "rowcount", 1) == 0:
                    raise _project_too_large(project.name, limit, urls)
                if project.name != meta.name:
                    project.name = meta.name  # the display name follows Name (step 9)
            existing = _find_duplicate(session, filename, stored.blake2_256)
            if existing is not None:
                if _is_identical(existing, filename, stored):
                    raise _IdenticalFileError
                raise _already_exists(filename, stored.blake2_256, urls)
            release = _find_release(session, project.id, meta)
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
                _check_release_rules(session, release, upload_form, arrival)
            file = File(
                release_id=release.id,
                filename=filename,
                packagetype=upload_form.filetype,
                python_version=upload_form.pyversion,
                size=stored.size,
                md5=stored.md5,
                sha256=stored.sha256,
                blake2_256=stored.blake2_256,
                path=relative,
                metadata_sha256=metadata_sha256,
                requires_python=raw.get("requires_python"),
                uploaded_via_trusted_publisher=identity.publisher is not None,
                publisher_url=_publisher_url(identity.publisher, identity.token),
            )
            session.add(file)
            session.flush()
            if provenance is not None:
                assert attestations_text is not None
                session.add(
                    Provenance(
                        file_id=file.id, provenance=provenance, uploaded_json=attestations_text
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


# -- helpers --------------------------------------------------------------------------


def _limited_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`_BodyTooLargeError` once the body exceeds ``limit``."""
    total = 0

    async def wrapped() -> Message:
        nonlocal total
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > limit:
                raise _BodyTooLargeError
        return message

    return wrapped


def _sanitize(form: FormData) -> tuple[dict[str, list[str]], dict[str, list[UploadFile]]]:
    """PyPI's ``sanitize``: drop ``UNKNOWN`` values, escape NUL, refuse stray file parts."""
    fields: dict[str, list[str]] = {}
    files: dict[str, list[UploadFile]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            if value.strip() == "UNKNOWN":
                continue
            fields.setdefault(key, []).append(value.replace("\x00", "\\x00"))
        else:
            if key not in _FILE_FIELDS:
                raise UploadError(400, f"{key}: Should not be a tuple.")
            files.setdefault(key, []).append(value)
    return fields, files


def _first(fields: Mapping[str, Sequence[str]], key: str) -> str:
    values = fields.get(key) or []
    return values[0] if values else ""


def _first_or_none(fields: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = fields.get(key) or []
    return values[0] if values else None


def _size(limit: int) -> str:
    return f"{limit // MiB} MB" if limit >= MiB else f"{limit} bytes"


def _project_too_large(name: str, limit: int, urls: _Urls) -> UploadError:
    shown = f"{limit // GiB} GB" if limit >= GiB else _size(limit)
    return UploadError(
        400,
        f"Project size too large. Limit for project {name!r} total size is {shown}."
        f" See {urls.docs}/project-management/storage-limits"
        "#requesting-a-project-size-limit-increase",
    )


def _check_filename(filename: str, filetype: str) -> None:
    """Step 12: printable, no path separators, an extension allowed for the file type."""
    if any(ord(c) < 32 or ord(c) == 127 for c in filename):
        raise UploadError(
            400,
            "Cannot upload a file with non-printable characters (ordinals 0-31) or the DEL"
            " character (ordinal 127) in the name.",
        )
    if "/" in filename or "\\" in filename:
        raise UploadError(400, "Cannot upload a file with '/' or '\\' in the name.")
    match = _DIST_FILE.match(filename)
    if match is None:
        raise UploadError(
            400,
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. See"
            " https://www.python.org/dev/peps/pep-0527 and https://peps.python.org/pep-0715/"
            " for more information",
        )
    extension = match.group("extension")
    if extension not in _EXTENSIONS[filetype]:
        raise UploadError(
            400,
            f"Invalid file extension: Extension {extension} is invalid for filetype"
            f" {filetype}. See https://www.python.org/dev/peps/pep-0527 for more information.",
        )


def _check_digests(form: UploadForm, stored: _Stored) -> None:
    """Step 15: every supplied digest must match (constant-time, case-insensitive)."""
    for supplied, actual in (
        (form.md5_digest, stored.md5),
        (form.sha256_digest, stored.sha256),
        (form.blake2_256_digest, stored.blake2_256),
    ):
        if supplied is not None and not hmac.compare_digest(
            supplied.lower().encode("utf-8", "replace"), actual.encode()
        ):
            raise UploadError(
                400,
                "The digest supplied does not match a digest calculated from the uploaded file.",
            )


def _find_duplicate(session: Session, filename: str, blake2_256: str) -> File | None:
    return session.scalar(
        select(File).where(or_(File.filename == filename, File.blake2_256 == blake2_256)).limit(1)
    )


def _is_identical(existing: File, filename: str, stored: _Stored) -> bool:
    return (
        existing.filename == filename
        and existing.sha256 == stored.sha256
        and existing.blake2_256 == stored.blake2_256
    )


def _already_exists(filename: str, blake2_256: str, urls: _Urls) -> UploadError:
    return UploadError(
        400,
        f"File already exists ({filename!r}, with blake2_256 hash {blake2_256!r})."
        f" See {urls.help}#file-name-reuse for more information.",
    )


def _identical_response(attestations_sent: bool) -> Response:
    text = "This file was already uploaded with identical contents; nothing was changed."
    if attestations_sent:
        text += (
            " The attestations sent with this upload were NOT examined or stored: a file's"
            " provenance is recorded only when the file is first uploaded."
        )
    return PlainTextResponse(text + "\n", status_code=200)


def _find_release(session: Session, project_id: int, meta: Metadata) -> Release | None:
    return session.scalar(
        select(Release).where(
            Release.project_id == project_id,
            Release.canonical_version == canonicalize_version(meta.version),
        )
    )


def _check_release_rules(
    session: Session, release: Release, form: UploadForm, now: dt.datetime
) -> None:
    if as_utc(release.created) < now - RELEASE_UPLOAD_WINDOW:
        raise UploadError(400, "Uploading new files to releases older than 14 days is not allowed.")
    if form.filetype == "sdist":
        sdist = session.scalar(
            select(File.id)
            .where(File.release_id == release.id, File.packagetype == "sdist")
            .limit(1)
        )
        if sdist is not None:
            raise UploadError(400, "Only one sdist may be uploaded per release.")


def _parse_attestations(text: str, refuse: Any) -> list[Attestation]:
    """§3 rows 3-5: a JSON array of one or two well-formed attestations."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise refuse(f"Malformed attestations: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise refuse(
            "Malformed attestations: expected a JSON array of attestations, got"
            f" {type(data).__name__ if data is not None else 'null'}"
        )
    attestations = []
    for i, item in enumerate(data):
        try:
            attestations.append(Attestation.from_dict(item, what=f"attestations[{i}]"))
        except InputError as exc:
            raise refuse(f"Malformed attestations: {exc.reason}") from None
    if not attestations:
        raise refuse("Malformed attestations: an empty attestation set is not permitted")
    if len(attestations) > 2:
        raise refuse("A maximum of 2 attestations per file are supported")
    return attestations


def _publisher_url(publisher: TrustedPublisher | None, token: ApiToken) -> str | None:
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


_THREAD_LOCK = threading.Lock()


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
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
