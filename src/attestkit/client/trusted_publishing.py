"""Trusted Publishing from the client side: the index's audience, the CI's OIDC token, the mint.

The exchange warehouse implements in ``warehouse/oidc/views.py``, with the
guidance of pypa/gh-action-pypi-publish: the audience is read from
``{origin}/_/oidc/audience`` (403: Trusted Publishing disabled, 404: not
supported); an OIDC token for it comes from the CI platform through ``id``
(GitHub Actions, Google Cloud, Buildkite, GitLab CI, CircleCI), and when none
is available the error says what to configure on each platform; the token is
exchanged at ``{origin}/_/oidc/mint-token``, and a refusal lists each
``code: description`` and the token's identifying claims (never the token).
Requests are retried on 5xx answers and connection errors with exponential
backoff; every request has a timeout.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attestkit.core.providers import github, gitlab
from attestkit.errors import AttestkitError

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "GITHUB_CLAIMS",
    "GITLAB_CLAIMS",
    "AudienceError",
    "MintRefusedError",
    "MintedToken",
    "NoOidcTokenError",
    "PublishError",
    "PublishInputError",
    "TokenSource",
    "claim_lines",
    "get_audience",
    "index_origin",
    "mint_token",
    "oidc_guidance",
    "oidc_token",
    "reusable_workflow_warning",
    "unverified_claims",
]

#: Claims shown when an exchange fails (gh-action-pypi-publish's list for GitHub).
GITHUB_CLAIMS = github.TOKEN_CLAIMS
GITLAB_CLAIMS = gitlab.TOKEN_CLAIMS
_OTHER_CLAIMS = ("iss", "sub", "email")

#: PyPI's minted tokens live 900 s; assumed when the index gives no ``expires``.
DEFAULT_TOKEN_LIFETIME = 900

TokenSource = Callable[[str], "str | None"]


class PublishError(AttestkitError):
    """Publishing stopped before any upload; ``lines`` is the full explanation."""

    #: ``attestkit publish`` exit code: 1 refused/failed, 2 configuration or input.
    exit_code = 1

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        super().__init__(self.lines[0] if self.lines else "publishing failed")


class PublishInputError(PublishError):
    """Inputs that cannot be published (nothing was contacted)."""

    exit_code = 2


class AudienceError(PublishError):
    """The index's Trusted Publishing audience could not be read."""


class NoOidcTokenError(PublishError):
    """No OIDC token for the index's audience is available in this environment."""

    exit_code = 2


class MintRefusedError(PublishError):
    """The index refused to exchange the OIDC token; ``errors`` and ``claims`` explain why."""

    def __init__(
        self, lines: Sequence[str], errors: Sequence[tuple[str, str]], claims: dict[str, Any]
    ) -> None:
        super().__init__(lines)
        self.errors = list(errors)
        self.claims = claims


@dataclass(frozen=True)
class MintedToken:
    """An upload token minted by Trusted Publishing (its value is never printed)."""

    token: str = field(repr=False)
    expires: float

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether the token expires within ``seconds`` from now."""
        return self.expires - (time.time() if now is None else now) <= seconds


# -- helpers ------------------------------------------------------------------------


def index_origin(repository_url: str) -> str:
    """The index's origin for an upload URL (``upload.pypi.org`` -> ``pypi.org``)."""
    parts = urlsplit(repository_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublishInputError([f"invalid repository URL {repository_url!r}"])
    host = parts.hostname
    if host.startswith("upload.") and host.count(".") >= 2:
        host = host[len("upload.") :]
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, not verified (for guidance only); ``{}`` if it is malformed."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def claim_lines(claims: dict[str, Any]) -> list[str]:
    """``name: value`` lines for the claims that identify a publisher (``MISSING`` if absent)."""
    if "project_path" in claims or "ci_config_ref_uri" in claims:
        names: Sequence[str] = GITLAB_CLAIMS
    elif "repository" in claims or "workflow_ref" in claims:
        names = GITHUB_CLAIMS
    else:
        names = _OTHER_CLAIMS
    return [f"{name}: {claims.get(name, 'MISSING')}" for name in names]


def reusable_workflow_warning(claims: dict[str, Any]) -> str | None:
    """On GitHub, the warning for a token from a reusable workflow, else ``None``."""
    return github.reusable_workflow_warning(claims)


def _is_fork_pull_request() -> bool:
    if os.environ.get("GITHUB_EVENT_NAME") not in ("pull_request", "pull_request_target"):
        return False
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return False
    try:
        event = json.loads(Path(path).read_text())
        return bool(event["pull_request"]["head"]["repo"]["fork"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def oidc_guidance(audience: str) -> list[str]:
    """What to configure on each CI platform for an OIDC token with ``audience``."""
    from attestkit.core.providers import PROVIDERS

    hints = [p.setup_hint(audience) for p in PROVIDERS.values() if p.setup_hint]
    return ["Trusted Publishing needs an OIDC token from your CI platform:"] + [
        f"  * {hint}" for hint in hints
    ]


def _detect(audience: str) -> str | None:
    import id as oidc_id

    return oidc_id.detect_credential(audience)


def oidc_token(audience: str, source: TokenSource | None = None) -> str:
    """An OIDC token for ``audience`` from the CI platform; :class:`NoOidcTokenError` if none."""
    import id as oidc_id

    fork = [
        "This is a pull request from a fork: GitHub grants such workflows no OIDC token,"
        " even with `id-token: write`. Publish from a tag push, a release or a manual"
        " (workflow_dispatch) trigger instead.",
    ]
    try:
        token = (source or _detect)(audience)
    except oidc_id.IdentityError as exc:
        head = f"OIDC token retrieval for audience {audience!r} failed: {exc}"
        extra = fork if _is_fork_pull_request() else []
        raise NoOidcTokenError([head, *extra, *oidc_guidance(audience)]) from None
    if not token:
        head = f"no OIDC credentials for audience {audience!r} were found in this environment"
        raise NoOidcTokenError([head, *oidc_guidance(audience)])
    return token


# -- index requests -----------------------------------------------------------------------


def _request(
    session: Any,
    method: str,
    url: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    on_retry: Callable[[str], None] | None,
    **kwargs: Any,
) -> Any:
    """A request retried on connection errors and 5xx; returns the last response or raises."""
    import requests

    attempt = 0
    while True:
        attempt += 1
        try:
            response = session.request(method, url, timeout=timeout, **kwargs)
        except requests.RequestException as exc:
            if attempt > retries:
                raise
            reason = f"connection error: {type(exc).__name__}"
        else:
            if response.status_code < 500 or attempt > retries:
                return response
            reason = f"{response.status_code} {response.reason}"
        delay = backoff * (2 ** (attempt - 1))
        if on_retry is not None:
            on_retry(f"{url}: {reason}; retry {attempt} of {retries} in {delay:g} s")
        time.sleep(delay)


def get_audience(
    session: Any,
    origin: str,
    *,
    timeout: float = 30,
    retries: int = 5,
    backoff: float = 0.5,
    on_retry: Callable[[str], None] | None = None,
) -> str:
    """The index's Trusted Publishing audience; :class:`AudienceError` explains failures."""
    import requests

    host = urlsplit(origin).netloc
    url = f"{origin}/_/oidc/audience"
    try:
        response = _request(
            session,
            "GET",
            url,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            on_retry=on_retry,
        )
    except requests.RequestException as exc:
        raise AudienceError([f"cannot reach {url}: {type(exc).__name__}: {exc}"]) from None
    if response.status_code == 403:
        raise AudienceError([f"trusted publishing is disabled on {host} (403 from {url})"])
    if response.status_code == 404:
        raise AudienceError([f"{host} does not support trusted publishing (404 from {url})"])
    if response.status_code != 200:
        raise AudienceError(
            [f"audience retrieval from {url} failed: {response.status_code} {response.reason}"]
        )
    try:
        audience = response.json()["audience"]
    except (ValueError, KeyError, TypeError):
        audience = None
    if not isinstance(audience, str) or not audience:
        raise AudienceError([f"{url} did not answer with an audience"])
    return audience


def mint_token(
    session: Any,
    origin: str,
    jwt: str,
    *,
    timeout: float = 30,
    retries: int = 5,
    backoff: float = 0.5,
    on_retry: Callable[[str], None] | None = None,
    fresh_jwt: Callable[[], str] | None = None,
) -> MintedToken:
    """Exchange an OIDC token for an upload token; :class:`MintRefusedError` on refusal.

    A retry after a 5xx or a connection error uses ``fresh_jwt()`` when given
    (the index may already have consumed a single-use token).
    """
    import requests

    url = f"{origin}/_/oidc/mint-token"
    attempt = 0
    while True:
        attempt += 1
        try:
            response = session.post(url, json={"token": jwt}, timeout=timeout)
        except requests.RequestException as exc:
            status, reason = None, f"connection error: {type(exc).__name__}"
            if attempt > retries:
                raise PublishError([f"token exchange at {url} failed: {reason}"]) from None
        else:
            status, reason = response.status_code, f"{response.status_code} {response.reason}"
            if status < 500 or attempt > retries:
                break
        delay = backoff * (2 ** (attempt - 1))
        if on_retry is not None:
            on_retry(f"{url}: {reason}; retry {attempt} of {retries} in {delay:g} s")
        time.sleep(delay)
        if fresh_jwt is not None:
            jwt = fresh_jwt()
    claims = unverified_claims(jwt)
    try:
        body = response.json()
    except ValueError:
        body = None
    if status == 200 and isinstance(body, dict) and isinstance(body.get("token"), str):
        expires = body.get("expires")
        when = (
            float(expires)
            if isinstance(expires, int | float)
            else time.time() + DEFAULT_TOKEN_LIFETIME
        )
        return MintedToken(body["token"], when)
    if not isinstance(body, dict):
        raise PublishError(
            [f"token exchange failed: the index produced an unexpected {reason} response"]
        )
    errors: list[tuple[str, str]] = []
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            errors.append((str(item.get("code", "?")), str(item.get("description", ""))))
    if status == 200:
        lines = ["token exchange failed: the index's response has no token"]
    else:
        lines = [f"token exchange failed ({reason}); the index refused it:"]
        lines += [f"  * {code}: {description}" for code, description in errors] or [
            f"  * {body.get('message', 'no reason given')}"
        ]
        lines.append(
            "This generally means the Trusted Publisher on the index does not match this"
            " job. The token's claims (for debugging; the token itself is not shown):"
        )
        lines += [f"  {line}" for line in claim_lines(claims)]
    raise MintRefusedError([line.replace(jwt, "<token>") for line in lines], errors, claims)
