"""Trusted Publisher identities, as PyPI records them in provenance (``publisher``).

The ``kind`` strings and fields match PyPI and pypi-attestations exactly.  Two
improvements over pypi-attestations (defects D14, D27 in ``docs/defects.md``):

* an unknown ``kind`` parses as :class:`UnsupportedPublisher` (kept verbatim,
  reported as unverifiable) instead of making the whole provenance unparseable;
* PEP 740's ``claims`` object and any unknown keys are preserved on round-trip.

Each provider's publisher class lives in its module under
:mod:`attestkit.core.providers`, which also parses them
(:func:`attestkit.core.providers.publisher_from_dict`); this module has the
shared base.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from attestkit.core.constants import GITHUB_ISSUER, GITHUB_URL, GITLAB_ISSUER, GITLAB_URL
from attestkit.core.policy import Policy
from attestkit.errors import InputError, VerificationError

__all__ = ["PublisherBase", "UnsupportedPublisher", "custom_issuer", "forge", "forge_summary"]


@dataclass(frozen=True, kw_only=True)
class PublisherBase:
    """A Trusted Publisher as PyPI serialises it; each provider module defines one."""

    kind: ClassVar[str]
    #: PEP 740 ``claims`` (PyPI omits it); ``None`` means absent.
    claims: dict[str, Any] | None = None
    #: Unknown keys, preserved verbatim.
    extra: dict[str, Any] = field(default_factory=dict)

    _OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> PublisherBase:
        values: dict[str, Any] = {}
        names = [f.name for f in fields(cls) if f.name not in {"claims", "extra"}]
        for name in names:
            value = obj.get(name)
            if value is None and name not in cls._OPTIONAL:
                raise InputError(f"{cls.kind} publisher: missing {name}")
            if value is not None and not isinstance(value, str):
                raise InputError(f"{cls.kind} publisher: {name} must be a string")
            values[name] = value
        claims = obj.get("claims")
        if claims is not None and not isinstance(claims, dict):
            raise InputError(f"{cls.kind} publisher: claims must be an object or null")
        extra = {k: v for k, v in obj.items() if k not in {*names, "kind", "claims"}}
        return cls(**values, claims=claims, extra=extra)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The publisher's own keys, in PyPI's order (not ``kind``, ``claims`` or extras)."""
        return tuple(f.name for f in fields(cls) if f.name not in {"claims", "extra"})

    def to_dict(self) -> dict[str, Any]:
        """Serialise with PyPI's key order; ``claims`` and extra keys only if present."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            if f.name not in {"claims", "extra"}:
                out[f.name] = getattr(self, f.name)
        if self.claims is not None:
            out["claims"] = self.claims
        out.update(self.extra)
        return out

    def policy(self) -> Policy:
        """The identity policy that a certificate must satisfy for this publisher."""
        raise VerificationError(
            f"Attestations are not currently supported with {self.kind} publishers"
        )

    @property
    def supported(self) -> bool:
        """Whether attestations signed by this publisher can be verified."""
        return True

    def summary(self) -> str:
        """One-line human description."""
        return self.kind


def custom_issuer(publisher: PublisherBase) -> str | None:
    """The publisher's own OIDC issuer (``issuer_url``: GitHub Enterprise Server,
    self-managed GitLab), an attestkit extension PyPI does not record; None for the
    provider's public issuer."""
    issuer = publisher.extra.get("issuer_url")
    if issuer is None:
        return None
    from attestkit.core.issuers import check_issuer_url

    try:
        return check_issuer_url(str(issuer))
    except ValueError as exc:
        raise VerificationError(f"{publisher.kind} publisher: {exc}") from None


def forge(publisher: PublisherBase, kind: str) -> tuple[str, str]:
    """The forge URL and OIDC issuer a certificate must name: the public ones
    (github.com, gitlab.com), or a self-hosted forge's (``issuer_url``)."""
    issuer = custom_issuer(publisher)
    if issuer is None:
        return (GITHUB_URL, GITHUB_ISSUER) if kind == "github" else (GITLAB_URL, GITLAB_ISSUER)
    from attestkit.core.issuers import forge_url

    return forge_url(kind, issuer), issuer


def forge_summary(
    publisher: PublisherBase, repository: str, workflow: str, environment: str | None
) -> str:
    text = f"{publisher.kind} {repository} workflow {workflow}"
    text += f" environment {environment}" if environment else ""
    issuer = publisher.extra.get("issuer_url")
    return text + (f" issuer {issuer}" if issuer else "")


@dataclass(frozen=True)
class UnsupportedPublisher:
    """A publisher of a kind attestkit does not know: kept verbatim, never verified."""

    raw: dict[str, Any]

    @property
    def kind(self) -> str:
        """The unknown ``kind`` string."""
        return str(self.raw.get("kind"))

    @property
    def supported(self) -> bool:
        """Always False: there is no policy for an unknown kind."""
        return False

    def policy(self) -> Policy:
        """Refuse: an unknown kind has no identity policy."""
        raise VerificationError(f"unsupported publisher kind {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        """The original object."""
        return dict(self.raw)

    def summary(self) -> str:
        """E.g. ``unsupported publisher kind 'Bitbucket'``."""
        return f"unsupported publisher kind {self.kind!r}"
