"""GitLab CI/CD: everything attestkit knows about GitLab as a CI provider.

The identity policy (:class:`GitLabIdentity`), the PEP 740 publisher
(:class:`GitLabPublisher`), the Trusted Publishing claim rules
(:class:`GitLabRules`, warehouse ``warehouse/oidc/models/gitlab.py``), Fulcio's
``gitlab-pipeline`` certificate profile and the simulated token claims.  A
self-managed GitLab is the same provider with its own issuer URL."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from attestkit.core.certificate import CertificateClaims
from attestkit.core.constants import (
    GITLAB_ISSUER,
    GITLAB_URL,
)
from attestkit.core.policy import Policy, check_environment, claim, expect
from attestkit.core.providers.base import (
    ClaimLookup,
    ClaimRules,
    FulcioProfile,
    Mismatch,
    Provider,
    claim_text,
    failed,
    fake_number,
    fake_sha,
    fold_prefix,
)
from attestkit.core.publishers import PublisherBase, forge, forge_summary
from attestkit.errors import VerificationError

__all__ = [
    "PROFILE",
    "PROVIDER",
    "TOKEN_CLAIMS",
    "GitLabIdentity",
    "GitLabPublisher",
    "GitLabRules",
    "gitlab_claims",
    "gitlab_ref",
    "id_token_variable",
    "setup_hint",
]


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
        expect(claims, "issuer", self.issuer)
        expect(claims, "source_repository_uri", f"{self.url}/{self.repository}")
        digest = claim(claims, "source_repository_digest")
        ref = claim(claims, "source_repository_ref")
        build_config = claim(claims, "build_config_uri")
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
            expect(claims, "source_repository_ref", self.ref)
        check_environment(claims, self.environment, self.strict_environment)

    def describe(self) -> str:
        """E.g. ``GitLab group/project, workflow .gitlab-ci.yml``."""
        text = f"GitLab {self.repository}, workflow {self.workflow_filepath or '(any)'}"
        if self.environment:
            text += f", environment {self.environment}"
        return text


@dataclass(frozen=True, kw_only=True)
class GitLabPublisher(PublisherBase):
    """GitLab CI/CD: ``repository`` (group/project), ``workflow_filepath``, ``environment``."""

    kind: ClassVar[str] = "GitLab"
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"environment"})
    repository: str
    workflow_filepath: str
    environment: str | None = None

    def policy(self) -> Policy:
        url, issuer = forge(self, "gitlab")
        return GitLabIdentity(
            self.repository,
            self.workflow_filepath,
            self.environment or None,
            url=url,
            issuer=issuer,
        )

    def summary(self) -> str:
        return forge_summary(self, self.repository, self.workflow_filepath, self.environment)


class GitLabRules(ClaimRules):
    kind = "GitLab"
    required = ("sub", "project_path", "ci_config_ref_uri", "jti", "ref_path", "sha")
    stored = ("ref_path", "sha", "ci_config_ref_uri", "environment", "pipeline_id", "job_id")
    identity_claim = "project_path"

    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        path = str(config["repository"])
        ci_file = str(config["workflow_filepath"])
        got = claim_text(claims, "project_path")
        if not got or got.lower() != path.lower():
            raise Mismatch(0, failed("project_path", path, claims.get("project_path")))
        expected_iss = str(config.get("issuer_url") or GITLAB_ISSUER).rstrip("/")
        if iss.rstrip("/") != expected_iss:
            raise Mismatch(1, f"JWT issuer {iss!r} does not match expected issuer {expected_iss!r}")
        components = claim_text(claims, "sub").split(":")
        sub = ":".join(components[:2]).lower()
        if len(components) < 2 or sub != f"project_path:{path}".lower():
            raise Mismatch(2, failed("sub", f"project_path:{path}", claims.get("sub")))
        ref_uri = claim_text(claims, "ci_config_ref_uri")
        if not ref_uri:
            raise Mismatch(3, "The ci_config_ref_uri claim is empty")
        ref_path, sha = claim_text(claims, "ref_path"), claim_text(claims, "sha")
        if not (ref_path and sha):
            raise Mismatch(3, "The ref_path and sha claims are empty")
        host = urlsplit(expected_iss).netloc
        expected = sorted(f"{host}/{path}//{ci_file}@{r}" for r in (ref_path, sha))
        if fold_prefix(ref_uri, "//") not in {fold_prefix(e, "//") for e in expected}:
            got_file = ref_uri.partition("//")[2].rpartition("@")[0]
            hint = (
                f"the publisher names CI file {ci_file!r}, but the token comes from {got_file!r}"
                if got_file and got_file != ci_file
                else "the part after '@' is neither the 'ref_path' nor the 'sha' claim"
            )
            raise Mismatch(
                3,
                "Check failed for required claim 'ci_config_ref_uri': expected one of"
                f" {expected!r}, got {ref_uri!r}; {hint}",
            )
        environment = config.get("environment")
        if environment and claims.get("environment") != environment:
            raise Mismatch(
                4,
                failed(
                    "environment",
                    environment,
                    claims.get("environment"),
                    optional=True,
                    hint="GitLab environments are case-sensitive",
                ),
            )

    def specificity(self, config: Mapping[str, Any]) -> int:
        return 1 if config.get("environment") else 0


def gitlab_ref(lookup: ClaimLookup) -> str:
    kind = "heads" if lookup.required("ref_type") == "branch" else "tags"
    return f"refs/{kind}/{lookup.required('ref')}"


def gitlab_claims(
    project_path: str,
    ci_config_path: str = ".gitlab-ci.yml",
    ref: str = "main",
    ref_type: str = "branch",
    *,
    environment: str | None = None,
    sha: str | None = None,
    ci_config_sha: str | None = None,
    project_id: str | None = None,
    namespace_id: str | None = None,
    pipeline_id: str | None = None,
    job_id: str | None = None,
    pipeline_source: str = "push",
    visibility: str = "public",
    runner_environment: str = "gitlab-hosted",
    ref_protected: bool = True,
    user_login: str | None = None,
    issuer: str = GITLAB_ISSUER,
) -> dict[str, Any]:
    """The claims of a GitLab CI token (``iss`` https://gitlab.com, or a self-managed
    GitLab's URL given as ``issuer``).

    ``ref`` is the bare branch or tag name and ``ref_type`` ``branch`` or
    ``tag``; ``ci_config_ref_uri`` is built the GitLab way (the instance's host
    and path without scheme, ``//`` before the file, full ref after ``@``).
    """
    if ref_type not in ("branch", "tag"):
        raise ValueError(f"ref_type must be 'branch' or 'tag', not {ref_type!r}")
    namespace_path = project_path.rsplit("/", 1)[0] if "/" in project_path else project_path
    sha = sha or fake_sha("commit", project_path, ref)
    full_ref = f"refs/{'heads' if ref_type == 'branch' else 'tags'}/{ref}"
    user_login = user_login or namespace_path.split("/", 1)[0]
    pid = project_id or fake_number("project", project_path, digits=8)
    issuer = issuer.rstrip("/")
    host = issuer.split("://", 1)[-1]
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": f"project_path:{project_path}:ref_type:{ref_type}:ref:{ref}",
        "namespace_id": namespace_id or fake_number("namespace", namespace_path, digits=8),
        "namespace_path": namespace_path,
        "project_id": pid,
        "project_path": project_path,
        "project_visibility": visibility,
        "user_id": fake_number("user", user_login, digits=7),
        "user_login": user_login,
        "user_email": f"{user_login}@example.com",
        "user_access_level": "maintainer",
        "pipeline_id": pipeline_id or fake_number("pipeline", project_path, ref, digits=10),
        "pipeline_source": pipeline_source,
        "job_id": job_id or fake_number("job", project_path, ref, digits=10),
        "job_project_id": pid,
        "job_project_path": project_path,
        "ref": ref,
        "ref_type": ref_type,
        "ref_path": full_ref,
        "ref_protected": "true" if ref_protected else "false",
        "sha": sha,
        "ci_config_ref_uri": f"{host}/{project_path}//{ci_config_path}@{full_ref}",
        "ci_config_sha": ci_config_sha or sha,
        "runner_id": fake_number("runner", project_path, digits=8),
        "runner_environment": runner_environment,
    }
    if environment:
        claims["environment"] = environment
        claims["environment_protected"] = "false"
        claims["deployment_tier"] = "production"
    return claims


#: Fulcio's certificate profile for this provider's tokens.
PROFILE = FulcioProfile(
    name="GitLab CI",
    san="https://{ci_config_ref_uri}",
    defaults={"url": "https://gitlab.com", "environment": ""},
    extensions={
        9: "https://{ci_config_ref_uri}",
        10: "ci_config_sha",
        11: "runner_environment",
        12: "{url}/{project_path}",
        13: "sha",
        14: gitlab_ref,
        15: "project_id",
        16: "{url}/{namespace_path}",
        17: "namespace_id",
        18: "https://{ci_config_ref_uri}",
        19: "ci_config_sha",
        20: "pipeline_source",
        21: "{url}/{project_path}/-/jobs/{job_id}",
        22: "project_visibility",
        23: "environment",
    },
)


#: The claims of a GitLab token that identify a publisher (shown when a mint is refused).
TOKEN_CLAIMS = ("sub", "project_path", "ci_config_ref_uri", "ref", "environment")


def id_token_variable(audience: str) -> str:
    """The ``id_tokens`` variable a job declares for ``audience`` (as ``id`` looks it up)."""
    return re.sub(r"[^A-Z0-9_]|^[0-9]", "_", audience.upper()) + "_ID_TOKEN"


def setup_hint(audience: str) -> str:
    """How a GitLab CI job gets an OIDC token for ``audience``."""
    var = id_token_variable(audience)
    return (
        f"GitLab CI: declare `id_tokens: {var}: aud: {audience}` (and"
        " `SIGSTORE_ID_TOKEN: aud: sigstore` for signing) in the job"
    )


PROVIDER = Provider(
    kind="gitlab",
    name="GitLab CI/CD",
    issuer=GITLAB_ISSUER,
    fulcio_type="gitlab-pipeline",
    publisher_kind="GitLab",
    rules=GitLabRules(),
    profile=PROFILE,
    custom_issuers=True,
    registration=(("repository", "workflow_filepath"), ("environment", "issuer_url")),
    token_claims=TOKEN_CLAIMS,
    setup_hint=setup_hint,
)
