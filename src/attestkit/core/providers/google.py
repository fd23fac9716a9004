"""Google Cloud service accounts: identity policy, PEP 740 publisher, Trusted Publishing rules
(warehouse ``warehouse/oidc/models/google.py``) and simulated claims.  Fulcio
certifies Google tokens as email identities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from attestkit.core.certificate import CertificateClaims
from attestkit.core.constants import (
    GOOGLE_ISSUER,
)
from attestkit.core.policy import Identity, Policy
from attestkit.core.providers.base import (
    ClaimRules,
    Mismatch,
    Provider,
    failed,
    fake_number,
)
from attestkit.core.publishers import PublisherBase

__all__ = [
    "PROVIDER",
    "GoogleIdentity",
    "GooglePublisher",
    "GoogleRules",
    "google_claims",
    "setup_hint",
]


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


@dataclass(frozen=True, kw_only=True)
class GooglePublisher(PublisherBase):
    """Google Cloud: the service account ``email``."""

    kind: ClassVar[str] = "Google"
    email: str

    def policy(self) -> Policy:
        return GoogleIdentity(self.email)

    def summary(self) -> str:
        return f"Google {self.email}"


class GoogleRules(ClaimRules):
    kind = "Google"
    required = ("email", "email_verified")
    stored = ("email", "sub")
    identity_claim = "email"

    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        email = str(config["email"])
        if claims.get("email") != email:
            raise Mismatch(0, failed("email", email, claims.get("email")))
        if iss != GOOGLE_ISSUER:
            raise Mismatch(
                1, f"JWT issuer {iss!r} does not match expected issuer {GOOGLE_ISSUER!r}"
            )
        if claims.get("email_verified") is not True:
            raise Mismatch(2, failed("email_verified", True, claims.get("email_verified")))
        sub = config.get("sub")
        if sub and claims.get("sub") != sub:
            raise Mismatch(3, failed("sub", sub, claims.get("sub"), optional=True))

    def specificity(self, config: Mapping[str, Any]) -> int:
        return 1 if config.get("sub") else 0


def google_claims(email: str, *, sub: str | None = None, azp: str | None = None) -> dict[str, Any]:
    """The claims of a Google service-account token (``iss`` https://accounts.google.com)."""
    sub = sub or fake_number("google", email, digits=21)
    return {
        "iss": GOOGLE_ISSUER,
        "sub": sub,
        "azp": azp or sub,
        "email": email,
        "email_verified": True,
    }


def setup_hint(audience: str) -> str:
    """How a Google Cloud workload gets an OIDC token."""
    del audience
    return (
        "Google Cloud: run as a service account (GOOGLE_SERVICE_ACCOUNT_NAME, or on GCE"
        " or Cloud Build)"
    )


PROVIDER = Provider(
    kind="google",
    name="Google Cloud",
    issuer=GOOGLE_ISSUER,
    fulcio_type="email",
    publisher_kind="Google",
    rules=GoogleRules(),
    registration=(("email",), ("sub",)),
    setup_hint=setup_hint,
)
