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

import datetime as dt
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.metadata import Metadata
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from attestkit.index import admin
from attestkit.index.db import (
    Project,
    utcnow,
)
from attestkit.index.instance import Index
from attestkit.index.provenance import AttestationsRefusedError
from attestkit.index.reasons import MessageResponse, UploadError
from attestkit.index.upload.archives import check_sdist, check_wheel, inspect_archive
from attestkit.index.upload.auth import (
    Identity,
    authenticate,
    caveat_failure,
    may_upload,
)
from attestkit.index.upload.metadata import UploadForm, parse_metadata, validate_form
from attestkit.index.upload.model import Upload
from attestkit.index.upload.receive import BodyTooLargeError, limited_receive, receive_file
from attestkit.index.upload.store import (
    Recorder,
    duplicate_in,
    is_duplicate,
)
from attestkit.index.upload.validate import (
    MiB,
    Urls,
    check_digests,
    check_filename,
    check_release_rules,
    find_release,
    first,
    first_or_none,
    identical_response,
    project_too_large,
    sanitize,
    size_text,
)

__all__ = ["UploadHandler", "routes"]

logger = logging.getLogger(__name__)

#: Largest non-file form part kept in memory (description, attestations, ...).
MAX_FIELD_SIZE = 8 * MiB
#: Request body allowed beyond the file size limit (the other form fields).
BODY_ALLOWANCE = 32 * MiB
_CHUNK = 1 * MiB
_TRANSACTION_ATTEMPTS = 3


def routes(index: Index) -> list[BaseRoute]:
    """The upload routes: ``POST /legacy/``, and ``POST /legacy`` (a 308 to it)."""
    handler = UploadHandler(index)
    return [
        Route("/legacy/", handler.upload, methods=["POST"]),
        Route("/legacy", handler.redirect, methods=["POST"]),
    ]


class UploadHandler:
    """The upload endpoint for one index (its verifiers are built once)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.recorder = Recorder(index)
        self.incoming = Path(index.config.data_dir) / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    # -- HTTP ------------------------------------------------------------------------
    def _urls(self, request: Request) -> Urls:
        base = (self.index.config.base_url or str(request.base_url)).rstrip("/")
        return Urls(help=f"{base}/help", docs=f"{base}/docs")

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
                raise BodyTooLargeError("request body too large")
            limited = Request(request.scope, limited_receive(request.receive, limit))
            try:
                form = await limited.form(
                    max_files=10, max_fields=10_000, max_part_size=MAX_FIELD_SIZE
                )
            except HTTPException as exc:
                return MessageResponse(400, f"Invalid upload form: {exc.detail}")
        except BodyTooLargeError:
            return MessageResponse(
                413,
                "Request body too large: files are limited to"
                f" {size_text(self.index.config.max_file_size)} on this index.",
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
        urls: Urls,
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
        fields, files = sanitize(form)

        with self.index.session() as session:  # steps 0-6 read in one transaction
            identity = authenticate(session, authorization, urls.help)
            # 1. protocol version
            if (first(fields, "protocol_version") or "1") != "1":
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
            project_id, project_name, normalized = self._authorize(
                session, identity, meta, arrival, urls
            )

        filename = content.filename or ""
        check_filename(filename, upload_form.filetype)  # 12.
        # 13. PyPI's form parser reads a part without a Content-Type header as text/plain
        # (uv publish sends none); an explicitly empty or image/* type is refused.
        content_type = content.headers.get("content-type", "text/plain")
        if not content_type or content_type.startswith("image/"):
            raise UploadError(400, "Invalid distribution file.")

        stored = receive_file(  # 14.
            content, self.incoming, self.index.config.max_file_size, project_name, urls
        )
        upload = Upload(
            identity=identity,
            arrival=arrival,
            urls=urls,
            form=upload_form,
            meta=meta,
            raw=raw,
            filename=filename,
            project_id=project_id,
            project_name=project_name,
            normalized=normalized,
            stored=stored,
            attestations_text=first_or_none(fields, "attestations"),
        )
        try:
            return self._validate_verify_record(upload)
        finally:
            stored.path.unlink(missing_ok=True)

    def _validate_verify_record(self, upload: Upload) -> Response:
        """Steps 14-22 for a received file: validate, verify the attestations, record."""
        stored, filename, urls = upload.stored, upload.filename, upload.urls
        sent = upload.attestations_text is not None
        refused: UploadError | None = None
        with self.index.session() as session:  # steps 14-18 read in one transaction
            self._check_size(session, upload.project_id, upload.project_name, stored.size, urls)
            check_digests(upload.form, stored)  # 15.
            if duplicate_in(session, filename, stored, urls):  # 16.
                return identical_response(sent)
            try:
                self._check_release(
                    session, upload.project_id, upload.meta, upload.form, upload.arrival
                )
            except UploadError as exc:  # 17.-18.
                refused = exc
        if refused is not None:
            # A concurrent upload of this very file may have landed since step 16:
            # then the duplicate (or identical) answer is the one that applies.
            if is_duplicate(self.index, filename, stored, urls):
                return identical_response(sent)
            raise refused

        # 19.-20. the archive, then the sdist or wheel rules
        info = inspect_archive(stored.path, filename, urls.docs)
        license_files = list(upload.raw.get("license_files", []))
        names = (filename, upload.project_name, upload.normalized, upload.meta.version)
        if upload.form.filetype == "sdist":
            check_sdist(info, *names, license_files)
        else:
            upload = replace(upload, metadata_bytes=check_wheel(info, *names, license_files))

        # 21. attestations
        if upload.attestations_text is not None:
            upload = replace(upload, provenance=self._provenance(upload))

        # 22. store, then record
        return self.recorder.record(upload)

    def _provenance(self, upload: Upload) -> dict[str, Any]:
        """Step 21: the provenance of verified attestations (PyPI's rules and messages)."""
        prefix = "Invalid attestations supplied during upload: "
        publisher_row = upload.identity.publisher
        if publisher_row is None:
            raise UploadError(
                400,
                prefix + "Attestations are only supported when using Trusted Publishing (this"
                " upload used an API token: upload from a Trusted Publisher, or drop the"
                " attestations)",
            )
        publisher = admin.publisher_object(publisher_row)
        if not publisher.supported:
            raise UploadError(
                400,
                prefix
                + f"Attestations are not currently supported with {publisher.kind} publishers",
            )
        assert upload.attestations_text is not None
        try:
            return self.index.provenance.verify_upload(
                upload.attestations_text, publisher, upload.filename, upload.stored.sha256
            )
        except AttestationsRefusedError as exc:
            raise UploadError(400, prefix + exc.reason) from None

    def _authorize(
        self,
        session: Session,
        identity: Identity,
        meta: Metadata,
        arrival: dt.datetime,
        urls: Urls,
    ) -> tuple[int | None, str, str]:
        """Steps 5-6: ``(project id or None if it will be created, display name, normalized)``."""
        normalized = admin.normalize(meta.name)
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
        if project.status in {"archived", "quarantined"}:
            # PEP 792: an archived project takes no new files; a quarantined one
            # offers none.  (The owner sets the status back to active first.)
            raise UploadError(
                400, f"Project '{project.name}' is {project.status}: uploads are not accepted."
            )
        return project.id, project.name, project.normalized_name

    def _check_size(
        self, session: Session, project_id: int | None, project_name: str, size: int, urls: Urls
    ) -> None:
        """Step 14, the project's total size (re-checked atomically when recording)."""
        total = 0
        if project_id is not None:
            total = session.scalar(select(Project.total_size).where(Project.id == project_id)) or 0
        if total + size > self.index.config.max_project_size:
            raise project_too_large(project_name, self.index.config.max_project_size, urls)

    def _check_release(
        self,
        session: Session,
        project_id: int | None,
        meta: Metadata,
        form: UploadForm,
        arrival: dt.datetime,
    ) -> None:
        """Steps 17-18: the release's age and its single sdist."""
        if project_id is None:
            return
        release = find_release(session, project_id, meta)
        if release is None:
            return
        check_release_rules(session, release, form, arrival)


# -- helpers --------------------------------------------------------------------------
