"""The interactive login of the development issuer: OAuth 2.0 authorization code with PKCE.

The flow sigstore-python's interactive ``Issuer.identity_token()`` runs
(RFC 7636, S256 only), for one local user (an email identity): ``GET
/oauth2/authorize`` waits for a one-time approval code that the server prints
on its console (``auto_approve`` skips it, for tests), ``POST
/oauth2/approve`` checks it, and ``POST /oauth2/token`` exchanges the
authorization code for an identity token.  Reaching the port is not enough to
get a certificate.  :class:`LoginFlow` is a part of
:class:`~attestkit.sigstore.local.oidc.Issuer`.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import re
import secrets
import threading
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attestkit.sigstore.local.token_check import DEFAULT_AUDIENCE, TokenError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from attestkit.oidc.jwks import JwksCache
    from attestkit.sigstore.local.keys import KeyStore

    #: The keys of one trusted issuer: static public keys, or discovered ones.
    KeySource = Sequence[rsa.RSAPublicKey] | JwksCache

__all__ = [
    "CODE_LIFETIME",
    "LOGIN_LIFETIME",
    "MAX_APPROVAL_ATTEMPTS",
    "OOB_REDIRECT_URI",
    "LoginFlow",
    "LoginPrompt",
    "email_claims",
]

#: Out-of-band redirect URI (sigstore-python's ``--oauth-force-oob``): show the code.
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
#: Seconds an authorization code stays valid.
CODE_LIFETIME = 60
#: Seconds a login request waits for its approval code.
LOGIN_LIFETIME = 300
#: Wrong approval codes tolerated per login request (per process).
MAX_APPROVAL_ATTEMPTS = 5
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


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


class LoginFlow(ABC):
    """The login endpoints of :class:`~attestkit.sigstore.local.oidc.Issuer` (a mixin).

    Uses the issuer's key store, URL, login identity, clock and the tables below,
    all set by ``Issuer.__init__``; tokens are signed by the issuer's ``mint``.
    """

    keys: KeyStore
    url: str
    login_email: str
    auto_approve: bool
    _on_login: Callable[[LoginPrompt, str], None] | None
    _clock: Callable[[], float]
    _codes: dict[str, _Code]
    _approved: dict[str, float]
    _attempts: dict[str, tuple[int, float]]
    _lock: threading.Lock

    @abstractmethod
    def mint(
        self,
        claims: Mapping[str, Any],
        *,
        audience: str | list[str] = DEFAULT_AUDIENCE,
        lifetime: int = 600,
        issued_at: int | None = None,
    ) -> str:
        """Sign ``claims`` as a token: the issuer's own ``mint``."""

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
