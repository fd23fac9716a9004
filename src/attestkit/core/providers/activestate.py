"""ActiveState: a PyPI Trusted Publisher (warehouse ``warehouse/oidc/models/activestate.py``).

Its PEP 740 publisher parses but has no attestation identity (PyPI's rule);
its Trusted Publishing claim rules are PyPI's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from attestkit.core.constants import (
    ACTIVESTATE_ISSUER,
)
from attestkit.core.providers.base import (
    ClaimRules,
    Mismatch,
    Provider,
    claim_text,
    failed,
)
from attestkit.core.publishers import PublisherBase

__all__ = ["PROVIDER", "ActiveStatePublisher", "ActiveStateRules"]


@dataclass(frozen=True, kw_only=True)
class ActiveStatePublisher(PublisherBase):
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


class ActiveStateRules(ClaimRules):
    kind = "ActiveState"
    required = ("sub", "organization", "project", "actor_id", "builder")
    stored = ()
    identity_claim = "project"

    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        organization, project = str(config["organization"]), str(config["project"])
        for name, value in (("organization", organization), ("project", project)):
            if claims.get(name) != value:
                raise Mismatch(0, failed(name, value, claims.get(name)))
        if iss != ACTIVESTATE_ISSUER:
            raise Mismatch(
                1, f"JWT issuer {iss!r} does not match expected issuer {ACTIVESTATE_ISSUER!r}"
            )
        actor_id = str(config["actor_id"])
        if claims.get("actor_id") != actor_id:
            raise Mismatch(2, failed("actor_id", actor_id, claims.get("actor_id")))
        expected_sub = f"org:{organization}:project:{project}"
        components = claim_text(claims, "sub").split(":")
        if len(components) < 4 or ":".join(components[:4]) != expected_sub:
            raise Mismatch(3, failed("sub", expected_sub, claims.get("sub")))
        if claims.get("builder") != "pypi-publisher":
            raise Mismatch(4, failed("builder", "pypi-publisher", claims.get("builder")))

    def identity_text(self, claims: Mapping[str, Any]) -> str:
        return f"organization {claims.get('organization')!r}, project {claims.get('project')!r}"


PROVIDER = Provider(
    kind="activestate",
    name="ActiveState",
    issuer=ACTIVESTATE_ISSUER,
    fulcio_type="",  # Fulcio does not certify ActiveState tokens
    publisher_kind="ActiveState",
    rules=ActiveStateRules(),
    registration=(("organization", "project", "actor_id"), ("actor",)),
)
