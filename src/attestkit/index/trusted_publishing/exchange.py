"""Trusted Publishing: exchange a CI provider's OIDC token for a short-lived upload token.

PyPI's protocol (warehouse ``warehouse/oidc/views.py``), served on the upload host:

* ``GET /_/oidc/audience`` answers ``{"audience": <config.audience>}``, or 403
  ``{"message": "Trusted publishing functionality not enabled"}`` when no issuer
  is configured;
* ``POST /_/oidc/mint-token`` (alias ``/_/oidc/github/mint-token``) takes
  ``{"token": "<OIDC JWT>"}`` and answers ``200 {"success": true, "token":
  "pypi-...", "expires": <unix>}`` or ``422 {"message": "Token request failed",
  "errors": [{"code", "description"}]}`` with PyPI's codes, descriptions and
  check order.

The token is routed by its *unverified* ``iss`` to a configured
:class:`~attestkit.index.instance.OidcIssuer`, verified (RS256 only, ``kid``
required, keys from a static JWKS and/or OpenID discovery, strict single-string
``aud``, 30 s leeway), matched against the registered Trusted Publishers with
each provider's claim rules (pending publishers create their project first),
protected against replay by an atomic insert of its ``jti``, and exchanged for
an API token scoped to the matching publisher.

Improvements over PyPI:

* an ``invalid-publisher`` description names the claim that failed with the
  expected and actual values, and explains reusable workflows (the publisher
  must name the *called* workflow); expected values are only shown from
  publishers that share the token's repository, project path, email or
  ActiveState project, so a stranger's token learns nothing about other
  projects' publishers;
* ``invalid-token`` keeps PyPI's description and appends the reason in
  parentheses (expired, wrong audience, unknown key, ...);
* an issuer whose keys cannot be fetched (network error while an unknown
  ``kid`` needs them) gives ``503`` with ``Retry-After``, not a misleading
  "invalid token";
* no description ever contains the submitted token (PyPI's pydantic error
  text echoes the input).

Custom issuers: GitHub and GitLab publishers may name their own issuer
(``issuer_url``: a GitHub Enterprise Server's ``https://HOST/_services/token``,
a self-managed GitLab's URL).  A token whose ``iss`` is no configured issuer is
routed to the publishers registered with that ``issuer_url`` (looked up per
token, so a publisher added while the server runs counts at once); its keys
come from that issuer's OpenID discovery, over HTTPS (plain HTTP only on
loopback, for tests).  An issuer nobody registered is never contacted.
Google and ActiveState publishers accept only their provider's real issuer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from attestkit.core.constants import ACTIVESTATE_ISSUER, GITHUB_ISSUER, GITLAB_ISSUER, GOOGLE_ISSUER
from attestkit.core.issuers import OidcIssuer
from attestkit.errors import ServiceError
from attestkit.oidc.jwks import (
    JWKS_REFRESH_INTERVAL,
    JWKS_TIMEOUT,
    JwksCache,
    JwksUnavailable,
    fetch_jwks,
)
from attestkit.oidc.jwt import signature_only_claims

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from attestkit.index.db import TrustedPublisher
    from attestkit.index.instance import Index

__all__ = [
    "AUDIENCE_PATH",
    "BUILTIN_ISSUERS",
    "JWKS_REFRESH_INTERVAL",
    "JWKS_TIMEOUT",
    "LEEWAY",
    "MINT_PATHS",
    "JwksCache",
    "JwksUnavailable",
    "MintError",
    "MintResult",
    "TrustedPublishing",
    "fetch_jwks",
    "routes",
]

log = logging.getLogger(__name__)

AUDIENCE_PATH = "/_/oidc/audience"
MINT_PATHS = ("/_/oidc/mint-token", "/_/oidc/github/mint-token")
#: Clock skew allowed on ``exp``, ``iat`` and ``nbf`` (PyPI: 30 s).
LEEWAY = 30
#: Seconds a client should wait after a 503 (issuer keys unavailable).
RETRY_AFTER = 30
#: Largest accepted mint request body (real OIDC tokens are a few KiB).
MAX_BODY = 64 * 1024
#: Longest ``jti`` stored for replay protection (the column holds 300).
MAX_JTI = 255

#: The providers' real issuer strings -> service name (``OidcIssuer.kind``).
BUILTIN_ISSUERS: dict[str, str] = {
    GITHUB_ISSUER: "github",
    GITLAB_ISSUER: "gitlab",
    GOOGLE_ISSUER: "google",
    ACTIVESTATE_ISSUER: "activestate",
}

NOT_ENABLED = "Trusted publishing functionality not enabled"
_FAILED = "Token request failed"
_INVALID_TOKEN = "malformed or invalid token"  # noqa: S105 - an error message
_REUSED = "invalid token: already used"


# -- errors and results ---------------------------------------------------------


class MintError(ServiceError):
    """A failed token exchange: one ``{"code", "description"}`` error of the 422 answer."""

    def __init__(self, code: str, description: str, *, status: int = 422) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def result(self) -> MintResult:
        """The HTTP answer for this error."""
        headers = {"Retry-After": str(RETRY_AFTER)} if self.status == 503 else {}
        body = {
            "message": _FAILED,
            "errors": [{"code": self.code, "description": self.description}],
        }
        return MintResult(self.status, body, headers)


def _invalid_token(reason: str) -> MintError:
    return MintError("invalid-token", f"{_INVALID_TOKEN} ({reason})")


def _invalid_publisher(reason: str) -> MintError:
    return MintError("invalid-publisher", f"valid token, but no corresponding publisher ({reason})")


@dataclass(frozen=True)
class MintResult:
    """An HTTP answer of the Trusted Publishing endpoints (framework-free)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


# -- per-provider claim rules ------------------------------------------------------


class _Mismatch(Exception):  # noqa: N818 - internal control flow
    """A publisher does not match the claims; ``stage`` says how far matching got."""

    def __init__(self, stage: int, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


def _failed(
    claim: str, expected: object, got: object, *, optional: bool = False, hint: str = ""
) -> str:
    kind = "optional" if optional else "required"
    text = f"Check failed for {kind} claim {claim!r}: expected {expected!r}, got {got!r}"
    return f"{text}; {hint}" if hint else text


def _text(claims: Mapping[str, Any], name: str) -> str:
    """A claim as a string ('' when absent, null or not a string)."""
    value = claims.get(name)
    return value if isinstance(value, str) else ""


_WORKFLOW_FILENAME = re.compile(r"([^/]+\.(yml|yaml))(?=@)")


def _workflow_filename(workflow_ref: str) -> str | None:
    match = _WORKFLOW_FILENAME.search(workflow_ref)
    return match.group(1) if match else None


def _fold_prefix(value: str, separator: str) -> str:
    """Lower-case the part before ``separator`` (a case-insensitive repository path)."""
    head, sep, tail = value.partition(separator)
    return head.lower() + sep + tail if sep else value.lower()


class _Rules(ABC):
    """How one publisher kind is matched against verified claims."""

    kind: ClassVar[str]
    #: Claims that must be present and non-null before any lookup.
    required: ClassVar[tuple[str, ...]]
    #: Claims copied into the minted token's row (when present).
    stored: ClassVar[tuple[str, ...]]
    #: The claim naming the primary identity, for "not found" messages.
    identity_claim: ClassVar[str]

    @abstractmethod
    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        """Raise :class:`_Mismatch` at the first check that fails."""

    def specificity(self, config: Mapping[str, Any]) -> int:
        """Higher wins when several publishers match (e.g. one with an environment)."""
        return 0


class _GitHub(_Rules):
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
        got = _text(claims, "repository")
        if not got or got.lower() != repository.lower():
            raise _Mismatch(0, _failed("repository", repository, claims.get("repository")))
        expected_iss = str(config.get("issuer_url") or GITHUB_ISSUER).rstrip("/")
        if iss.rstrip("/") != expected_iss:
            raise _Mismatch(
                1, f"JWT issuer {iss!r} does not match expected issuer {expected_iss!r}"
            )
        owner = repository.split("/", 1)[0]
        if _text(claims, "repository_owner").lower() != owner.lower():
            raise _Mismatch(2, _failed("repository_owner", owner, claims.get("repository_owner")))
        owner_id = config.get("repository_owner_id")
        if owner_id and claims.get("repository_owner_id") != str(owner_id):
            raise _Mismatch(
                3,
                _failed(
                    "repository_owner_id",
                    str(owner_id),
                    claims.get("repository_owner_id"),
                    hint="the repository's owner account is not the one the publisher was"
                    " registered for (was the account deleted and its name reused?)",
                ),
            )
        self._check_job_workflow_ref(repository, workflow, claims)
        if claims.get("event_name") == "pull_request_target":
            raise _Mismatch(
                5,
                "Publishing from a workflow invoked via 'pull_request_target' is not supported.",
            )
        environment = config.get("environment")
        if environment:
            got_env = _text(claims, "environment")
            if not got_env or got_env.lower() != str(environment).lower():
                hint = "" if got_env else "the job does not run in a deployment environment"
                raise _Mismatch(
                    6,
                    _failed(
                        "environment",
                        str(environment),
                        claims.get("environment"),
                        optional=True,
                        hint=hint,
                    ),
                )

    @staticmethod
    def _check_job_workflow_ref(repository: str, workflow: str, claims: Mapping[str, Any]) -> None:
        job_ref = _text(claims, "job_workflow_ref")
        if not job_ref:
            raise _Mismatch(4, "The job_workflow_ref claim is empty")
        refs = [r for r in (_text(claims, "ref"), _text(claims, "sha")) if r]
        if not refs:
            raise _Mismatch(4, "The ref and sha claims are empty")
        base = f"{repository}/.github/workflows/{workflow}"
        expected = sorted(f"{base}@{r}" for r in refs)
        separator = "/.github/workflows/"
        if _fold_prefix(job_ref, separator) in {_fold_prefix(e, separator) for e in expected}:
            return
        callee = _workflow_filename(job_ref)
        workflow_ref = _text(claims, "workflow_ref")
        callee_repo = job_ref.partition(separator)[0]
        if workflow_ref and workflow_ref != job_ref:
            caller = _workflow_filename(workflow_ref) or workflow_ref
            if callee_repo.lower() != _text(claims, "repository").lower():
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
        raise _Mismatch(
            4,
            f"Check failed for required claim 'job_workflow_ref': expected one of {expected!r},"
            f" got {job_ref!r}; {hint}",
        )

    def specificity(self, config: Mapping[str, Any]) -> int:
        return 1 if config.get("environment") else 0


class _GitLab(_Rules):
    kind = "GitLab"
    required = ("sub", "project_path", "ci_config_ref_uri", "jti", "ref_path", "sha")
    stored = ("ref_path", "sha", "ci_config_ref_uri", "environment", "pipeline_id", "job_id")
    identity_claim = "project_path"

    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        path = str(config["repository"])
        ci_file = str(config["workflow_filepath"])
        got = _text(claims, "project_path")
        if not got or got.lower() != path.lower():
            raise _Mismatch(0, _failed("project_path", path, claims.get("project_path")))
        expected_iss = str(config.get("issuer_url") or GITLAB_ISSUER).rstrip("/")
        if iss.rstrip("/") != expected_iss:
            raise _Mismatch(
                1, f"JWT issuer {iss!r} does not match expected issuer {expected_iss!r}"
            )
        components = _text(claims, "sub").split(":")
        sub = ":".join(components[:2]).lower()
        if len(components) < 2 or sub != f"project_path:{path}".lower():
            raise _Mismatch(2, _failed("sub", f"project_path:{path}", claims.get("sub")))
        ref_uri = _text(claims, "ci_config_ref_uri")
        if not ref_uri:
            raise _Mismatch(3, "The ci_config_ref_uri claim is empty")
        ref_path, sha = _text(claims, "ref_path"), _text(claims, "sha")
        if not (ref_path and sha):
            raise _Mismatch(3, "The ref_path and sha claims are empty")
        host = urlsplit(expected_iss).netloc
        expected = sorted(f"{host}/{path}//{ci_file}@{r}" for r in (ref_path, sha))
        if _fold_prefix(ref_uri, "//") not in {_fold_prefix(e, "//") for e in expected}:
            got_file = ref_uri.partition("//")[2].rpartition("@")[0]
            hint = (
                f"the publisher names CI file {ci_file!r}, but the token comes from {got_file!r}"
                if got_file and got_file != ci_file
                else "the part after '@' is neither the 'ref_path' nor the 'sha' claim"
            )
            raise _Mismatch(
                3,
                "Check failed for required claim 'ci_config_ref_uri': expected one of"
                f" {expected!r}, got {ref_uri!r}; {hint}",
            )
        environment = config.get("environment")
        if environment and claims.get("environment") != environment:
            raise _Mismatch(
                4,
                _failed(
                    "environment",
                    environment,
                    claims.get("environment"),
                    optional=True,
                    hint="GitLab environments are case-sensitive",
                ),
            )

    def specificity(self, config: Mapping[str, Any]) -> int:
        return 1 if config.get("environment") else 0


class _Google(_Rules):
    kind = "Google"
    required = ("email", "email_verified")
    stored = ("email", "sub")
    identity_claim = "email"

    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        email = str(config["email"])
        if claims.get("email") != email:
            raise _Mismatch(0, _failed("email", email, claims.get("email")))
        if iss != GOOGLE_ISSUER:
            raise _Mismatch(
                1, f"JWT issuer {iss!r} does not match expected issuer {GOOGLE_ISSUER!r}"
            )
        if claims.get("email_verified") is not True:
            raise _Mismatch(2, _failed("email_verified", True, claims.get("email_verified")))
        sub = config.get("sub")
        if sub and claims.get("sub") != sub:
            raise _Mismatch(3, _failed("sub", sub, claims.get("sub"), optional=True))

    def specificity(self, config: Mapping[str, Any]) -> int:
        return 1 if config.get("sub") else 0


class _ActiveState(_Rules):
    kind = "ActiveState"
    required = ("sub", "organization", "project", "actor_id", "builder")
    stored = ()
    identity_claim = "project"

    def check(self, config: Mapping[str, Any], claims: Mapping[str, Any], iss: str) -> None:
        organization, project = str(config["organization"]), str(config["project"])
        for name, value in (("organization", organization), ("project", project)):
            if claims.get(name) != value:
                raise _Mismatch(0, _failed(name, value, claims.get(name)))
        if iss != ACTIVESTATE_ISSUER:
            raise _Mismatch(
                1, f"JWT issuer {iss!r} does not match expected issuer {ACTIVESTATE_ISSUER!r}"
            )
        actor_id = str(config["actor_id"])
        if claims.get("actor_id") != actor_id:
            raise _Mismatch(2, _failed("actor_id", actor_id, claims.get("actor_id")))
        expected_sub = f"org:{organization}:project:{project}"
        components = _text(claims, "sub").split(":")
        if len(components) < 4 or ":".join(components[:4]) != expected_sub:
            raise _Mismatch(3, _failed("sub", expected_sub, claims.get("sub")))
        if claims.get("builder") != "pypi-publisher":
            raise _Mismatch(4, _failed("builder", "pypi-publisher", claims.get("builder")))


_RULES: dict[str, _Rules] = {
    "github": _GitHub(),
    "gitlab": _GitLab(),
    "google": _Google(),
    "activestate": _ActiveState(),
}


def _identity_text(rules: _Rules, claims: Mapping[str, Any]) -> str:
    if isinstance(rules, _ActiveState):
        return f"organization {claims.get('organization')!r}, project {claims.get('project')!r}"
    return f"{rules.identity_claim} {claims.get(rules.identity_claim)!r}"


# -- the exchange -----------------------------------------------------------------


class _PendingProjectExists(Exception):  # noqa: N818 - internal control flow
    def __init__(self, publisher_id: int) -> None:
        super().__init__(publisher_id)
        self.publisher_id = publisher_id


class TrustedPublishing:
    """The Trusted Publishing service of one index (framework-free; the routes call it).

    ``clock`` returns the current Unix time; ``fetch`` fetches a JWKS from a
    discovery URL; ``monotonic`` paces JWKS refreshes (all replaceable for
    tests).  One instance keeps the JWKS caches, so build it once per index.
    """

    def __init__(
        self,
        index: Index,
        *,
        clock: Callable[[], float] = time.time,
        fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index = index
        self._clock = clock
        self._fetch = fetch
        self._monotonic = monotonic
        self.issuers: dict[str, OidcIssuer] = {}
        self._caches: dict[str, JwksCache] = {}
        #: Issuers registered on publishers (``issuer_url``), discovered on first use.
        self._custom: dict[str, OidcIssuer] = {}
        self._custom_lock = threading.Lock()
        for issuer in index.config.oidc_issuers:
            _validate_issuer(issuer)
            if issuer.iss in self.issuers:
                raise ValueError(f"OIDC issuer {issuer.iss!r} is configured twice")
            self.issuers[issuer.iss] = issuer
            self._caches[issuer.iss] = JwksCache(issuer, fetch=fetch, clock=monotonic)
        self._last_purge = float("-inf")
        self._purge_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether any issuer is configured, or registered on a publisher."""
        return bool(self.issuers) or self._any_custom_issuer()

    def _any_custom_issuer(self) -> bool:
        from sqlalchemy import select

        from attestkit.index.db import TrustedPublisher

        with self.index.session() as session:
            found = session.scalar(
                select(TrustedPublisher.id)
                .where(TrustedPublisher.config["issuer_url"].as_string().is_not(None))
                .limit(1)
            )
        return found is not None

    def custom_issuer(self, iss: str) -> OidcIssuer | None:
        """The issuer ``iss`` if GitHub or GitLab publishers are registered with it as
        their ``issuer_url``; None otherwise (and then nothing is fetched from it)."""
        from sqlalchemy import select

        from attestkit.core.issuers import check_issuer_url
        from attestkit.index.db import TrustedPublisher

        try:
            iss = check_issuer_url(iss)
        except ValueError:
            return None
        with self.index.session() as session:
            kinds = set(
                session.scalars(
                    select(TrustedPublisher.kind)
                    .where(TrustedPublisher.kind.in_(("GitHub", "GitLab")))
                    .where(TrustedPublisher.config["issuer_url"].as_string() == iss)
                )
            )
        if not kinds:
            return None
        if len(kinds) > 1:
            raise MintError(
                "invalid-payload",
                f"issuer {iss!r} is registered for both GitHub and GitLab publishers;"
                " an issuer belongs to one kind of CI",
            )
        kind = kinds.pop().lower()
        with self._custom_lock:
            issuer = self._custom.get(iss)
            if issuer is None or issuer.kind != kind:
                issuer = OidcIssuer(iss, kind, discovery_url=iss)
                self._custom[iss] = issuer
                self._caches[iss] = JwksCache(issuer, fetch=self._fetch, clock=self._monotonic)
        return issuer

    def audience(self) -> MintResult:
        """Answer ``GET /_/oidc/audience``."""
        if not self.enabled:
            return MintResult(403, {"message": NOT_ENABLED})
        return MintResult(200, {"audience": self.index.config.audience})

    def mint(self, body: bytes) -> MintResult:
        """Answer ``POST /_/oidc/mint-token`` with the raw request ``body``."""
        try:
            token = _parse_body(body)
            issuer, claims = self.verify(token)
            return self.exchange(issuer, claims)
        except MintError as exc:
            log.info("Trusted Publishing refused: %s: %s", exc.code, exc.description)
            return exc.result()

    # -- verification (rows 2-5) --------------------------------------------------

    def verify(self, token: str) -> tuple[OidcIssuer, dict[str, Any]]:
        """Route ``token`` to its issuer and verify it; return the issuer and the claims."""
        import jwt

        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except Exception:  # PyJWTError, and whatever else odd input makes the decoder raise
            raise MintError("invalid-payload", "malformed JWT") from None
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise MintError("invalid-payload", "malformed JWT")
        issuer = self.issuers.get(iss) or self.custom_issuer(iss)
        if issuer is None:
            service = BUILTIN_ISSUERS.get(iss)
            if service is None:
                raise MintError("invalid-payload", "unknown trusted publishing issuer")
            raise MintError(
                "not-enabled", f"{service} trusted publishing functionality not enabled"
            )
        if header.get("alg") != "RS256":
            raise _invalid_token(f"signing algorithm {header.get('alg')!r} is not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid_token(f"the token header has no key ID ('kid') for issuer {iss!r}")
        try:
            key = self._caches[issuer.iss].key(kid)
        except JwksUnavailable as exc:
            raise MintError(
                "issuer-unavailable",
                f"the signing keys of issuer {iss!r} could not be fetched ({exc}); try again later",
                status=503,
            ) from None
        if key is None:
            raise _invalid_token(f"unknown signing key {kid!r} for issuer {iss!r}")
        try:
            claims = signature_only_claims(token, key)
        except jwt.InvalidSignatureError:
            raise _invalid_token(f"the signature does not verify with key {kid!r}") from None
        except jwt.PyJWTError as exc:
            raise _invalid_token(str(exc)) from None
        self._check_standard_claims(claims, iss)
        return issuer, claims

    def _check_standard_claims(self, claims: Mapping[str, Any], iss: str) -> None:
        for name in ("iss", "iat", "exp", "aud"):
            if claims.get(name) is None:
                raise _invalid_token(f"the token has no {name!r} claim")
        if claims["iss"] != iss:
            raise _invalid_token(f"issuer {claims['iss']!r} is not {iss!r}")
        now = self._clock()
        times: dict[str, float] = {}
        for name in ("iat", "exp", "nbf"):
            value = claims.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _invalid_token(f"the {name!r} claim is not a number")
            times[name] = float(value)
        if times["exp"] <= now - LEEWAY:
            ago = int(now - times["exp"])
            raise _invalid_token(f"the token expired {ago} s ago; request a new one")
        if times["iat"] > now + LEEWAY:
            raise _invalid_token("the token was issued in the future ('iat'); check the clocks")
        if "nbf" in times and times["nbf"] > now + LEEWAY:
            raise _invalid_token("the token is not valid yet ('nbf')")
        aud = claims["aud"]
        expected = self.index.config.audience
        if not isinstance(aud, str):
            raise _invalid_token(
                f"the audience must be the single string {expected!r}, not {type(aud).__name__}"
                f" {aud!r}"
            )
        if aud != expected:
            raise _invalid_token(
                f"audience {aud!r} is not this index's {expected!r} (see GET {AUDIENCE_PATH})"
            )
        jti = claims.get("jti")
        if jti is not None and (not isinstance(jti, str) or not jti or len(jti) > MAX_JTI):
            raise _invalid_token(f"the 'jti' claim is not a string of 1 to {MAX_JTI} characters")

    # -- matching and minting (rows 6-10) --------------------------------------------

    def exchange(self, issuer: OidcIssuer, claims: Mapping[str, Any]) -> MintResult:
        """Match verified ``claims`` to a publisher and mint its upload token."""
        from sqlalchemy.exc import IntegrityError

        self._purge_used_jtis()
        for attempt in (1, 2):
            try:
                with self.index.session() as session:
                    return self._exchange(session, issuer, claims)
            except _PendingProjectExists as exc:
                self._delete_pending(exc.publisher_id)
                raise MintError(
                    "invalid-pending-publisher", "valid token, but project already exists"
                ) from None
            except IntegrityError:
                # A concurrent exchange created the same project: match again.
                if attempt == 2:
                    raise MintError(
                        "invalid-payload", "conflicting concurrent request; try again"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(
        self, session: Session, issuer: OidcIssuer, claims: Mapping[str, Any]
    ) -> MintResult:
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        from attestkit.errors import InputError
        from attestkit.index import admin
        from attestkit.index.db import TrustedPublisher, UsedJti, User

        rules = _RULES[issuer.kind]
        for name in rules.required:
            if claims.get(name) is None:
                raise _invalid_publisher(f"Missing claim {name!r}")
        candidates = list(
            session.scalars(
                select(TrustedPublisher)
                .where(TrustedPublisher.kind == rules.kind)
                .order_by(TrustedPublisher.id)
            )
        )
        publisher = _select(rules, candidates, claims, issuer.iss)
        jti = claims.get("jti")
        if isinstance(jti, str) and session.get(UsedJti, (issuer.iss, jti)) is not None:
            raise MintError("invalid-reuse-token", _REUSED)
        if publisher.project_id is None:
            name = publisher.pending_project_name or ""
            if admin.find_project(session, name) is not None:
                raise _PendingProjectExists(publisher.id)
            owner = session.get(User, publisher.added_by_id) if publisher.added_by_id else None
            try:
                project = admin.create_project(session, name, owner)
            except InputError as exc:
                raise MintError("invalid-payload", str(exc)) from None
            publisher.project_id = project.id
            publisher.pending_project_name = None
            session.flush()
            log.info("pending publisher %d created project %r", publisher.id, project.name)
        now = int(self._clock())
        if isinstance(jti, str):
            exp = float(claims["exp"])
            session.add(
                UsedJti(
                    issuer=issuer.iss,
                    jti=jti,
                    expires=dt.datetime.fromtimestamp(exp + LEEWAY + 5, dt.UTC),
                )
            )
            try:
                session.flush()
            except IntegrityError:
                raise MintError("invalid-reuse-token", _REUSED) from None
        expires = now + self.index.config.minted_token_lifetime
        stored = {name: claims[name] for name in rules.stored if claims.get(name) is not None}
        token, _row = admin.create_token(
            session,
            publisher=publisher,
            expires=dt.datetime.fromtimestamp(expires, dt.UTC),
            description=f"Trusted Publishing ({rules.kind}, publisher {publisher.id})",
            claims=stored,
        )
        return MintResult(200, {"success": True, "token": token, "expires": expires})

    def _delete_pending(self, publisher_id: int) -> None:
        from sqlalchemy import delete

        from attestkit.index.db import TrustedPublisher

        with self.index.session() as session:
            session.execute(
                delete(TrustedPublisher).where(
                    TrustedPublisher.id == publisher_id, TrustedPublisher.project_id.is_(None)
                )
            )

    def _purge_used_jtis(self) -> None:
        """Delete expired replay-protection rows (at most once a minute, best effort)."""
        from sqlalchemy import delete
        from sqlalchemy.exc import SQLAlchemyError

        from attestkit.index.db import UsedJti

        now = self._clock()
        with self._purge_lock:
            if now - self._last_purge < 60:
                return
            self._last_purge = now
        try:
            with self.index.session() as session:
                session.execute(
                    delete(UsedJti).where(UsedJti.expires < dt.datetime.fromtimestamp(now, dt.UTC))
                )
        except SQLAlchemyError as exc:  # pragma: no cover - retried on the next mint
            log.warning("purging expired jti rows failed: %s", exc)


def _select(
    rules: _Rules,
    candidates: Sequence[TrustedPublisher],
    claims: Mapping[str, Any],
    iss: str,
) -> TrustedPublisher:
    """The publisher the claims match: pending ones first, then the most specific.

    Otherwise raise ``invalid-publisher`` naming the failed check of the
    closest publisher that shares the token's primary identity.
    """
    matched: list[TrustedPublisher] = []
    closest: _Mismatch | None = None
    for candidate in candidates:
        try:
            rules.check(candidate.config, claims, iss)
        except _Mismatch as exc:
            if closest is None or exc.stage > closest.stage:
                closest = exc
            continue
        matched.append(candidate)
    if matched:
        pending = [p for p in matched if p.project_id is None]
        pool = pending or matched
        return max(pool, key=lambda p: (rules.specificity(p.config), -p.id))
    if closest is None or closest.stage == 0:
        raise _invalid_publisher(
            "Publisher with matching claims was not found: no"
            f" {rules.kind} publisher is registered for {_identity_text(rules, claims)}"
        )
    raise _invalid_publisher(closest.reason)


def _validate_issuer(issuer: OidcIssuer) -> None:
    if issuer.kind not in _RULES:
        raise ValueError(
            f"OIDC issuer {issuer.iss!r}: unsupported kind {issuer.kind!r}"
            f" (one of {', '.join(_RULES)})"
        )
    builtin = BUILTIN_ISSUERS.get(issuer.iss)
    if builtin is not None and builtin != issuer.kind:
        raise ValueError(f"OIDC issuer {issuer.iss!r} is {builtin!r}, not {issuer.kind!r}")
    if builtin is None and issuer.kind not in ("github", "gitlab"):
        raise ValueError(
            f"OIDC issuer {issuer.iss!r}: only GitHub (Enterprise Server) and GitLab"
            f" (self-managed) support custom issuers; {issuer.kind} publishers accept only"
            " their provider's issuer"
        )


def _parse_body(body: bytes) -> str:
    """The ``token`` of a ``{"token": "<JWT>"}`` body (row 1; the token is never echoed)."""
    shape = 'expected a JSON object {"token": "<OIDC token>"}'
    if len(body) > MAX_BODY:
        raise MintError("invalid-payload", f"request body exceeds {MAX_BODY} bytes; {shape}")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MintError("invalid-payload", f"request body is not valid JSON; {shape}") from None
    if not isinstance(payload, dict):
        raise MintError(
            "invalid-payload", f"request body is a JSON {type(payload).__name__}; {shape}"
        )
    if "token" not in payload:
        raise MintError("invalid-payload", f"field 'token' is missing; {shape}")
    token = payload["token"]
    if not isinstance(token, str):
        kind = "null" if token is None else type(token).__name__
        raise MintError("invalid-payload", f"field 'token' must be a string, not {kind}")
    return token


# -- HTTP ---------------------------------------------------------------------------


def routes(index: Index) -> list[BaseRoute]:
    """The Trusted Publishing routes of ``index`` (audience and mint-token, with its alias).

    Raises :class:`ValueError` for an unsupported issuer configuration.
    """
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    service = TrustedPublishing(index)

    def answer(result: MintResult) -> Response:
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)

    async def audience(request: Request) -> Response:
        return answer(service.audience())

    async def mint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                break
        return answer(await run_in_threadpool(service.mint, bytes(body)))

    return [
        Route(AUDIENCE_PATH, audience, methods=["GET"]),
        *(Route(path, mint, methods=["POST"]) for path in MINT_PATHS),
    ]
