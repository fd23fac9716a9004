"""Identity policies: does a signing certificate belong to the expected publisher?

The per-provider policies (GitHub, GitLab, Google, CircleCI) live in
:mod:`attestkit.core.providers`; this module has the shared checks and the raw
:class:`Identity`.  Each policy checks
:class:`~attestkit.core.certificate.CertificateClaims` with the
same rules PyPI applies through pypi-attestations (exact, case-sensitive), and
fails with one line naming the check, the expected and the actual value, never
an ``Extension(...)`` repr (defect D19 in ``docs/defects.md``).  Policies also
pin what PyPI does not: a workflow ``ref``, and the deployment ``environment`` (see
:class:`GitHubIdentity`).

>>> Identity("a@example.com", "https://accounts.google.com").describe()
'identity a@example.com (issuer https://accounts.google.com)'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from attestkit.core.certificate import CertificateClaims
from attestkit.errors import VerificationError

__all__ = [
    "Identity",
    "Policy",
    "check_environment",
    "claim",
    "expect",
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


def claim(claims: CertificateClaims, key: str) -> str:
    value = claims.claims.get(key)
    if value is None:
        label, number = _OID_NAMES[key]
        raise VerificationError(
            f"Certificate does not contain {label} (1.3.6.1.4.1.57264.1.{number})"
        )
    return value


def expect(claims: CertificateClaims, key: str, expected: str) -> None:
    actual = claim(claims, key)
    if actual != expected:
        label, _ = _OID_NAMES[key]
        raise VerificationError(
            f"Certificate's {label} does not match (got {actual!r}, expected {expected!r})"
        )


def check_environment(claims: CertificateClaims, environment: str | None, strict: bool) -> None:
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
