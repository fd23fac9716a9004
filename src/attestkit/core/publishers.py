"""Trusted Publisher identities, as PyPI records them in provenance (``publisher``).

The ``kind`` strings and fields match PyPI and pypi-attestations exactly.  Two
improvements over pypi-attestations (defects D14, D27 in ``docs/defects.md``):

* an unknown ``kind`` parses as :class:`UnsupportedPublisher` (kept verbatim,
  reported as unverifiable) instead of making the whole provenance unparseable;
* PEP 740's ``claims`` object and any unknown keys are preserved on round-trip.

>>> p = publisher_from_dict({"kind": "GitHub", "repository": "o/r", "workflow": "r.yml"})
>>> p.to_dict()
{'kind': 'GitHub', 'repository': 'o/r', 'workflow': 'r.yml', 'environment': None}
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from attestkit.core.constants import GITHUB_ISSUER, GITHUB_URL, GITLAB_ISSUER, GITLAB_URL
from attestkit.core.encoding import json_type
from attestkit.core.policy import (
    CircleCIIdentity,
    GitHubIdentity,
    GitLabIdentity,
    GoogleIdentity,
    Policy,
)
from attestkit.errors import InputError, VerificationError

__all__ = [
    "ActiveStatePublisher",
    "CircleCIPublisher",
    "GitHubPublisher",
    "GitLabPublisher",
    "GooglePublisher",
    "Publisher",
    "UnsupportedPublisher",
    "publisher_from_dict",
]


@dataclass(frozen=True, kw_only=True)
class _Base:
    kind: ClassVar[str]
    #: PEP 740 ``claims`` (PyPI omits it); ``None`` means absent.
    claims: dict[str, Any] | None = None
    #: Unknown keys, preserved verbatim.
    extra: dict[str, Any] = field(default_factory=dict)

    _OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> _Base:
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


def _custom_issuer(publisher: _Base) -> str | None:
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


def _forge(publisher: _Base, kind: str) -> tuple[str, str]:
    """The forge URL and OIDC issuer a certificate must name: the public ones
    (github.com, gitlab.com), or a self-hosted forge's (``issuer_url``)."""
    issuer = _custom_issuer(publisher)
    if issuer is None:
        return (GITHUB_URL, GITHUB_ISSUER) if kind == "github" else (GITLAB_URL, GITLAB_ISSUER)
    from attestkit.core.issuers import forge_url

    return forge_url(kind, issuer), issuer


def _forge_summary(
    publisher: _Base, repository: str, workflow: str, environment: str | None
) -> str:
    text = f"{publisher.kind} {repository} workflow {workflow}"
    text += f" environment {environment}" if environment else ""
    issuer = publisher.extra.get("issuer_url")
    return text + (f" issuer {issuer}" if issuer else "")


@dataclass(frozen=True, kw_only=True)
class GitHubPublisher(_Base):
    """GitHub Actions: ``repository`` (owner/repo), ``workflow`` (file name), ``environment``."""

    kind: ClassVar[str] = "GitHub"
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"environment"})
    repository: str
    workflow: str
    environment: str | None = None

    def policy(self) -> Policy:
        url, issuer = _forge(self, "github")
        return GitHubIdentity(
            self.repository, self.workflow, self.environment or None, url=url, issuer=issuer
        )

    def summary(self) -> str:
        return _forge_summary(self, self.repository, self.workflow, self.environment)


@dataclass(frozen=True, kw_only=True)
class GitLabPublisher(_Base):
    """GitLab CI/CD: ``repository`` (group/project), ``workflow_filepath``, ``environment``."""

    kind: ClassVar[str] = "GitLab"
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"environment"})
    repository: str
    workflow_filepath: str
    environment: str | None = None

    def policy(self) -> Policy:
        url, issuer = _forge(self, "gitlab")
        return GitLabIdentity(
            self.repository,
            self.workflow_filepath,
            self.environment or None,
            url=url,
            issuer=issuer,
        )

    def summary(self) -> str:
        return _forge_summary(self, self.repository, self.workflow_filepath, self.environment)


@dataclass(frozen=True, kw_only=True)
class GooglePublisher(_Base):
    """Google Cloud: the service account ``email``."""

    kind: ClassVar[str] = "Google"
    email: str

    def policy(self) -> Policy:
        return GoogleIdentity(self.email)

    def summary(self) -> str:
        return f"Google {self.email}"


@dataclass(frozen=True, kw_only=True)
class CircleCIPublisher(_Base):
    """CircleCI: project and pipeline definition ids, optional VCS origin and ref."""

    kind: ClassVar[str] = "CircleCI"
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"vcs_origin", "vcs_ref"})
    project_id: str
    pipeline_definition_id: str
    vcs_origin: str | None = None
    vcs_ref: str | None = None

    def policy(self) -> Policy:
        return CircleCIIdentity(
            self.project_id, self.pipeline_definition_id, self.vcs_origin, self.vcs_ref
        )

    def summary(self) -> str:
        return f"CircleCI project {self.project_id} pipeline {self.pipeline_definition_id}"


@dataclass(frozen=True, kw_only=True)
class ActiveStatePublisher(_Base):
    """ActiveState: a PyPI Trusted Publisher with no attestation identity (warehouse #18003).

    It parses and serialises, but :meth:`policy` refuses, exactly as PyPI does.
    """

    kind: ClassVar[str] = "ActiveState"
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"actor"})
    organization: str
    project: str
    actor_id: str
    actor: str | None = None

    @property
    def supported(self) -> bool:
        return False

    def summary(self) -> str:
        return f"ActiveState {self.organization}/{self.project}"


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


Publisher = (
    GitHubPublisher
    | GitLabPublisher
    | GooglePublisher
    | CircleCIPublisher
    | ActiveStatePublisher
    | UnsupportedPublisher
)

_KINDS: dict[str, type[_Base]] = {
    cls.kind: cls
    for cls in (
        GitHubPublisher,
        GitLabPublisher,
        GooglePublisher,
        CircleCIPublisher,
        ActiveStatePublisher,
    )
}


def publisher_from_dict(obj: object) -> Publisher:
    """Parse a provenance ``publisher`` object (unknown kinds become UnsupportedPublisher)."""
    if not isinstance(obj, dict):
        raise InputError(f"publisher must be an object, got {json_type(obj)}")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InputError("publisher: missing kind")
    cls = _KINDS.get(kind)
    if cls is None:
        return UnsupportedPublisher(dict(obj))
    return cls.from_dict(obj)  # type: ignore[return-value]
