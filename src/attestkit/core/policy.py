"""Identity policies: does a signing certificate belong to the expected publisher?

Each policy checks :class:`~attestkit.core.certificate.CertificateClaims` with the
same rules PyPI applies through pypi-attestations (exact, case-sensitive), and
fails with one line naming the check, the expected and the actual value, never
an ``Extension(...)`` repr (defect D19 in ``docs/defects.md``).  Policies also
pin what PyPI does not: a workflow ``ref``, and the deployment ``environment`` (see
:class:`GitHubIdentity`).

>>> policy = GitHubIdentity("octo/repo", "release.yml")
>>> policy.describe()
'GitHub octo/repo, workflow release.yml'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from attestkit.core.certificate import CertificateClaims
from attestkit.core.constants import (
    CIRCLECI_ISSUER,
    GITHUB_ISSUER,
    GITHUB_URL,
    GITLAB_ISSUER,
    GITLAB_URL,
    GOOGLE_ISSUER,
)
from attestkit.errors import VerificationError

__all__ = [
    "CircleCIIdentity",
    "GitHubIdentity",
    "GitLabIdentity",
    "GoogleIdentity",
    "Identity",
    "Policy",
]

_OID_NAMES = {
    "issuer": ("OIDCIssuerV2", 8),
    "issuer_v1": ("OIDCIssuer", 1),
    "build_signer_uri": ("Build Signer URI", 9),
    "source_repository_uri": ("Source Repository URI", 12),
    "source_repository_digest": ("Source Repository Digest", 13),
    "source_repository_ref": ("Source Repository Ref", 14),
    "build_config_uri": ("Build Config URI", 18),
    "deployment_environment": ("Deployment Environment", 23),
}


class Policy(Protocol):
    """Something that accepts or rejects a certificate's identity."""

    def check(self, claims: CertificateClaims) -> None:
        """Raise :class:`VerificationError` if ``claims`` do not satisfy the policy."""

    def describe(self) -> str:
        """A short human description of the expected identity."""


def _claim(claims: CertificateClaims, key: str) -> str:
    value = claims.claims.get(key)
    if value is None:
        label, number = _OID_NAMES[key]
        raise VerificationError(
            f"Certificate does not contain {label} (1.3.6.1.4.1.57264.1.{number})"
        )
    return value


def _expect(claims: CertificateClaims, key: str, expected: str) -> None:
    actual = _claim(claims, key)
    if actual != expected:
        label, _ = _OID_NAMES[key]
        raise VerificationError(
            f"Certificate's {label} does not match (got {actual!r}, expected {expected!r})"
        )


def _check_environment(claims: CertificateClaims, environment: str | None, strict: bool) -> None:
    """Compare the certificate's Deployment Environment (``.23``) with ``environment``.

    Public Fulcio does not emit ``.23`` today, so by default a certificate
    without it passes (as on PyPI) and only a *different* recorded environment
    fails; ``strict`` (an explicit ``--environment``) requires it to be present.
    """
    if environment is None:
        return
    actual = claims.claims.get("deployment_environment")
    if actual is None:
        if strict:
            raise VerificationError(
                f"Certificate does not record a deployment environment (1.3.6.1.4.1.57264.1.23);"
                f" cannot confirm environment {environment!r}"
            )
        return
    if actual != environment:
        raise VerificationError(
            f"Certificate's Deployment Environment does not match"
            f" (got {actual!r}, expected {environment!r})"
        )


@dataclass(frozen=True, slots=True)
class GitHubIdentity:
    """A GitHub Actions Trusted Publisher: repository, workflow file, optional pins.

    ``workflow=None`` accepts any top-level workflow of the repository (the
    accepted one is reported by ``verify``).  ``ref`` pins the Source
    Repository Ref (e.g. ``refs/tags/v1.0``).
    """

    repository: str
    workflow: str | None = None
    environment: str | None = None
    ref: str | None = None
    strict_environment: bool = False
    url: str = GITHUB_URL
    issuer: str = GITHUB_ISSUER

    def check(self, claims: CertificateClaims) -> None:
        """Apply PyPI's GitHub rules plus the optional pins."""
        _expect(claims, "issuer", self.issuer)
        _expect(claims, "source_repository_uri", f"{self.url}/{self.repository}")
        suffixes = [
            v
            for v in (
                claims.claims.get("source_repository_digest"),
                claims.claims.get("source_repository_ref"),
            )
            if v
        ]
        if not suffixes:
            raise VerificationError(
                "Certificate must contain either Source Repository Digest or Source Repository Ref"
            )
        build_config = _claim(claims, "build_config_uri")
        prefix = f"{self.url}/{self.repository}/.github/workflows/"
        if self.workflow is not None:
            ok = any(build_config == f"{prefix}{self.workflow}@{s}" for s in suffixes)
        else:
            ok = any(
                build_config.startswith(prefix)
                and build_config.endswith(f"@{s}")
                and "/" not in build_config[len(prefix) : -len(s) - 1]
                for s in suffixes
            )
        if not ok:
            raise VerificationError(
                f"Certificate's Build Config URI ({build_config}) does not match expected"
                f" Trusted Publisher ({self.workflow or '*'} @ {self.repository})"
            )
        if self.ref is not None:
            _expect(claims, "source_repository_ref", self.ref)
        _check_environment(claims, self.environment, self.strict_environment)

    def describe(self) -> str:
        """E.g. ``GitHub owner/repo, workflow release.yml``."""
        text = f"GitHub {self.repository}, workflow {self.workflow or '(any)'}"
        if self.environment:
            text += f", environment {self.environment}"
        if self.ref:
            text += f", ref {self.ref}"
        return text


@dataclass(frozen=True, slots=True)
class GitLabIdentity:
    """A GitLab CI/CD Trusted Publisher: project path and CI config file path."""

    repository: str
    workflow_filepath: str | None = None
    environment: str | None = None
    ref: str | None = None
    strict_environment: bool = False
    url: str = GITLAB_URL
    issuer: str = GITLAB_ISSUER

    def check(self, claims: CertificateClaims) -> None:
        """Apply PyPI's GitLab rules (both ``.13`` and ``.14`` required) plus pins."""
        _expect(claims, "issuer", self.issuer)
        _expect(claims, "source_repository_uri", f"{self.url}/{self.repository}")
        digest = _claim(claims, "source_repository_digest")
        ref = _claim(claims, "source_repository_ref")
        build_config = _claim(claims, "build_config_uri")
        # Fulcio writes GitLab's Build Config URI as https://{ci_config_ref_uri}, whatever
        # the instance's scheme (only a loopback test instance has another).
        prefix = f"https://{self.url.split('://', 1)[-1]}/{self.repository}//"
        if self.workflow_filepath is not None:
            ok = any(build_config == f"{prefix}{self.workflow_filepath}@{s}" for s in (digest, ref))
        else:
            ok = build_config.startswith(prefix) and any(
                build_config.endswith(f"@{s}") for s in (digest, ref)
            )
        if not ok:
            raise VerificationError(
                f"Certificate's Build Config URI ({build_config}) does not match expected"
                f" Trusted Publisher ({self.workflow_filepath or '*'} @ {self.repository})"
            )
        if self.ref is not None:
            _expect(claims, "source_repository_ref", self.ref)
        _check_environment(claims, self.environment, self.strict_environment)

    def describe(self) -> str:
        """E.g. ``GitLab group/project, workflow .gitlab-ci.yml``."""
        text = f"GitLab {self.repository}, workflow {self.workflow_filepath or '(any)'}"
        if self.environment:
            text += f", environment {self.environment}"
        return text


@dataclass(frozen=True, slots=True)
class Identity:
    """A raw identity: the SAN must contain ``identity``; the issuer must equal ``issuer``.

    Unlike pypi-attestations' ``--identity``, the issuer is always checked (D5).
    """

    identity: str
    issuer: str

    def check(self, claims: CertificateClaims) -> None:
        """Check the v1 issuer (``.1``, as sigstore's ``Identity`` does) and the SANs."""
        actual_issuer = claims.claims.get("issuer_v1") or claims.claims.get("issuer")
        if actual_issuer is None:
            raise VerificationError(
                "Certificate does not contain OIDCIssuer (1.3.6.1.4.1.57264.1.1)"
            )
        if actual_issuer != self.issuer:
            raise VerificationError(
                f"Certificate's OIDCIssuer does not match"
                f" (got {actual_issuer!r}, expected {self.issuer!r})"
            )
        if self.identity not in claims.sans:
            raise VerificationError(
                f"Certificate's SANs do not match {self.identity}; actual SANs: {list(claims.sans)}"
            )

    def describe(self) -> str:
        """E.g. ``identity a@b.c (issuer https://...)``."""
        return f"identity {self.identity} (issuer {self.issuer})"


@dataclass(frozen=True, slots=True)
class GoogleIdentity:
    """A Google Cloud service account (email) Trusted Publisher."""

    email: str

    def check(self, claims: CertificateClaims) -> None:
        """The v1 issuer must be Google and the email among the SANs."""
        Identity(self.email, GOOGLE_ISSUER).check(claims)

    def describe(self) -> str:
        """E.g. ``Google sa@project.iam.gserviceaccount.com``."""
        return f"Google {self.email}"


@dataclass(frozen=True, slots=True)
class CircleCIIdentity:
    """A CircleCI Trusted Publisher: project and pipeline definition ids."""

    project_id: str
    pipeline_definition_id: str
    vcs_origin: str | None = None
    vcs_ref: str | None = None

    def check(self, claims: CertificateClaims) -> None:
        """Issuer, Build Signer URI, and the optional VCS origin and ref."""
        _expect(claims, "issuer", CIRCLECI_ISSUER)
        if self.vcs_origin is not None:
            _expect(claims, "source_repository_uri", self.vcs_origin)
        if self.vcs_ref is not None:
            _expect(claims, "source_repository_ref", self.vcs_ref)
        expected = (
            f"https://circleci.com/api/v2/projects/{self.project_id}"
            f"/pipeline-definitions/{self.pipeline_definition_id}"
        )
        actual = _claim(claims, "build_signer_uri")
        if actual != expected:
            raise VerificationError(
                f"Certificate's Build Signer URI ({actual}) does not match expected"
                f" Trusted Publisher ({expected})"
            )

    def describe(self) -> str:
        """E.g. ``CircleCI project P, pipeline definition D``."""
        return (
            f"CircleCI project {self.project_id}, pipeline definition {self.pipeline_definition_id}"
        )
