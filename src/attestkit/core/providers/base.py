"""What a CI provider module defines, and the helpers its claim rules share.

A provider module (``github.py``, ``gitlab.py``, ...) holds everything pure that
attestkit knows about one CI provider: its :class:`Provider` entry (issuer,
publisher kind, Fulcio issuer type), its PEP 740 publisher and identity policy,
its Trusted Publishing :class:`ClaimRules`, its Fulcio certificate profile
(:class:`FulcioProfile`) and the claims the development issuer simulates.
Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from attestkit.errors import AttestkitError

__all__ = [
    "ClaimLookup",
    "ClaimRules",
    "FulcioProfile",
    "Mismatch",
    "Provider",
    "Template",
    "claim_text",
    "failed",
    "fake_number",
    "fake_sha",
    "fake_uuid",
    "fold_prefix",
    "workflow_filename",
]


@dataclass(frozen=True)
class Provider:
    """One CI provider (or identity provider) as attestkit knows it.

    ``kind`` is the lower-case name used in configuration (``[[issuer]] kind``,
    ``OidcIssuer.kind``); ``publisher_kind`` the PEP 740 / PyPI ``kind`` string
    (None when PyPI has no publisher for it); ``issuer`` the provider's public
    OIDC issuer; ``fulcio_type`` Fulcio's issuer type, which selects the
    certificate profile ('' when Fulcio does not certify the provider's tokens);
    ``custom_issuers`` whether a publisher may name its own
    issuer (GitHub Enterprise Server, self-managed GitLab).
    """

    kind: str
    name: str
    issuer: str | None
    fulcio_type: str
    publisher_kind: str | None = None
    rules: ClaimRules | None = None
    profile: FulcioProfile | None = None
    custom_issuers: bool = False
    #: Extra issuer prefixes of the provider (CircleCI's per-organization issuers).
    issuer_prefixes: tuple[str, ...] = ()
    #: Trusted Publisher registration on an index: (required, optional) config keys.
    registration: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    #: The token claims that identify a publisher, shown when an exchange is refused.
    token_claims: tuple[str, ...] = ()
    #: What to configure in a CI job to get an OIDC token for an audience (one line).
    setup_hint: Callable[[str], str] | None = None


# -- Trusted Publishing claim rules ----------------------------------------------


class Mismatch(AttestkitError):  # noqa: N818 - reads better at the raise sites
    """A publisher does not match the claims; ``stage`` says how far matching got."""

    def __init__(self, stage: int, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage


class ClaimRules(ABC):
    """How one publisher kind is matched against a token's verified claims (PyPI's rules)."""

    kind: ClassVar[str]
    #: Claims that must be present and non-null before any lookup.
    required: ClassVar[tuple[str, ...]]
    #: Claims copied into the minted token's row (when present).
    stored: ClassVar[tuple[str, ...]]
    #: The claim naming the primary identity, for "not found" messages.
    identity_claim: ClassVar[str]

    @abstractmethod
    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        """Raise :class:`Mismatch` at the first check that fails."""

    def specificity(self, config: Mapping[str, Any]) -> int:
        """Higher wins when several publishers match (e.g. one with an environment)."""
        return 0

    def identity_text(self, claims: Mapping[str, Any]) -> str:
        """The token's identity, for "no publisher" messages."""
        return f"{self.identity_claim} {claims.get(self.identity_claim)!r}"


def failed(
    claim: str, expected: object, got: object, *, optional: bool = False, hint: str = ""
) -> str:
    """PyPI's "Check failed for required claim" message, with an optional hint."""
    kind = "optional" if optional else "required"
    text = f"Check failed for {kind} claim {claim!r}: expected {expected!r}, got {got!r}"
    return f"{text}; {hint}" if hint else text


def claim_text(claims: Mapping[str, Any], name: str) -> str:
    """A claim as a string ('' when absent, null or not a string)."""
    value = claims.get(name)
    return value if isinstance(value, str) else ""


_WORKFLOW_FILENAME = re.compile(r"([^/]+\.(yml|yaml))(?=@)")


def workflow_filename(workflow_ref: str) -> str | None:
    """The workflow file name in ``owner/repo/.github/workflows/NAME.yml@ref``."""
    match = _WORKFLOW_FILENAME.search(workflow_ref)
    return match.group(1) if match else None


def fold_prefix(value: str, separator: str) -> str:
    """Lower-case the part before ``separator`` (a case-insensitive repository path)."""
    head, sep, tail = value.partition(separator)
    return head.lower() + sep + tail if sep else value.lower()


# -- Fulcio certificate profiles (Fulcio's config/identity/config.yaml) -----------


class ClaimLookup(Protocol):
    """A token's claims over a profile's defaults, as templates read them."""

    def required(self, name: str) -> str:
        """The claim, which must exist."""

    def optional(self, name: str) -> str:
        """The claim, or '' when missing."""


#: A template: a bare claim name (copied; must exist), a ``{...}`` format, or a function.
Template = str | Callable[[ClaimLookup], str]


@dataclass(frozen=True)
class FulcioProfile:
    """How Fulcio renders a provider's token: the SAN and the extensions by OID number."""

    name: str
    san: Template
    extensions: Mapping[int, Template]
    defaults: Mapping[str, str] = field(default_factory=dict)


# -- deterministic defaults for simulated claims ---------------------------------


def fake_sha(*parts: object) -> str:
    """A fake 40-hex commit SHA derived from ``parts`` (reproducible tests)."""
    return hashlib.sha1("\0".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def fake_number(*parts: object, digits: int = 9) -> str:
    """A fake numeric id (as a string, like CI claims) derived from ``parts``."""
    value = int(fake_sha(*parts), 16) % (9 * 10 ** (digits - 1))
    return str(value + 10 ** (digits - 1))


def fake_uuid(*parts: object) -> str:
    """A fake UUID derived from ``parts``."""
    return str(uuid.UUID(fake_sha(*parts)[:32]))
