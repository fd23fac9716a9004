"""CircleCI: identity policy, PEP 740 publisher, Fulcio's ``circleci-job`` profile, fake claims.

PyPI has no CircleCI Trusted Publishing; pypi-attestations 0.0.30 verifies
CircleCI attestations, and so does attestkit.  Fulcio accepts the root issuer
and the per-organization ones (``https://oidc.circleci.com/org/<id>``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from attestkit.core.certificate import CertificateClaims
from attestkit.core.constants import (
    CIRCLECI_ISSUER,
)
from attestkit.core.policy import Policy, claim, expect
from attestkit.core.providers.base import (
    ClaimLookup,
    FulcioProfile,
    Provider,
    fake_uuid,
)
from attestkit.core.publishers import PublisherBase
from attestkit.errors import VerificationError

__all__ = [
    "CIRCLE_SIGNER",
    "PROFILE",
    "PROVIDER",
    "CircleCIIdentity",
    "CircleCIPublisher",
    "circleci_claims",
    "circleci_runner",
    "setup_hint",
]


@dataclass(frozen=True, slots=True)
class CircleCIIdentity:
    """A CircleCI Trusted Publisher: project and pipeline definition ids."""

    project_id: str
    pipeline_definition_id: str
    vcs_origin: str | None = None
    vcs_ref: str | None = None

    def check(self, claims: CertificateClaims) -> None:
        """Issuer, Build Signer URI, and the optional VCS origin and ref."""
        expect(claims, "issuer", CIRCLECI_ISSUER)
        if self.vcs_origin is not None:
            expect(claims, "source_repository_uri", self.vcs_origin)
        if self.vcs_ref is not None:
            expect(claims, "source_repository_ref", self.vcs_ref)
        expected = (
            f"https://circleci.com/api/v2/projects/{self.project_id}"
            f"/pipeline-definitions/{self.pipeline_definition_id}"
        )
        actual = claim(claims, "build_signer_uri")
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


@dataclass(frozen=True, kw_only=True)
class CircleCIPublisher(PublisherBase):
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


def circleci_runner(lookup: ClaimLookup) -> str:
    # Fulcio's template yields the two characters "" when not an SSH rerun; emit nothing.
    return "ssh-rerun" if lookup.optional("oidc.circleci.com/ssh-rerun") == "true" else ""


# Fulcio reads CircleCI claims with ``index`` (missing -> empty).  The ids that
# name the pipeline, job and workflow are required here (real tokens always have
# them); only the VCS origin and ref are optional (absent for webhook triggers).
CIRCLE_SIGNER = (
    "{api_url}/projects/{oidc.circleci.com/project-id}"
    "/pipeline-definitions/{oidc.circleci.com/pipeline-definition-id}"
)


def circleci_claims(
    project_id: str,
    pipeline_definition_id: str,
    *,
    vcs_origin: str | None = None,
    vcs_ref: str | None = None,
    org_id: str | None = None,
    pipeline_id: str | None = None,
    workflow_id: str | None = None,
    job_id: str | None = None,
    user_id: str | None = None,
    context_ids: Sequence[str] = (),
    ssh_rerun: bool = False,
) -> dict[str, Any]:
    """The claims of a CircleCI token, as ``circleci run oidc get --root-issuer`` returns.

    The per-organization issuer is ``https://oidc.circleci.com/org/<org-id>``;
    Fulcio and pypi-attestations use the root issuer https://oidc.circleci.com,
    and so does this.  ``vcs_origin`` (e.g. ``github.com/org/repo``, no scheme)
    and ``vcs_ref`` (``refs/heads/main``) are left out when not given, as for
    pipelines triggered by custom webhooks.
    """
    org_id = org_id or fake_uuid("org", project_id)
    user_id = user_id or fake_uuid("user", project_id)
    prefix = "oidc.circleci.com/"
    claims: dict[str, Any] = {
        "iss": CIRCLECI_ISSUER,
        "sub": f"org/{org_id}/project/{project_id}/user/{user_id}",
        f"{prefix}org-id": org_id,
        f"{prefix}project-id": project_id,
        f"{prefix}pipeline-definition-id": pipeline_definition_id,
        f"{prefix}pipeline-id": pipeline_id or fake_uuid("pipeline", project_id, vcs_ref),
        f"{prefix}workflow-id": workflow_id or fake_uuid("workflow", project_id, vcs_ref),
        f"{prefix}job-id": job_id or fake_uuid("job", project_id, vcs_ref),
        f"{prefix}context-ids": list(context_ids),
        f"{prefix}ssh-rerun": ssh_rerun,
    }
    if vcs_origin is not None:
        claims[f"{prefix}vcs-origin"] = vcs_origin
    if vcs_ref is not None:
        claims[f"{prefix}vcs-ref"] = vcs_ref
    return claims


#: Fulcio's certificate profile for this provider's tokens.
PROFILE = FulcioProfile(
    name="CircleCI",
    san=CIRCLE_SIGNER,
    defaults={
        "api_url": "https://circleci.com/api/v2",
        "platform_url": "https://app.circleci.com/",
    },
    extensions={
        9: CIRCLE_SIGNER,
        11: circleci_runner,
        12: "{?oidc.circleci.com/vcs-origin}",
        14: "{?oidc.circleci.com/vcs-ref}",
        18: "{api_url}/pipeline/{oidc.circleci.com/pipeline-id}/config",
        21: (
            "{platform_url}/workflow/{oidc.circleci.com/workflow-id}/job/{oidc.circleci.com/job-id}"
        ),
    },
)


def setup_hint(audience: str) -> str:
    """How a CircleCI job gets an OIDC token."""
    del audience
    return "CircleCI: with the `circleci` CLI and OIDC enabled"


PROVIDER = Provider(
    kind="circleci",
    name="CircleCI",
    issuer=CIRCLECI_ISSUER,
    fulcio_type="circleci-job",
    publisher_kind="CircleCI",
    profile=PROFILE,
    issuer_prefixes=(CIRCLECI_ISSUER + "/org/",),
    registration=(
        ("project_id", "pipeline_definition_id"),
        ("vcs_origin", "vcs_ref", "organization_id"),
    ),
    setup_hint=setup_hint,
)
