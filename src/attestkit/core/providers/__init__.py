"""CI providers, one module each; this registry is how the rest of attestkit finds them.

Adding a provider means writing one module here (see ``docs/providers.md``) and
listing its ``PROVIDER`` in :data:`PROVIDERS`: the index's Trusted Publishing,
the verifier's publishers, the local CA's certificate profiles and the server
configuration all read this registry.
"""

from __future__ import annotations

from attestkit.core.encoding import json_type
from attestkit.core.providers import activestate, buildkite, circleci, github, gitlab, google
from attestkit.core.providers.activestate import ActiveStatePublisher
from attestkit.core.providers.base import Provider
from attestkit.core.providers.circleci import CircleCIIdentity, CircleCIPublisher
from attestkit.core.providers.github import GitHubIdentity, GitHubPublisher
from attestkit.core.providers.gitlab import GitLabIdentity, GitLabPublisher
from attestkit.core.providers.google import GoogleIdentity, GooglePublisher
from attestkit.core.publishers import PublisherBase, UnsupportedPublisher
from attestkit.errors import InputError

__all__ = [
    "PROVIDERS",
    "ActiveStatePublisher",
    "CircleCIIdentity",
    "CircleCIPublisher",
    "GitHubIdentity",
    "GitHubPublisher",
    "GitLabIdentity",
    "GitLabPublisher",
    "GoogleIdentity",
    "GooglePublisher",
    "Provider",
    "Publisher",
    "UnsupportedPublisher",
    "by_fulcio_type",
    "by_issuer",
    "by_kind",
    "by_publisher_kind",
    "publisher_class",
    "publisher_from_dict",
]

#: Every provider, by configuration kind (``github``, ``gitlab``, ...).
PROVIDERS: dict[str, Provider] = {
    p.kind: p
    for p in (
        github.PROVIDER,
        gitlab.PROVIDER,
        google.PROVIDER,
        circleci.PROVIDER,
        buildkite.PROVIDER,
        activestate.PROVIDER,
    )
}

Publisher = (
    GitHubPublisher
    | GitLabPublisher
    | GooglePublisher
    | CircleCIPublisher
    | ActiveStatePublisher
    | UnsupportedPublisher
)

_PUBLISHERS: dict[str, type[PublisherBase]] = {
    cls.kind: cls
    for cls in (
        GitHubPublisher,
        GitLabPublisher,
        GooglePublisher,
        CircleCIPublisher,
        ActiveStatePublisher,
    )
}


def by_kind(kind: str) -> Provider | None:
    """The provider configured as ``kind`` (``github``, ``gitlab``, ...)."""
    return PROVIDERS.get(kind)


def by_publisher_kind(kind: str) -> Provider | None:
    """The provider whose PEP 740 publisher ``kind`` is ``kind`` (``GitHub``, ...)."""
    for provider in PROVIDERS.values():
        if provider.publisher_kind == kind:
            return provider
    return None


def publisher_class(kind: str) -> type[PublisherBase] | None:
    """The publisher class of PEP 740 ``kind``, or None for an unknown kind."""
    return _PUBLISHERS.get(kind)


def by_issuer(issuer: str) -> Provider | None:
    """The provider whose public issuer (or one of its issuer prefixes) is ``issuer``."""
    for provider in PROVIDERS.values():
        if provider.issuer == issuer or any(
            issuer.startswith(prefix) for prefix in provider.issuer_prefixes
        ):
            return provider
    return None


def by_fulcio_type(fulcio_type: str) -> Provider | None:
    """The provider whose tokens Fulcio certifies with ``fulcio_type`` (not ``email``)."""
    for provider in PROVIDERS.values():
        if provider.fulcio_type == fulcio_type and provider.profile is not None:
            return provider
    return None


def publisher_from_dict(obj: object) -> Publisher:
    """Parse a provenance ``publisher`` object (unknown kinds become UnsupportedPublisher)."""
    if not isinstance(obj, dict):
        raise InputError(f"publisher must be an object, got {json_type(obj)}")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InputError("publisher: missing kind")
    cls = _PUBLISHERS.get(kind)
    if cls is None:
        return UnsupportedPublisher(dict(obj))
    return cls.from_dict(obj)  # type: ignore[return-value]
