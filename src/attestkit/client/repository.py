"""An index's upload endpoint: URL rules, the HTTP session, the upload POST, PEP 740 support.

One :func:`new_session` (Basic auth, twine-like ``User-Agent``) serves every
request to the index.  :func:`upload_one` sends one planned distribution
with retries: 5xx answers and connection errors are retried with exponential
backoff (``backoff``, ``2 * backoff``, ...), at most ``retries`` times; 4xx
answers are final; redirects are not followed; ``skip_existing`` accepts a
409, or a 400 whose reason phrase or body says "already exist(s)"; messages
carry the reason phrase and the body, with the password redacted.
:func:`attestations_supported` asks the index whether it takes PEP 740
attestations.
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from attestkit._version import __version__
from attestkit.client.multipart import MultipartBody
from attestkit.core.constants import INDEX_HOST, TEST_INDEX_HOST

if TYPE_CHECKING:
    from attestkit.client.package import PlannedUpload

__all__ = [
    "ProgressCallback",
    "RetryCallback",
    "Status",
    "UploadResult",
    "attestations_supported",
    "new_session",
    "safe_url",
    "strip_userinfo",
    "upload_one",
]

Status = Literal["uploaded", "skipped", "failed"]
ProgressCallback = Callable[[Path, int, int], None]
RetryCallback = Callable[[Path, int, float, str], None]


@dataclass(frozen=True)
class UploadResult:
    """The outcome for one distribution."""

    dist: Path
    status: Status
    http_status: int | None
    message: str
    attempts: int = 0
    attestations: int = 0


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without ``user:password@``, and the user and password it carried.

    Raises :class:`attestkit.client.credentials.UploadConfigError` for a URL
    that is not ``http(s)://host...``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        from attestkit.client.credentials import UploadConfigError

        raise UploadConfigError(
            f"invalid repository URL {safe_url(url)!r}: needs http(s):// and a host"
        )
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), parts.username, parts.password


def safe_url(url: str) -> str:
    """``url`` with any userinfo removed (for messages)."""
    return re.sub(r"//[^/@]*@", "//", url)


def new_session(username: str | None = None, password: str = "") -> Any:
    """A ``requests.Session`` with attestkit's ``User-Agent`` (and Basic auth, given a username)."""
    import requests

    session = requests.Session()
    session.trust_env = True
    if username is not None:
        session.auth = (username, password)
    session.headers["User-Agent"] = (
        f"attestkit/{__version__} {platform.python_implementation()}/{platform.python_version()}"
    )
    return session


def _message(response: Any, password: str) -> str:
    """Reason phrase and body, on one line each, with the password redacted."""
    reason = response.reason or "Unknown Status"
    body = (response.text or "").strip()
    text = f"{response.status_code} {reason}"
    if body and body != reason:
        text += f": {body}"
    return _redact(text, password)


def _redact(text: str, password: str) -> str:
    return text.replace(password, "<hidden>") if password else text


def _already_exists(response: Any) -> bool:
    if response.status_code == 409:
        return True
    if response.status_code != 400:
        return False
    return "already exist" in f"{response.reason} {response.text}".lower()


def _redirect_message(url: str, response: Any) -> str:
    location = response.headers.get("Location", "")
    text = (
        f"{url} attempted to redirect to {location or '(no Location)'}; redirects are not followed."
    )
    if location.rstrip("/") == url.rstrip("/") or location == url + "/":
        text += " Your repository URL is missing a trailing slash: add it and try again."
    else:
        text += f" If you trust this URL, use {location} as the repository URL and try again."
    return text


def attestations_supported(
    url: str, session: Any, timeout: float, *, auth: tuple[str, str] | None = None
) -> bool:
    """Whether the index behind upload ``url`` takes PEP 740 attestations.

    PyPI and TestPyPI do; any other index is asked for its Simple API
    version: PEP 740 arrived with api-version 1.3.
    """
    import requests

    parts = urlsplit(url)
    if parts.hostname in {INDEX_HOST, f"upload.{INDEX_HOST}", TEST_INDEX_HOST}:
        return True
    try:
        response = session.get(
            f"{parts.scheme}://{parts.netloc}/simple/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=timeout,
            auth=auth,
        )
        version = response.json()["meta"]["api-version"]
        major, minor = (int(x) for x in str(version).split(".")[:2])
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    return (major, minor) >= (1, 3)


def upload_one(
    session: Any,
    url: str,
    job: PlannedUpload,
    *,
    password: str,
    auth: tuple[str, str] | None = None,
    skip_existing: bool,
    retries: int,
    timeout: float,
    backoff: float,
    on_progress: ProgressCallback | None,
    on_retry: RetryCallback | None,
) -> UploadResult:
    """POST ``job`` to ``url`` with retries; the outcome (never raises for HTTP errors).

    ``auth`` (``(username, password)``) goes with each request, overriding the
    session's; ``password`` is redacted from messages.
    """
    import requests

    attempt = 0
    count = len(job.attestations)
    while True:
        attempt += 1

        def report(sent: int, total: int) -> None:
            if on_progress is not None:
                on_progress(job.path, sent, total)

        body = MultipartBody(job.fields, job.path, report)
        retry_reason: str
        try:
            response = session.post(
                url,
                data=body,
                headers={"Content-Type": body.content_type, "Content-Length": str(len(body))},
                allow_redirects=False,
                timeout=timeout,
                auth=auth,
            )
        except requests.RequestException as exc:
            retry_reason = _redact(f"connection error: {type(exc).__name__}: {exc}", password)
            status: int | None = None
        else:
            status = response.status_code
            try:
                if 200 <= status < 300:
                    return UploadResult(
                        job.path, "uploaded", status, f"{status} {response.reason}", attempt, count
                    )
                if 300 <= status < 400:
                    return UploadResult(
                        job.path, "failed", status, _redirect_message(url, response), attempt
                    )
                message = _message(response, password)
                if skip_existing and _already_exists(response):
                    return UploadResult(job.path, "skipped", status, message, attempt)
                if status < 500:
                    return UploadResult(job.path, "failed", status, message, attempt)
                retry_reason = message
            finally:
                response.close()
        if attempt > retries:
            return UploadResult(job.path, "failed", status, retry_reason, attempt)
        delay = backoff * (2 ** (attempt - 1))
        if on_retry is not None:
            on_retry(job.path, attempt, delay, retry_reason)
        time.sleep(delay)
