"""GitHub Actions: everything attestkit knows about GitHub as a CI provider.

* the identity policy for its Fulcio certificates (:class:`GitHubIdentity`: PyPI's
  rules through pypi-attestations, plus ref and environment pins);
* the PEP 740 publisher PyPI records (:class:`GitHubPublisher`);
* the Trusted Publishing claim rules (:class:`GitHubRules`, warehouse
  ``warehouse/oidc/models/github.py``), with messages that explain reusable workflows;
* Fulcio's certificate profile for its tokens (``github-workflow``);
* the claims of a GitHub Actions token, as the development issuer simulates them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from attestkit.core.certificate import CertificateClaims
from attestkit.core.constants import (
    GITHUB_ISSUER,
    GITHUB_URL,
)
from attestkit.core.policy import Policy, check_environment, claim, expect
from attestkit.core.providers.base import (
    ClaimRules,
    FulcioProfile,
    Mismatch,
    Provider,
    claim_text,
    failed,
    fake_number,
    fake_sha,
    fold_prefix,
    workflow_filename,
)
from attestkit.core.publishers import PublisherBase, forge, forge_summary
from attestkit.errors import VerificationError

__all__ = [
    "PROFILE",
    "PROVIDER",
    "TOKEN_CLAIMS",
    "GitHubIdentity",
    "GitHubPublisher",
    "GitHubRules",
    "github_claims",
    "reusable_workflow_warning",
    "setup_hint",
]


@dataclass(frozen=True, slots=True)
class GitHubIdentity:
    """A GitHub Actions Trusted Publisher: repository, workflow file, optional pins.

    ``workflow=None`` accepts any top-level workflow of the repository (the
    accepted one is reported by ``verify``).  ``ref`` pins the Source
    Repository Ref (e.g. ``refs/tags/v1.0``).
    """

    repository: str
    workflow: str | None = None
    environment: str | None = None
    ref: str | None = None
    strict_environment: bool = False
    url: str = GITHUB_URL
    issuer: str = GITHUB_ISSUER

    def check(self, claims: CertificateClaims) -> None:
        """Apply PyPI's GitHub rules plus the optional pins."""
        expect(claims, "issuer", self.issuer)
        expect(claims, "source_repository_uri", f"{self.url}/{self.repository}")
        suffixes = [
            v
            for v in (
                claims.claims.get("source_repository_digest"),
                claims.claims.get("source_repository_ref"),
            )
            if v
        ]
        if not suffixes:
            raise VerificationError(
                "Certificate must contain either Source Repository Digest or Source Repository Ref"
            )
        build_config = claim(claims, "build_config_uri")
        prefix = f"{self.url}/{self.repository}/.github/workflows/"
        if self.workflow is not None:
            ok = any(build_config == f"{prefix}{self.workflow}@{s}" for s in suffixes)
        else:
            ok = any(
                build_config.startswith(prefix)
                and build_config.endswith(f"@{s}")
                and "/" not in build_config[len(prefix) : -len(s) - 1]
                for s in suffixes
            )
        if not ok:
            raise VerificationError(
                f"Certificate's Build Config URI ({build_config}) does not match expected"
                f" Trusted Publisher ({self.workflow or '*'} @ {self.repository})"
            )
        if self.ref is not None:
            expect(claims, "source_repository_ref", self.ref)
        check_environment(claims, self.environment, self.strict_environment)

    def describe(self) -> str:
        """E.g. ``GitHub owner/repo, workflow release.yml``."""
        text = f"GitHub {self.repository}, workflow {self.workflow or '(any)'}"
        if self.environment:
            text += f", environment {self.environment}"
        if self.ref:
            text += f", ref {self.ref}"
        return text


@dataclass(frozen=True, kw_only=True)
class GitHubPublisher(PublisherBase):
    """GitHub Actions: ``repository`` (owner/repo), ``workflow`` (file name), ``environment``."""

    kind: ClassVar[str] = "GitHub"
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"environment"})
    repository: str
    workflow: str
    environment: str | None = None

    def policy(self) -> Policy:
        url, issuer = forge(self, "github")
        return GitHubIdentity(
            self.repository, self.workflow, self.environment or None, url=url, issuer=issuer
        )

    def summary(self) -> str:
        return forge_summary(self, self.repository, self.workflow, self.environment)


class GitHubRules(ClaimRules):
    kind = "GitHub"
    required = (
        "repository",
        "repository_owner",
        "repository_owner_id",
        "job_workflow_ref",
        "jti",
        "event_name",
        "ref",
        "sha",
    )
    stored = (
        "ref",
        "sha",
        "workflow_ref",
        "job_workflow_ref",
        "event_name",
        "environment",
        "run_id",
        "run_attempt",
    )
    identity_claim = "repository"

    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        repository = str(config["repository"])
        workflow = str(config["workflow"])
        got = claim_text(claims, "repository")
        if not got or got.lower() != repository.lower():
            raise Mismatch(0, failed("repository", repository, claims.get("repository")))
        expected_iss = str(config.get("issuer_url") or GITHUB_ISSUER).rstrip("/")
        if iss.rstrip("/") != expected_iss:
            raise Mismatch(1, f"JWT issuer {iss!r} does not match expected issuer {expected_iss!r}")
        owner = repository.split("/", 1)[0]
        if claim_text(claims, "repository_owner").lower() != owner.lower():
            raise Mismatch(2, failed("repository_owner", owner, claims.get("repository_owner")))
        owner_id = config.get("repository_owner_id")
        if owner_id and claims.get("repository_owner_id") != str(owner_id):
            raise Mismatch(
                3,
                failed(
                    "repository_owner_id",
                    str(owner_id),
                    claims.get("repository_owner_id"),
                    hint="the repository's owner account is not the one the publisher was"
                    " registered for (was the account deleted and its name reused?)",
                ),
            )
        self._check_job_workflow_ref(repository, workflow, claims)
        if claims.get("event_name") == "pull_request_target":
            raise Mismatch(
                5,
                "Publishing from a workflow invoked via 'pull_request_target' is not supported.",
            )
        environment = config.get("environment")
        if environment:
            got_env = claim_text(claims, "environment")
            if not got_env or got_env.lower() != str(environment).lower():
                hint = "" if got_env else "the job does not run in a deployment environment"
                raise Mismatch(
                    6,
                    failed(
                        "environment",
                        str(environment),
                        claims.get("environment"),
                        optional=True,
                        hint=hint,
                    ),
                )

    @staticmethod
    def _check_job_workflow_ref(repository: str, workflow: str, claims: Mapping[str, Any]) -> None:
        job_ref = claim_text(claims, "job_workflow_ref")
        if not job_ref:
            raise Mismatch(4, "The job_workflow_ref claim is empty")
        refs = [r for r in (claim_text(claims, "ref"), claim_text(claims, "sha")) if r]
        if not refs:
            raise Mismatch(4, "The ref and sha claims are empty")
        base = f"{repository}/.github/workflows/{workflow}"
        expected = sorted(f"{base}@{r}" for r in refs)
        separator = "/.github/workflows/"
        if fold_prefix(job_ref, separator) in {fold_prefix(e, separator) for e in expected}:
            return
        callee = workflow_filename(job_ref)
        workflow_ref = claim_text(claims, "workflow_ref")
        callee_repo = job_ref.partition(separator)[0]
        if workflow_ref and workflow_ref != job_ref:
            caller = workflow_filename(workflow_ref) or workflow_ref
            if callee_repo.lower() != claim_text(claims, "repository").lower():
                hint = (
                    f"the token comes from workflow {caller!r}, which calls the reusable"
                    f" workflow {job_ref!r} from another repository; Trusted Publishing matches"
                    " the called workflow, and only a workflow of the publishing repository"
                    f" {repository!r} can match"
                )
            else:
                hint = (
                    f"the token comes from workflow {caller!r}, which calls the reusable"
                    f" workflow {callee!r}; Trusted Publishing matches the called workflow,"
                    f" so the publisher must name workflow {callee!r}"
                )
        elif callee is not None and callee != workflow:
            hint = f"the publisher names workflow {workflow!r}, but the token comes from {callee!r}"
        else:
            hint = "the part after '@' is neither the 'ref' nor the 'sha' claim"
        raise Mismatch(
            4,
            f"Check failed for required claim 'job_workflow_ref': expected one of {expected!r},"
            f" got {job_ref!r}; {hint}",
        )

    def specificity(self, config: Mapping[str, Any]) -> int:
        return 1 if config.get("environment") else 0


def github_claims(
    repository: str,
    workflow: str = "release.yml",
    ref: str = "refs/heads/main",
    *,
    environment: str | None = None,
    sha: str | None = None,
    event_name: str = "push",
    job_workflow_ref: str | None = None,
    job_workflow_sha: str | None = None,
    workflow_sha: str | None = None,
    workflow_name: str | None = None,
    repository_id: str | None = None,
    owner_id: str | None = None,
    run_id: str | None = None,
    run_number: str = "1",
    run_attempt: str = "1",
    visibility: str = "public",
    runner_environment: str = "github-hosted",
    actor: str | None = None,
) -> dict[str, Any]:
    """The claims of a GitHub Actions token (``iss`` https://token.actions.githubusercontent.com).

    ``workflow`` is the workflow file under ``.github/workflows/`` (e.g.
    ``release.yml``); ``ref`` the full Git ref.  ``job_workflow_ref`` names a
    reusable workflow (``owner/repo/.github/workflows/build.yml@refs/tags/v1``)
    called by ``workflow``; it defaults to ``workflow_ref`` (no reusable
    workflow).  ``sub`` follows GitHub: ``repo:O/R:environment:E`` with an
    environment, ``repo:O/R:pull_request`` for pull requests, else
    ``repo:O/R:ref:REF``.
    """
    owner = repository.split("/", 1)[0]
    workflow = workflow.removeprefix(".github/workflows/")
    sha = sha or fake_sha("commit", repository, ref)
    workflow_ref = f"{repository}/.github/workflows/{workflow}@{ref}"
    workflow_sha = workflow_sha or sha
    if job_workflow_ref is None:
        job_workflow_ref = workflow_ref
        job_workflow_sha = job_workflow_sha or workflow_sha
    else:
        job_workflow_sha = job_workflow_sha or fake_sha("commit", job_workflow_ref)
    if environment:
        sub = f"repo:{repository}:environment:{environment}"
    elif event_name in ("pull_request", "pull_request_target"):
        sub = f"repo:{repository}:pull_request"
    else:
        sub = f"repo:{repository}:ref:{ref}"
    actor = actor or owner
    claims: dict[str, Any] = {
        "iss": GITHUB_ISSUER,
        "sub": sub,
        "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "ref_protected": "false",
        "sha": sha,
        "repository": repository,
        "repository_id": repository_id or fake_number("repository", repository),
        "repository_owner": owner,
        "repository_owner_id": owner_id or fake_number("owner", owner),
        "repository_visibility": visibility,
        "actor": actor,
        "actor_id": fake_number("actor", actor),
        "run_id": run_id or fake_number("run", repository, workflow, ref, digits=10),
        "run_number": run_number,
        "run_attempt": run_attempt,
        "workflow": workflow_name or workflow.rsplit(".", 1)[0],
        "workflow_ref": workflow_ref,
        "workflow_sha": workflow_sha,
        "job_workflow_ref": job_workflow_ref,
        "job_workflow_sha": job_workflow_sha,
        "head_ref": "",
        "base_ref": "",
        "event_name": event_name,
        "runner_environment": runner_environment,
    }
    if environment:
        claims["environment"] = environment
    return claims


#: Fulcio's certificate profile for this provider's tokens.
PROFILE = FulcioProfile(
    name="GitHub Actions",
    san="{url}/{job_workflow_ref}",
    defaults={"url": "https://github.com", "environment": ""},
    extensions={
        2: "event_name",
        3: "sha",
        4: "workflow",
        5: "repository",
        6: "ref",
        9: "{url}/{job_workflow_ref}",
        10: "job_workflow_sha",
        11: "runner_environment",
        12: "{url}/{repository}",
        13: "sha",
        14: "ref",
        15: "repository_id",
        16: "{url}/{repository_owner}",
        17: "repository_owner_id",
        18: "{url}/{workflow_ref}",
        19: "workflow_sha",
        20: "event_name",
        21: "{url}/{repository}/actions/runs/{run_id}/attempts/{run_attempt}",
        22: "repository_visibility",
        23: "environment",
    },
)


#: The claims of a GitHub token that identify a publisher (shown when a mint is refused).
TOKEN_CLAIMS = (
    "sub",
    "repository",
    "repository_owner",
    "repository_owner_id",
    "workflow_ref",
    "job_workflow_ref",
    "ref",
    "environment",
)


def setup_hint(audience: str) -> str:
    """How a GitHub Actions job gets an OIDC token."""
    del audience  # GitHub's token endpoint takes the audience per request
    return "GitHub Actions: add `permissions: id-token: write` to the publishing job"


def reusable_workflow_warning(claims: Mapping[str, Any]) -> str | None:
    """For a token from a reusable workflow, the warning that the callee must be named."""
    workflow_ref = claims.get("workflow_ref")
    job_workflow_ref = claims.get("job_workflow_ref")
    if not workflow_ref or not job_workflow_ref or workflow_ref == job_workflow_ref:
        return None
    called = str(job_workflow_ref).split("@", 1)[0].rsplit("/", 1)[-1]
    caller = str(workflow_ref).split("@", 1)[0].rsplit("/", 1)[-1]
    return (
        f"this job runs the reusable workflow {job_workflow_ref} (called from {workflow_ref}):"
        f" the index matches the called workflow, so the Trusted Publisher must name the"
        f" workflow file {called!r}, not {caller!r}"
    )


PROVIDER = Provider(
    kind="github",
    name="GitHub Actions",
    issuer=GITHUB_ISSUER,
    fulcio_type="github-workflow",
    publisher_kind="GitHub",
    rules=GitHubRules(),
    profile=PROFILE,
    custom_issuers=True,
    registration=(("repository", "workflow"), ("environment", "repository_owner_id", "issuer_url")),
    token_claims=TOKEN_CLAIMS,
    setup_hint=setup_hint,
)
