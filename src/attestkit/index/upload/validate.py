"""The upload rules that need no HTTP: form fields, file names, digests, duplicates, releases.

Each check raises :class:`~attestkit.index.reasons.UploadError` with PyPI's status
and message (warehouse ``warehouse/forklift/legacy.py``); the step numbers in
docstrings follow that file's order."""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import Metadata
from packaging.utils import canonicalize_version
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import PlainTextResponse, Response

from attestkit.index.db import (
    File,
    Release,
)
from attestkit.index.reasons import UploadError
from attestkit.index.upload.auth import (
    as_utc,
)
from attestkit.index.upload.metadata import UploadForm, first

__all__ = [
    "DIST_FILE",
    "EXTENSIONS",
    "FILE_FIELDS",
    "MAX_FILENAME",
    "RELEASE_UPLOAD_WINDOW",
    "GiB",
    "MiB",
    "StoredFile",
    "Urls",
    "already_exists",
    "check_digests",
    "check_filename",
    "check_release_rules",
    "find_duplicate",
    "find_release",
    "first",
    "first_or_none",
    "identical_response",
    "is_identical",
    "previously_deleted",
    "project_too_large",
    "reused_filename",
    "sanitize",
    "size_text",
]

MiB = 1024 * 1024


GiB = 1024 * MiB


#: A release accepts new files for this long after it was created (PyPI's rule).
RELEASE_UPLOAD_WINDOW = dt.timedelta(days=14)


#: Longest stored file name (the database column, and NAME_MAX of common file systems).
MAX_FILENAME = 255


DIST_FILE = re.compile(r".+?(?P<extension>\.(tar\.gz|zip|whl))\Z", re.IGNORECASE)


EXTENSIONS = {"sdist": {".tar.gz", ".zip"}, "bdist_wheel": {".whl"}}


FILE_FIELDS = {"content", "gpg_signature"}


@dataclass(frozen=True)
class Urls:
    help: str
    docs: str


@dataclass
class StoredFile:
    """The uploaded file, copied out of the request and hashed."""

    path: Path
    size: int
    md5: str
    sha256: str
    blake2_256: str


def sanitize(form: FormData) -> tuple[dict[str, list[str]], dict[str, list[UploadFile]]]:
    """PyPI's ``sanitize``: drop ``UNKNOWN`` values, escape NUL, refuse stray file parts."""
    fields: dict[str, list[str]] = {}
    files: dict[str, list[UploadFile]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            if value.strip() == "UNKNOWN":
                continue
            fields.setdefault(key, []).append(value.replace("\x00", "\\x00"))
        else:
            if key not in FILE_FIELDS:
                raise UploadError(400, f"{key}: Should not be a tuple.")
            files.setdefault(key, []).append(value)
    return fields, files


def first_or_none(fields: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = fields.get(key) or []
    return values[0] if values else None


def size_text(limit: int) -> str:
    return f"{limit // MiB} MB" if limit >= MiB else f"{limit} bytes"


def project_too_large(name: str, limit: int, urls: Urls) -> UploadError:
    shown = f"{limit // GiB} GB" if limit >= GiB else size_text(limit)
    return UploadError(
        400,
        f"Project size too large. Limit for project {name!r} total size is {shown}."
        f" See {urls.docs}/project-management/storage-limits"
        "#requesting-a-project-size-limit-increase",
    )


def check_filename(filename: str, filetype: str) -> None:
    """Step 12: printable, no path separators, an extension allowed for the file type."""
    if any(ord(c) < 32 or ord(c) == 127 for c in filename):
        raise UploadError(
            400,
            "Cannot upload a file with non-printable characters (ordinals 0-31) or the DEL"
            " character (ordinal 127) in the name.",
        )
    if "/" in filename or "\\" in filename:
        raise UploadError(400, "Cannot upload a file with '/' or '\\' in the name.")
    match = DIST_FILE.match(filename)
    if match is None:
        raise UploadError(
            400,
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. See"
            " https://www.python.org/dev/peps/pep-0527 and https://peps.python.org/pep-0715/"
            " for more information",
        )
    extension = match.group("extension")
    if extension not in EXTENSIONS[filetype]:
        raise UploadError(
            400,
            f"Invalid file extension: Extension {extension} is invalid for filetype"
            f" {filetype}. See https://www.python.org/dev/peps/pep-0527 for more information.",
        )


def check_digests(form: UploadForm, stored: StoredFile) -> None:
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


def find_duplicate(session: Session, filename: str, blake2_256: str) -> File | None:
    return session.scalar(
        select(File).where(or_(File.filename == filename, File.blake2_256 == blake2_256)).limit(1)
    )


def previously_deleted(session: Session, filename: str) -> bool:
    """Whether a file of this name was deleted (its name is never accepted again)."""
    from attestkit.index.db import DeletedFilename

    return session.get(DeletedFilename, filename) is not None


def reused_filename(urls: Urls) -> UploadError:
    return UploadError(
        400,
        "This filename was previously used by a file that has since been deleted. Use a"
        f" different version. See {urls.help}#file-name-reuse for more information.",
    )


def is_identical(existing: File, filename: str, stored: StoredFile) -> bool:
    return (
        existing.filename == filename
        and existing.sha256 == stored.sha256
        and existing.blake2_256 == stored.blake2_256
    )


def already_exists(filename: str, blake2_256: str, urls: Urls) -> UploadError:
    return UploadError(
        400,
        f"File already exists ({filename!r}, with blake2_256 hash {blake2_256!r})."
        f" See {urls.help}#file-name-reuse for more information.",
    )


def identical_response(attestations_sent: bool) -> Response:
    text = "This file was already uploaded with identical contents; nothing was changed."
    if attestations_sent:
        text += (
            " The attestations sent with this upload were NOT examined or stored: a file's"
            " provenance is recorded only when the file is first uploaded."
        )
    return PlainTextResponse(text + "\n", status_code=200)


def find_release(session: Session, project_id: int, meta: Metadata) -> Release | None:
    return session.scalar(
        select(Release).where(
            Release.project_id == project_id,
            Release.canonical_version == canonicalize_version(meta.version),
        )
    )


def check_release_rules(
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
