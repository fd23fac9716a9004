"""Publish with Trusted Publishing: OIDC exchange, signing and attested upload in one step.

The flow a CI job needs, with the guidance of pypa/gh-action-pypi-publish and
the fixes for its known problems:

1. every input is checked first (:func:`attestkit.client.package.plan`): a bad file
   name or unreadable metadata costs no network call; each file's metadata
   is read and its digests computed here, once, and carried to the upload;
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
7. files are uploaded one by one with their attestations (checked against
   the digests of step 1: the files are not planned again); before each
   file, a minted token that expires within ``refresh_margin`` seconds is
   replaced by a freshly minted one.  An index that does not announce PEP 740
   gets the files without attestations, with a warning (as ``upload`` does).

One ``requests.Session`` carries every request to the index (audience, mint
and uploads); the upload token goes with each upload request, never into the
session, so the mint requests do not carry it.  The audience and mint
requests are retried on 5xx answers and connection errors with exponential
backoff; every request has a configurable timeout.  Steps 2 to 5 live in
:mod:`attestkit.client.trusted_publishing`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from attestkit.client.trusted_publishing import (
    GITHUB_CLAIMS,
    GITLAB_CLAIMS,
    AudienceError,
    MintedToken,
    MintRefusedError,
    NoOidcTokenError,
    PublishError,
    PublishInputError,
    TokenSource,
    claim_lines,
    get_audience,
    index_origin,
    mint_token,
    oidc_token,
    reusable_workflow_warning,
    unverified_claims,
)

if TYPE_CHECKING:
    from attestkit.client.package import PlannedUpload
    from attestkit.client.sign import SignedFile, SigningServices

__all__ = [
    "GITHUB_CLAIMS",
    "GITLAB_CLAIMS",
    "AudienceError",
    "MintRefusedError",
    "MintedToken",
    "NoOidcTokenError",
    "PublishError",
    "PublishInputError",
    "PublishReport",
    "PublishResult",
    "claim_lines",
    "index_origin",
    "provenance_url",
    "publish",
    "reusable_workflow_warning",
    "unverified_claims",
]

Status = Literal["uploaded", "skipped", "failed", "checked"]


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


def provenance_url(origin: str, job: PlannedUpload) -> str:
    """``{origin}/integrity/{normalized name}/{version}/{filename}/provenance``."""
    from packaging.utils import canonicalize_name

    name = canonicalize_name(job.value("name"))
    return f"{origin}/integrity/{name}/{job.value('version')}/{job.path.name}/provenance"


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
    dry_run: bool = False,
) -> PublishReport:
    """Publish ``dists`` to ``repository_url`` with Trusted Publishing and attestations.

    ``services`` is the Sigstore instance to sign on (a callable is resolved
    only once the exchange succeeded); ``token_source(audience)`` replaces
    ``id.detect_credential`` for the index's audience.  ``on_event(message)``
    receives progress messages and warnings.  Raises :class:`PublishError`
    (and subclasses) when publishing stops before the first upload; upload
    failures are in the report.

    ``dry_run`` does everything but the upload: the checks, the audience, the OIDC
    token and its exchange (which proves the publisher matches), and signing, into a
    temporary copy of the files that is then discarded; each file is reported as
    ``checked``.
    """
    from attestkit.client.identity import find_identity_token
    from attestkit.client.package import UploadInputError, plan, with_attestations
    from attestkit.client.repository import (
        attestations_supported,
        new_session,
        safe_url,
        strip_userinfo,
        upload_one,
    )
    from attestkit.client.sign import sign

    def say(message: str) -> None:
        if on_event is not None:
            on_event(message)

    # 1. Inputs, before any request: each file's metadata and digests, read once.
    try:
        planned = plan(dists, attestations=False)
    except UploadInputError as exc:
        raise PublishInputError(exc.errors) from None
    readme_errors = _readme_errors(planned)
    if readme_errors:
        raise PublishInputError(readme_errors)
    origin = index_origin(repository_url)
    upload_url, _, _ = strip_userinfo(repository_url)

    session = new_session()
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
        identity, _ = find_identity_token(None, interactive=False)
        if dry_run:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="attestkit-dry-run-") as scratch:
                signed = sign(
                    _copies(planned, Path(scratch)),
                    identity_token=identity,
                    services=services,
                    skip_verified=True,
                    timeout=timeout,
                )
            say(f"dry run: signed {len(signed)} file(s) into a discarded copy; nothing uploaded")
            checked = [
                PublishResult(job.path, "checked", None, "dry run: not uploaded", None)
                for job in planned
            ]
            return PublishReport(origin, audience, checked, signed, mints, warnings)
        signed = sign(
            [job.path for job in planned],
            identity_token=identity,
            services=services,
            skip_verified=True,
            timeout=timeout,
        )
        new = sum(len(s.written) for s in signed)
        say(f"signed {new} attestation(s); kept {sum(len(s.kept) for s in signed)} that verify")
        # 7. Upload file by file, refreshing the minted token when it is about to expire.
        jobs = with_attestations(planned)
        auth = ("__token__", minted.token)
        if not attestations_supported(upload_url, session, timeout, auth=auth):
            warning = (
                f"{safe_url(upload_url)} does not announce support for PEP 740 attestations"
                " (Simple API 1.3 or later): uploading without them"
            )
            warnings.append(warning)
            say(f"warning: {warning}")
            jobs = [job.without_attestations() for job in jobs]
        results: list[PublishResult] = []
        for number, job in enumerate(jobs):
            if minted.expires_within(refresh_margin):
                minted = mint()
                say("refreshed the upload token (it was about to expire)")
            result = upload_one(
                session,
                upload_url,
                job,
                password=minted.token,
                auth=("__token__", minted.token),
                skip_existing=skip_existing,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
                on_progress=None,
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


def _readme_errors(planned: Sequence[PlannedUpload]) -> list[str]:
    """What ``attestkit check`` refuses in the READMEs (its warnings do not stop a publish)."""
    from attestkit.client.check import check_planned

    return [f"{job.path}: {e}" for job in planned for e in check_planned(job).errors]


def _copies(planned: Sequence[PlannedUpload], scratch: Path) -> list[Path]:
    """Copies of the files (and the attestations beside them) in ``scratch``."""
    import shutil

    from attestkit.sigstore.verify.attestation import find_attestations

    copies = []
    for job in planned:
        copies.append(Path(shutil.copy2(job.path, scratch / job.path.name)))
        for attestation in find_attestations(job.path):
            shutil.copy2(attestation, scratch / attestation.name)
    return copies
