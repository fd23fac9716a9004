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

import base64
import binascii
import getpass
import hashlib
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from attestkit.errors import ServiceError

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
    "JWKS_PATH",
    "LOGIN_LIFETIME",
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

#: The audience Fulcio (and so the local CA) requires.
DEFAULT_AUDIENCE = "sigstore"
#: The CI issuer strings the local instance mints tokens for (and its CA trusts).
CI_ISSUERS = (GITHUB_ISSUER, GITLAB_ISSUER, GOOGLE_ISSUER, CIRCLECI_ISSUER, BUILDKITE_ISSUER)
#: Where the JWKS is served, relative to the instance URL.
JWKS_PATH = "/.well-known/jwks.json"
#: Out-of-band redirect URI (sigstore-python's ``--oauth-force-oob``): show the code.
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
#: Seconds an authorization code stays valid.
CODE_LIFETIME = 60
#: Seconds a login request waits for its approval code.
LOGIN_LIFETIME = 300
#: Wrong approval codes tolerated per login request (per process).
MAX_APPROVAL_ATTEMPTS = 5
#: Seconds a job request token stays valid: a GitHub-hosted job runs at most six hours.
REQUEST_TOKEN_LIFETIME = 6 * 3600
#: The identity fields a job request token is bound to (github_claims' inputs).
_BOUND_FIELDS = ("repository", "workflow", "ref", "environment", "sha")
#: Default clock-skew allowance (seconds) for ``nbf`` and ``iat``, as go-oidc allows
#: for ``nbf``.  ``exp`` gets none, as in Fulcio.
DEFAULT_LEEWAY = 60

_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class TokenError(ServiceError):
    """A token was rejected or could not be minted; ``str()`` is a one-line reason.

    ``status`` is the HTTP status the server should answer with: 401 for
    credentials (bad token, bad runner token), 400 for a bad request.
    """

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def email_claims(email: str, issuer_url: str, *, name: str | None = None) -> dict[str, Any]:
    """The claims of a local interactive user: ``iss`` = the instance URL, verified email.

    ``sub`` is the email too, so sigstore-python's ``IdentityToken.identity``
    (``sub`` for issuers it does not special-case) names the user.
    """
    claims: dict[str, Any] = {
        "iss": issuer_url.rstrip("/"),
        "sub": email,
        "email": email,
        "email_verified": True,
    }
    if name:
        claims["name"] = name
    return claims


# -- verification -------------------------------------------------------------


def verify_token(
    token: str,
    trusted: Mapping[str, KeySource],
    *,
    audience: str = DEFAULT_AUDIENCE,
    leeway: float = DEFAULT_LEEWAY,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify an RS256 token against the keys ``trusted`` for its issuer; return its claims.

    ``trusted`` maps each accepted issuer to its keys: a list of public keys
    (this instance's own issuer) or a :class:`~attestkit.oidc.jwks.JwksCache` (an
    issuer run elsewhere, keys by discovery; status 503 when they cannot be
    fetched).

    Checks, in order: shape, a trusted ``iss``, the signature, the required
    claims (``iss sub aud exp iat``), expiry (no leeway, like Fulcio), ``nbf``
    and ``iat`` (``leeway`` seconds of clock skew) and that ``aud`` is or
    contains ``audience``.  Raises :class:`TokenError` (status 401) with a
    one-line reason.
    """
    import jwt

    from attestkit.oidc.jwt import signature_only_claims

    if not isinstance(token, str) or token.count(".") != 2:
        raise TokenError("malformed token: not a JWT (want header.payload.signature)")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenError(f"malformed token: {exc}") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenError("malformed token: missing 'iss' claim")
    source = trusted.get(issuer)
    if not source:
        raise TokenError(f"unknown issuer {issuer!r}")
    alg = header.get("alg")
    if alg != "RS256":
        raise TokenError(f"token algorithm {alg!r} is not RS256")
    keys = _keys_for(source, issuer, header.get("kid"))
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = signature_only_claims(token, key)
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed token: {exc}") from None
    if claims is None:
        raise TokenError("token signature does not verify")
    for name in ("iss", "sub", "aud", "exp", "iat"):
        if name not in claims:
            raise TokenError(f"malformed token: missing {name!r} claim")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise TokenError("malformed token: 'sub' is not a non-empty string")
    current = time.time() if now is None else now
    exp = _numeric(claims, "exp")
    if current >= exp:
        raise TokenError(f"token expired ({int(current - exp)} s ago)")
    if "nbf" in claims and _numeric(claims, "nbf") > current + leeway:
        raise TokenError("token is not valid yet (nbf is in the future)")
    if _numeric(claims, "iat") > current + leeway:
        raise TokenError("token is not valid yet (iat is in the future)")
    aud = claims["aud"]
    if isinstance(aud, str):
        if aud != audience:
            raise TokenError(f"token audience {aud!r} is not {audience!r}")
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        if audience not in aud:
            raise TokenError(f"token audiences {aud!r} do not include {audience!r}")
    else:
        raise TokenError("malformed token: 'aud' is not a string or a list of strings")
    return claims


def _keys_for(source: KeySource, issuer: str, kid: object) -> Sequence[Any]:
    """The keys that may have signed a token naming ``kid``: all static keys, or the
    discovered key with that ``kid`` (an issuer the instance does not run)."""
    from attestkit.oidc.jwks import JwksCache, JwksUnavailable

    if not isinstance(source, JwksCache):
        return source
    if not isinstance(kid, str) or not kid:
        raise TokenError(f"the token header has no key ID ('kid') for issuer {issuer!r}")
    try:
        jwk = source.key(kid)
    except JwksUnavailable as exc:
        raise TokenError(
            f"the signing keys of issuer {issuer!r} could not be fetched ({exc}); try again later",
            status=503,
        ) from None
    if jwk is None:
        raise TokenError(f"unknown signing key {kid!r} for issuer {issuer!r}")
    return [jwk.key]


def _numeric(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"malformed token: {name!r} is not a number")
    return float(value)


# -- the issuer ---------------------------------------------------------------


@dataclass(frozen=True)
class LoginPrompt:
    """A login request waiting for its approval code (the server shows it as a form).

    ``request`` is the sealed request the form posts back with the code;
    ``error`` is set when a wrong code was typed.
    """

    request: str
    client_id: str
    email: str
    lifetime: int
    error: str | None = None


@dataclass(frozen=True)
class _Code:
    client_id: str
    redirect_uri: str
    code_challenge: str
    email: str
    nonce: str | None
    expires: float


class Issuer:
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

    def authorize(self, params: Mapping[str, str]) -> str | LoginPrompt:
        """Handle ``GET /oauth2/authorize``: a redirect URL, or a prompt for the approval code.

        Expects sigstore-python's parameters: ``response_type=code``,
        ``client_id``, ``redirect_uri`` (a loopback ``http`` URI or
        :data:`OOB_REDIRECT_URI`), ``code_challenge`` with
        ``code_challenge_method=S256``, ``state`` (echoed), optional ``nonce``.

        A valid request is not approved by itself: unless the issuer
        auto-approves (tests), it becomes a :class:`LoginPrompt` whose
        one-time approval code is passed to ``on_login`` (the server prints it
        on its console); :meth:`approve` takes the code back.  Whoever can
        reach the port but not read the console gets no certificate.

        Raises :class:`TokenError` (status 400) when ``client_id`` or
        ``redirect_uri`` is missing or not allowed (the server must not
        redirect then); other errors come back as a redirect carrying
        ``error``/``error_description``/``state`` (RFC 6749 §4.1.2.1).  For the
        out-of-band URI the returned "URL" is ``urn:ietf:wg:oauth:2.0:oob?code=...``:
        show the code to the user instead of redirecting.
        """
        from attestkit.sigstore.local.sealed import approval_code, seal

        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if not client_id:
            raise TokenError("invalid_request: missing client_id", status=400)
        if not redirect_uri:
            raise TokenError("invalid_request: missing redirect_uri", status=400)
        if not _redirect_allowed(redirect_uri):
            raise TokenError(
                f"invalid_request: redirect_uri {redirect_uri!r} is not allowed"
                " (want a loopback http URI or the out-of-band URI)",
                status=400,
            )
        state = params.get("state")

        def fail(error: str, description: str) -> str:
            if redirect_uri == OOB_REDIRECT_URI:
                raise TokenError(f"{error}: {description}", status=400)
            return _with_query(
                redirect_uri, {"error": error, "error_description": description, "state": state}
            )

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "only response_type=code is supported")
        challenge = params.get("code_challenge", "")
        if not challenge:
            return fail("invalid_request", "PKCE is required: missing code_challenge")
        if params.get("code_challenge_method") != "S256":
            return fail("invalid_request", "code_challenge_method must be S256")
        if not _PKCE_VALUE.fullmatch(challenge):
            return fail("invalid_request", "code_challenge is not a valid S256 challenge")
        request = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "state": state,
            "nonce": params.get("nonce") or None,
            "exp": int(self._clock()) + LOGIN_LIFETIME,
        }
        if self.auto_approve:
            return self._grant(request)
        pending = seal(self.keys.runner_token, "pending login", request)
        prompt = LoginPrompt(
            request=pending, client_id=client_id, email=self.login_email, lifetime=LOGIN_LIFETIME
        )
        if self._on_login is not None:
            self._on_login(prompt, approval_code(self.keys.runner_token, pending))
        return prompt

    def approve(self, form: Mapping[str, str]) -> str | LoginPrompt:
        """Handle ``POST /oauth2/approve`` (``request`` and ``code`` from the prompt's form).

        The right code grants the login: the redirect URL carrying the
        authorization code (as :meth:`authorize` would have returned).  A wrong
        code returns the prompt again with ``error`` set; after
        :data:`MAX_APPROVAL_ATTEMPTS` wrong codes, or once the request expired,
        :class:`TokenError` (status 400/403): start the login again.
        """
        from attestkit.sigstore.local.sealed import (
            SealError,
            approval_code,
            normalize_code,
            open_sealed,
        )

        pending = form.get("request", "")
        try:
            request = open_sealed(
                self.keys.runner_token, "pending login", pending, now=self._clock()
            )
        except SealError as exc:
            raise TokenError(f"login request {exc}: start the login again", status=400) from None
        want = approval_code(self.keys.runner_token, pending)
        if secrets.compare_digest(normalize_code(form.get("code", "")).encode(), want.encode()):
            with self._lock:
                if pending in self._approved:
                    raise TokenError("login request already approved", status=400)
                self._approved[pending] = float(request["exp"])
            return self._grant(request)
        with self._lock:
            now = self._clock()
            for stale in [p for p, (_, exp) in self._attempts.items() if exp <= now]:
                del self._attempts[stale]
            count = self._attempts.get(pending, (0, 0.0))[0] + 1
            self._attempts[pending] = (count, float(request["exp"]))
        if count >= MAX_APPROVAL_ATTEMPTS:
            raise TokenError(
                "too many wrong approval codes for this login request: start the login again",
                status=403,
            )
        return LoginPrompt(
            request=pending,
            client_id=str(request["client_id"]),
            email=self.login_email,
            lifetime=LOGIN_LIFETIME,
            error="wrong approval code: type the code the attestkit server printed",
        )

    def _grant(self, request: Mapping[str, Any]) -> str:
        """Issue the authorization code for an approved ``request``; the redirect URL."""
        code = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            # Forget expired codes and approvals so the tables cannot grow without bound.
            for stale in [c for c, v in self._codes.items() if v.expires <= now]:
                del self._codes[stale]
            for done in [p for p, exp in self._approved.items() if exp <= now]:
                del self._approved[done]
            self._codes[code] = _Code(
                client_id=str(request["client_id"]),
                redirect_uri=str(request["redirect_uri"]),
                code_challenge=str(request["code_challenge"]),
                email=self.login_email,
                nonce=request.get("nonce") or None,
                expires=now + CODE_LIFETIME,
            )
        return _with_query(str(request["redirect_uri"]), {"code": code, "state": request["state"]})

    def exchange(self, form: Mapping[str, str], authorization: str | None = None) -> dict[str, Any]:
        """Handle ``POST /oauth2/token`` (``grant_type=authorization_code``).

        sigstore-python sends ``code``, ``redirect_uri``, ``code_verifier`` in
        the form and the client as HTTP Basic ``client_id:`` (pass the
        ``Authorization`` header as ``authorization``); ``client_id`` in the
        form is accepted too.  On success returns ``access_token`` and
        ``id_token`` (both JWTs with ``aud`` = client id; sigstore-python reads
        ``access_token``), ``token_type`` and ``expires_in``.  On failure
        returns an OAuth error object ``{"error", "error_description"}``
        (answer it with status 400, or 401 for ``invalid_client``).  A code is
        consumed by any exchange attempt, successful or not.
        """
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(
                "unsupported_grant_type", "only grant_type=authorization_code is supported"
            )
        code = form.get("code", "")
        if not code:
            return _oauth_error("invalid_request", "missing code")
        try:
            client_id = _client_id(form, authorization)
        except ValueError as exc:
            return _oauth_error("invalid_client", str(exc))
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None:
            return _oauth_error("invalid_grant", "authorization code is unknown or already used")
        if self._clock() >= entry.expires:
            return _oauth_error("invalid_grant", "authorization code expired")
        if client_id is not None and client_id != entry.client_id:
            return _oauth_error("invalid_grant", "authorization code was issued to another client")
        if form.get("redirect_uri", "") != entry.redirect_uri:
            return _oauth_error(
                "invalid_grant", "redirect_uri does not match the authorization request"
            )
        verifier = form.get("code_verifier", "")
        if not verifier:
            return _oauth_error("invalid_request", "PKCE is required: missing code_verifier")
        if not _PKCE_VALUE.fullmatch(verifier) or not secrets.compare_digest(
            _s256(verifier), entry.code_challenge
        ):
            return _oauth_error("invalid_grant", "code_verifier does not match code_challenge")
        lifetime = 600
        claims = email_claims(entry.email, self.url)
        access_token = self.mint(claims, audience=entry.client_id, lifetime=lifetime)
        if entry.nonce:
            claims["nonce"] = entry.nonce
        id_token = self.mint(claims, audience=entry.client_id, lifetime=lifetime)
        return {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": "openid email",
        }


def _default_login_email() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name
        user = ""
    user = re.sub(r"[^A-Za-z0-9._+-]", "", user) or "user"
    return f"{user}@localhost"


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect_allowed(uri: str) -> bool:
    """RFC 8252 §7.3: native apps use loopback ``http`` redirects (any port), or out-of-band."""
    if uri == OOB_REDIRECT_URI:
        return True
    try:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname
        _ = parts.port  # raises on a bad port
    except ValueError:
        return False
    return parts.scheme == "http" and host in _LOOPBACK_HOSTS and not parts.fragment


def _with_query(uri: str, params: Mapping[str, str | None]) -> str:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def _oauth_error(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}


def _client_id(form: Mapping[str, str], authorization: str | None) -> str | None:
    """The client id from HTTP Basic auth (RFC 6749 §2.3.1) and/or the form; None if neither."""
    from_form = form.get("client_id") or None
    from_header = None
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise ValueError("malformed Basic authorization header") from None
            from_header = urllib.parse.unquote(decoded.partition(":")[0]) or None
    if from_form and from_header and from_form != from_header:
        raise ValueError("client_id in the form and in the Authorization header differ")
    return from_form or from_header
