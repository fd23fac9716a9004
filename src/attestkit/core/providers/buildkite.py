"""Buildkite: Fulcio's ``buildkite-job`` certificate profile and simulated agent-token claims.

PyPI has no Buildkite publisher; signing from Buildkite works (the identity is
checked with ``verify --identity``)."""

from __future__ import annotations

from typing import Any

from attestkit.core.constants import (
    BUILDKITE_ISSUER,
)
from attestkit.core.providers.base import (
    FulcioProfile,
    Provider,
    fake_sha,
    fake_uuid,
)

__all__ = ["PROFILE", "PROVIDER", "buildkite_claims", "setup_hint"]


def buildkite_claims(
    organization_slug: str,
    pipeline_slug: str,
    *,
    build_number: int = 1,
    build_branch: str = "main",
    build_tag: str | None = None,
    build_commit: str | None = None,
    build_source: str = "webhook",
    step_key: str | None = None,
    job_id: str | None = None,
    agent_id: str | None = None,
    runner_environment: str = "buildkite-hosted",
) -> dict[str, Any]:
    """The claims of a Buildkite agent token (``iss`` https://agent.buildkite.com)."""
    build_commit = build_commit or fake_sha(
        "commit", organization_slug, pipeline_slug, build_number
    )
    ref = f"refs/tags/{build_tag}" if build_tag else f"refs/heads/{build_branch}"
    claims: dict[str, Any] = {
        "iss": BUILDKITE_ISSUER,
        "sub": (
            f"organization:{organization_slug}:pipeline:{pipeline_slug}:ref:{ref}"
            f":commit:{build_commit}:step:{step_key or ''}"
        ),
        "organization_slug": organization_slug,
        "organization_id": fake_uuid("org", organization_slug),
        "pipeline_slug": pipeline_slug,
        "pipeline_id": fake_uuid("pipeline", organization_slug, pipeline_slug),
        "build_number": build_number,
        "build_branch": build_branch,
        "build_tag": build_tag,
        "build_commit": build_commit,
        "build_source": build_source,
        "step_key": step_key,
        "job_id": job_id or fake_uuid("job", organization_slug, pipeline_slug, build_number),
        "agent_id": agent_id or fake_uuid("agent", organization_slug),
        "runner_environment": runner_environment,
    }
    return claims


#: Fulcio's certificate profile for this provider's tokens.
PROFILE = FulcioProfile(
    name="Buildkite",
    san="{url}/{organization_slug}/{pipeline_slug}",
    defaults={"url": "https://buildkite.com"},
    extensions={
        11: "runner_environment",
        13: "build_commit",
        20: "build_source",
        21: "{url}/{organization_slug}/{pipeline_slug}/builds/{build_number}#{job_id}",
    },
)


def setup_hint(audience: str) -> str:
    """How a Buildkite job gets an OIDC token."""
    del audience
    return "Buildkite: run on an agent with `buildkite-agent oidc`"


PROVIDER = Provider(
    kind="buildkite",
    name="Buildkite",
    issuer=BUILDKITE_ISSUER,
    fulcio_type="buildkite-job",
    profile=PROFILE,
    setup_hint=setup_hint,
)
