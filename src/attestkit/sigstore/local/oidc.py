"""The OIDC issuer of a local Sigstore instance: RS256 tokens for CI identities and a local user.

One RSA key (:attr:`KeyStore.oidc_key`) signs every token.  The instance mints
tokens that carry the *real* issuer strings and claim sets of GitHub Actions,
GitLab CI, Google, CircleCI and Buildkite (as the providers' OIDC documentation
lists them), so the certificates its CA issues look like production Fulcio certificates and
pass the same identity policies.  The CA trusts the instance key for those
issuer strings and for the instance's own URL; nothing outside the instance
does.

Three ways to obtain a token, all framework-free (the HTTP layer calls them):

* :meth:`Issuer.mint` with a claim set from :func:`github_claims`,
  :func:`gitlab_claims`, :func:`google_claims`, :func:`circleci_claims`,
  :func:`buildkite_claims` or :func:`email_claims`;
* :meth:`Issuer.actions_token`: GitHub's ``ACTIONS_ID_TOKEN_REQUEST_URL``
  endpoint (``GET ...?audience=sigstore`` with ``Authorization: bearer
  <request token>``, answering ``{"value": jwt}``), as ``id`` calls it.  As on
  GitHub, the request token (:meth:`Issuer.request_token`) is bound when it is
  issued to one identity, one job and an expiry; the query may only choose the
  audience;
* :meth:`Issuer.authorize`, :meth:`Issuer.approve` and :meth:`Issuer.exchange`:
  the authorization-code flow with PKCE (RFC 7636, S256 only) that
  sigstore-python's interactive ``Issuer.identity_token()`` runs, for one local
  user (email identity).  The login waits for a one-time approval code that the
  server prints on its console (``auto_approve`` skips it, for tests), so
  reaching the port is not enough to get a certificate.

:func:`verify_token` is the CA-side check (signature, ``iss``, ``aud``, expiry),
raising :class:`TokenError` with a one-line reason.

The CI claim builders live with their providers (``core/providers/<kind>.py``,
re-exported here); identifiers and commit SHAs a builder is not given are
derived from its inputs with SHA-1, so tests are reproducible.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attestkit.core.constants import (
    BUILDKITE_ISSUER,
    CIRCLECI_ISSUER,
    GITHUB_ISSUER,
    GITLAB_ISSUER,
    GOOGLE_ISSUER,
)
from attestkit.core.providers.base import fake_number
from attestkit.core.providers.buildkite import buildkite_claims
from attestkit.core.providers.circleci import circleci_claims
from attestkit.core.providers.github import github_claims
from attestkit.core.providers.gitlab import gitlab_claims
from attestkit.core.providers.google import google_claims
from attestkit.sigstore.local.login import (
    CODE_LIFETIME,
    LOGIN_LIFETIME,
    MAX_APPROVAL_ATTEMPTS,
    OOB_REDIRECT_URI,
    LoginFlow,
    LoginPrompt,
    _Code,
    _default_login_email,
    email_claims,
)
from attestkit.sigstore.local.token_check import (
    DEFAULT_AUDIENCE,
    DEFAULT_LEEWAY,
    TokenError,
    verify_token,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from attestkit.oidc.jwks import JwksCache
    from attestkit.sigstore.local.keys import KeyStore

    #: The keys of one trusted issuer: static public keys, or discovered ones.
    KeySource = Sequence[rsa.RSAPublicKey] | JwksCache

__all__ = [
    "CI_ISSUERS",
    "CODE_LIFETIME",
    "DEFAULT_AUDIENCE",
    "DEFAULT_LEEWAY",
    "JWKS_PATH",
    "LOGIN_LIFETIME",
    "MAX_APPROVAL_ATTEMPTS",
    "OOB_REDIRECT_URI",
    "REQUEST_TOKEN_LIFETIME",
    "Issuer",
    "LoginPrompt",
    "TokenError",
    "buildkite_claims",
    "circleci_claims",
    "email_claims",
    "github_claims",
    "gitlab_claims",
    "google_claims",
    "verify_token",
]

#: The CI issuer strings the local instance mints tokens for (and its CA trusts).
CI_ISSUERS = (GITHUB_ISSUER, GITLAB_ISSUER, GOOGLE_ISSUER, CIRCLECI_ISSUER, BUILDKITE_ISSUER)
#: Where the JWKS is served, relative to the instance URL.
JWKS_PATH = "/.well-known/jwks.json"
#: Seconds a job request token stays valid: a GitHub-hosted job runs at most six hours.
REQUEST_TOKEN_LIFETIME = 6 * 3600
#: The identity fields a job request token is bound to (github_claims' inputs).
_BOUND_FIELDS = ("repository", "workflow", "ref", "environment", "sha")


# -- verification -------------------------------------------------------------


# -- the issuer ---------------------------------------------------------------


class Issuer(LoginFlow):
    """The instance's OIDC issuer: discovery, JWKS, minting, PKCE login, GitHub's endpoint.

    ``url`` is the instance's base URL (the ``iss`` of local-user tokens).
    ``login_email`` is the local user that the interactive flow signs in; by
    default ``<OS user>@localhost``.  Each login waits for a one-time approval
    code, handed to ``on_login(prompt, code)`` for the server to print on its
    console, unless ``auto_approve`` (tests).  ``clock`` returns the current
    Unix time (tests replace it).  Thread-safe.
    """

    def __init__(
        self,
        keys: KeyStore,
        url: str,
        *,
        login_email: str | None = None,
        auto_approve: bool = False,
        on_login: Callable[[LoginPrompt, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.url = url.rstrip("/")
        self.login_email = login_email or _default_login_email()
        self.auto_approve = auto_approve
        self._on_login = on_login
        self._clock = clock
        self._codes: dict[str, _Code] = {}
        self._approved: dict[str, float] = {}
        self._attempts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    # -- discovery ------------------------------------------------------------

    def public_key(self) -> rsa.RSAPublicKey:
        """The RSA key that verifies every token this issuer mints."""
        return self.keys.oidc_key.public_key()

    def trusted_issuers(self) -> dict[str, list[rsa.RSAPublicKey]]:
        """Issuer string -> keys, for :func:`verify_token` and the CA: CI issuers and ``url``."""
        public = self.public_key()
        return {issuer: [public] for issuer in (*CI_ISSUERS, self.url)}

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set: one RS256 signing key with ``kid`` = ``keys.oidc_kid``."""
        from jwt.algorithms import RSAAlgorithm

        jwk = dict(RSAAlgorithm.to_jwk(self.public_key(), as_dict=True))
        jwk.update({"kid": self.keys.oidc_kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def discovery(self) -> dict[str, Any]:
        """The OpenID Connect discovery document (``/.well-known/openid-configuration``)."""
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "authorization_endpoint": self.url + "/oauth2/authorize",
            "token_endpoint": self.url + "/oauth2/token",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "scopes_supported": ["openid", "email"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "nbf",
                "jti",
                "email",
                "email_verified",
            ],
        }

    # -- minting --------------------------------------------------------------

    def mint(
        self,
        claims: Mapping[str, Any],
        *,
        audience: str | list[str] = DEFAULT_AUDIENCE,
        lifetime: int = 600,
        issued_at: int | None = None,
    ) -> str:
        """Sign ``claims`` as an RS256 JWT, adding ``aud``, ``iat``, ``nbf``, ``exp``, ``jti``.

        ``iss`` defaults to the instance URL.  A single audience is written as
        a string (``id`` compares ``aud`` to the requested audience with
        ``==``), several as a list.  ``issued_at`` (Unix time) backdates or
        postdates the token; a ``lifetime`` <= 0 makes one that has already
        expired (for tests).
        """
        import jwt

        iat = int(self._clock()) if issued_at is None else issued_at
        payload = dict(claims)
        payload.setdefault("iss", self.url)
        payload.update(
            {
                "aud": audience if isinstance(audience, str) else list(audience),
                "iat": iat,
                "nbf": iat,
                "exp": iat + lifetime,
                "jti": str(uuid.uuid4()),
            }
        )
        return jwt.encode(
            payload,
            self.keys.oidc_key,
            algorithm="RS256",
            headers={"kid": self.keys.oidc_kid, "typ": "JWT"},
        )

    # -- GitHub Actions' token endpoint ----------------------------------------

    def request_token(
        self,
        repository: str,
        workflow: str,
        ref: str,
        *,
        environment: str | None = None,
        sha: str | None = None,
        lifetime: int = REQUEST_TOKEN_LIFETIME,
    ) -> str:
        """A job request token (``ACTIONS_ID_TOKEN_REQUEST_TOKEN``) bound to one identity.

        The token is sealed (:mod:`attestkit.sigstore.local.sealed`) with the
        identity, a fresh job id and an expiry; :meth:`actions_token` mints
        only that identity's tokens with it.  Raises :class:`ValueError` for a
        repository that is not ``owner/name`` or a ref that is not a full ref.
        """
        from attestkit.sigstore.local.sealed import JOB_TOKEN_PREFIX, new_job_id, seal

        if repository.count("/") != 1 or not all(repository.split("/")):
            raise ValueError(f"repository must be 'owner/name' (got {repository!r})")
        if not ref.startswith("refs/"):
            raise ValueError(f"ref must be a full ref such as refs/tags/v1 (got {ref!r})")
        value: dict[str, Any] = {
            "repository": repository,
            "workflow": workflow.removeprefix(".github/workflows/"),
            "ref": ref,
            "job": new_job_id(),
            "exp": int(self._clock()) + lifetime,
        }
        if environment:
            value["environment"] = environment
        if sha:
            value["sha"] = sha
        return JOB_TOKEN_PREFIX + seal(self.keys.runner_token, "job request token", value)

    def actions_token(self, query: Mapping[str, str], authorization: str | None) -> dict[str, str]:
        """Answer GitHub's ``ACTIONS_ID_TOKEN_REQUEST_URL`` request: ``{"value": jwt}``.

        ``authorization`` must be ``bearer <request token>`` (scheme
        case-insensitive) with a token from :meth:`request_token`, unexpired,
        else :class:`TokenError` with status 401.  The token fixes the identity
        (and the job: ``run_id`` derives from it); the query may only carry
        ``audience`` (default ``sigstore``), which the token's ``aud`` equals.
        Any other query parameter is refused (status 400), as GitHub does not
        let a job choose its identity either.
        """
        from attestkit.sigstore.local.sealed import JOB_TOKEN_PREFIX, SealError, open_sealed

        if not authorization:
            raise TokenError("missing Authorization header (want 'bearer <request token>')")
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential.startswith(JOB_TOKEN_PREFIX):
            raise TokenError(
                "invalid authorization: want 'bearer <request token>' as printed by"
                " `attestkit sigstore token --github ... --print-env`"
            )
        try:
            bound = open_sealed(
                self.keys.runner_token,
                "job request token",
                credential.removeprefix(JOB_TOKEN_PREFIX),
                now=self._clock(),
            )
        except SealError as exc:
            raise TokenError(f"invalid request token: {exc}") from None
        for name in sorted(query):
            if name != "audience":
                raise TokenError(
                    f"query parameter {name!r} is not accepted: the request token fixes"
                    " the job's identity (only 'audience' may be chosen)",
                    status=400,
                )
        audience = query.get("audience") or DEFAULT_AUDIENCE
        fields = {k: bound[k] for k in _BOUND_FIELDS if isinstance(bound.get(k), str)}
        job = str(bound.get("job", ""))
        claims = github_claims(
            fields.pop("repository"),
            fields.pop("workflow"),
            fields.pop("ref"),
            run_id=fake_number("run", job, digits=10),
            **fields,
        )
        return {"value": self.mint(claims, audience=audience)}

    # -- interactive login (authorization code + PKCE, approved by a code) ------
