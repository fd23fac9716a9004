"""Publish with Trusted Publishing: OIDC exchange, signing and attested upload in one step.

The flow a CI job needs, with the guidance of pypa/gh-action-pypi-publish and
the fixes for its known problems:

1. every input is checked first (:func:`attestkit.client.upload.plan`): a bad file
   name or unreadable metadata costs no network call;
2. the index's audience is read from ``{origin}/_/oidc/audience`` (403: Trusted
   Publishing disabled, 404: not supported);
3. an OIDC token for that audience comes from the CI platform through ``id``
   (GitHub Actions, Google Cloud, Buildkite, GitLab CI, CircleCI); when none
   is available the error says what to configure on each platform;
4. on GitHub, a reusable workflow (``workflow_ref`` != ``job_workflow_ref``)
   is reported before the exchange: the publisher must name the called file;
5. the token is exchanged at ``{origin}/_/oidc/mint-token``; a refusal lists
   each ``code: description`` and the token's identifying claims (never the
   token);
6. the files are signed with the ambient ``sigstore`` identity, reusing
   attestations that already verify (a second publish in the same job signs
   nothing);
7. files are uploaded one by one with their attestations; before each file,
   a minted token that expires within ``refresh_margin`` seconds is replaced
   by a freshly minted one.

The audience and mint requests are retried on 5xx answers and connection
errors with exponential backoff; every request has a configurable timeout.
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
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from attestkit.core.providers import github, gitlab
from attestkit.errors import AttestkitError

if TYPE_CHECKING:
    from attestkit.client.sign import SignedFile, SigningServices
    from attestkit.client.upload import PlannedUpload

__all__ = [
    "GITHUB_CLAIMS",
    "GITLAB_CLAIMS",
    "AudienceError",
    "MintRefusedError",
    "MintedToken",
    "NoOidcTokenError",
    "PublishError",
    "PublishReport",
    "PublishResult",
    "claim_lines",
    "index_origin",
    "publish",
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
Status = Literal["uploaded", "skipped", "failed"]


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


@dataclass(frozen=True)
class PublishResult:
    """The outcome for one distribution."""

    dist: Path
    status: Status
    http_status: int | None
    message: str
    provenance_url: str | None


@dataclass
class PublishReport:
    """Everything a publish run did."""

    origin: str
    audience: str
    results: list[PublishResult]
    signed: list[SignedFile]
    mints: int
    warnings: list[str]

    @property
    def ok(self) -> bool:
        """No file failed."""
        return all(r.status != "failed" for r in self.results)


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


# -- publishing --------------------------------------------------------------------------


def _field(job: PlannedUpload, name: str) -> str:
    return next((value for key, value in job.fields if key == name), "")


def provenance_url(origin: str, job: PlannedUpload) -> str:
    """``{origin}/integrity/{normalized name}/{version}/{filename}/provenance``."""
    from packaging.utils import canonicalize_name

    name = canonicalize_name(_field(job, "name"))
    return f"{origin}/integrity/{name}/{_field(job, 'version')}/{job.path.name}/provenance"


def publish(
    dists: Sequence[str | os.PathLike[str]],
    *,
    repository_url: str,
    services: SigningServices | Callable[[], SigningServices] | None = None,
    skip_existing: bool = False,
    timeout: float = 30,
    retries: int = 5,
    backoff: float = 0.5,
    refresh_margin: float = 300,
    token_source: TokenSource | None = None,
    on_event: Callable[[str], None] | None = None,
) -> PublishReport:
    """Publish ``dists`` to ``repository_url`` with Trusted Publishing and attestations.

    ``services`` is the Sigstore instance to sign on (a callable is resolved
    only once the exchange succeeded); ``token_source(audience)`` replaces
    ``id.detect_credential`` for the index's audience.  ``on_event(message)``
    receives progress messages and warnings.  Raises :class:`PublishError`
    (and subclasses) when publishing stops before the first upload; upload
    failures are in the report.
    """
    import requests

    from attestkit.client.identity import find_identity_token
    from attestkit.client.sign import sign
    from attestkit.client.upload import UploadInputError, plan, upload

    def say(message: str) -> None:
        if on_event is not None:
            on_event(message)

    # 1. Inputs, before any request.
    try:
        plan(dists, attestations=False)
    except UploadInputError as exc:
        raise PublishInputError(exc.errors) from None
    origin = index_origin(repository_url)

    session = requests.Session()
    session.headers["User-Agent"] = "attestkit"
    warnings: list[str] = []
    try:
        # 2. Audience.
        audience = get_audience(
            session, origin, timeout=timeout, retries=retries, backoff=backoff, on_retry=say
        )

        # 3. OIDC token (a fresh one for every exchange: they may be single-use).
        def fresh() -> str:
            return oidc_token(audience, token_source)

        jwt = fresh()
        say(f"got an OIDC token for audience {audience!r}")
        # 4. Reusable workflows.
        warning = reusable_workflow_warning(unverified_claims(jwt))
        if warning:
            warnings.append(warning)
            say(f"warning: {warning}")
        # 5. Exchange.
        mints = 0

        def mint(first: str | None = None) -> MintedToken:
            nonlocal mints
            minted = mint_token(
                session,
                origin,
                first or fresh(),
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                on_retry=say,
                fresh_jwt=fresh,
            )
            mints += 1
            return minted

        minted = mint(jwt)
        say(f"minted an upload token for {origin} (Trusted Publishing)")
        # 6. Sign (reusing attestations that verify) with the ambient sigstore identity.
        paths = [job.path for job in plan(dists, attestations=False)]
        identity, _ = find_identity_token(None, interactive=False)
        signed = sign(
            paths, identity_token=identity, services=services, skip_verified=True, timeout=timeout
        )
        new = sum(len(s.written) for s in signed)
        say(f"signed {new} attestation(s); kept {sum(len(s.kept) for s in signed)} that verify")
        # 7. Upload file by file, refreshing the minted token when it is about to expire.
        jobs = plan(dists, attestations=True)
        results: list[PublishResult] = []
        for number, job in enumerate(jobs):
            if minted.expires_within(refresh_margin):
                minted = mint()
                say("refreshed the upload token (it was about to expire)")
            (result,) = upload(
                [job.path],
                repository_url=repository_url,
                username="__token__",
                password=minted.token,
                attestations=True,
                skip_existing=skip_existing,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
                planned=[job],
                on_retry=lambda d, a, delay, r: say(f"{d.name}: {r}; retry {a} in {delay:g} s"),
            )
            url = provenance_url(origin, job) if result.status == "uploaded" else None
            results.append(
                PublishResult(job.path, result.status, result.http_status, result.message, url)
            )
            if result.status == "failed":
                results += [
                    PublishResult(
                        j.path, "failed", None, "not attempted: an earlier upload failed", None
                    )
                    for j in jobs[number + 1 :]
                ]
                break
    finally:
        session.close()
    return PublishReport(origin, audience, results, signed, mints, warnings)
