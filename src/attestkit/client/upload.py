"""The ``upload`` command's flow: plan every input, then send the files one by one.

The request is the one twine 7 sends: ``POST <repository URL>``, HTTP Basic
auth, ``multipart/form-data`` with the core metadata read from the file,
``pyversion``/``filetype``, ``sha256_digest``, ``attestations`` (a JSON array
as text), ``blake2_256_digest``, ``:action=file_upload``, ``protocol_version=1``
and finally the ``content`` file part.

Every input is read and checked before the first request
(:func:`attestkit.client.package.plan`), so an input error never leaves a
half-uploaded release.  Differences from twine:

* 5xx responses and connection errors are retried with exponential backoff
  (0.5 s, 1 s, 2 s, ...), at most ``retries`` times; 4xx answers are final.
* ``skip_existing`` works on any index: a 409, or a 400 whose reason phrase or
  body says "already exist(s)", is reported as skipped.
* Error messages carry both the reason phrase and the response body.
* Attestations are found next to each distribution (``<dist>.<kind>.attestation``),
  parsed, and checked to name the same file (equivalent name, equal SHA-256).
  They are sent only to an index that takes them: PyPI and TestPyPI, or one
  whose Simple API announces api-version 1.3 or later (PEP 740).  To any
  other index the files go up without them, and ``on_warning`` says so.

The pieces live apart: :mod:`~attestkit.client.package` (inputs, metadata,
digests, attestations), :mod:`~attestkit.client.credentials` (``.pypirc``,
environment, keyring), :mod:`~attestkit.client.repository` (session, POST
with retries, PEP 740 probe) and :mod:`~attestkit.client.multipart` (the body).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from attestkit.client.credentials import (
    PYPI_UPLOAD_URL,
    TESTPYPI_UPLOAD_URL,
    Credentials,
    UploadConfigError,
    env_flag,
    read_pypirc,
    resolve_credentials,
)
from attestkit.client.package import PlannedUpload, UploadInputError, plan
from attestkit.client.repository import (
    ProgressCallback,
    RetryCallback,
    UploadResult,
    attestations_supported,
    new_session,
    safe_url,
    strip_userinfo,
    upload_one,
)

__all__ = [
    "PYPI_UPLOAD_URL",
    "TESTPYPI_UPLOAD_URL",
    "Credentials",
    "PlannedUpload",
    "UploadConfigError",
    "UploadInputError",
    "UploadResult",
    "attestations_supported",
    "env_flag",
    "plan",
    "read_pypirc",
    "resolve_credentials",
    "upload",
]


def upload(
    dists: Sequence[str | os.PathLike[str]],
    *,
    repository_url: str,
    username: str,
    password: str,
    attestations: bool,
    skip_existing: bool,
    retries: int = 5,
    timeout: float = 30,
    on_progress: ProgressCallback | None = None,
    on_retry: RetryCallback | None = None,
    backoff: float = 0.5,
    planned: Sequence[PlannedUpload] | None = None,
    on_warning: Callable[[str], None] | None = None,
    session: Any = None,
) -> list[UploadResult]:
    """Upload ``dists`` in order; stop at the first failure.

    Attestations are sent only to an index that takes them: PyPI and TestPyPI,
    or one whose Simple API announces PEP 740 (api-version 1.3 or later);
    otherwise the files go up without them and ``on_warning`` says so.

    Inputs are checked first (:func:`plan`, raising :class:`UploadInputError`
    before anything is sent).  Files after a failed one are reported as
    ``failed`` with ``http_status`` ``None`` and "not attempted".
    ``on_progress(dist, bytes_sent, total)`` follows each request body;
    ``on_retry(dist, attempt, delay, reason)`` is called before each retry.
    ``session`` (from :func:`attestkit.client.repository.new_session`) is used
    and left open when given; otherwise one is made for this call and closed.
    The credentials go with each request, not into a given session.
    """
    url, url_user, url_password = strip_userinfo(repository_url)
    username = username or url_user or "__token__"
    password = password or url_password or ""
    jobs = list(planned) if planned is not None else plan(dists, attestations=attestations)
    own_session = session is None
    if own_session:
        session = new_session(username, password)
    auth = (username, password)
    attested = any(job.attestations for job in jobs)
    if attested and not attestations_supported(url, session, timeout, auth=auth):
        if on_warning is not None:
            on_warning(
                f"{safe_url(url)} does not announce support for PEP 740 attestations"
                " (Simple API 1.3 or later): uploading without them"
            )
        jobs = [job.without_attestations() for job in jobs]
    results: list[UploadResult] = []
    try:
        for number, job in enumerate(jobs):
            result = upload_one(
                session,
                url,
                job,
                password=password,
                auth=auth,
                skip_existing=skip_existing,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
                on_progress=on_progress,
                on_retry=on_retry,
            )
            results.append(result)
            if result.status == "failed":
                results.extend(
                    UploadResult(j.path, "failed", None, "not attempted: an earlier upload failed")
                    for j in jobs[number + 1 :]
                )
                break
    finally:
        if own_session:
            session.close()
    return results
