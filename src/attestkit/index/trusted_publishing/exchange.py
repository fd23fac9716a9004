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
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from attestkit.core.encoding import plausible_time
from attestkit.core.issuers import OidcIssuer
from attestkit.core.providers import PROVIDERS
from attestkit.core.providers.base import ClaimRules
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

    from attestkit.index.instance import Index
from attestkit.index.trusted_publishing.matching import select_publisher
from attestkit.index.trusted_publishing.results import (
    MintError,
    MintResult,
    _invalid_publisher,
    _invalid_token,
    _parse_body,
)

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
]

log = logging.getLogger(__name__)

AUDIENCE_PATH = "/_/oidc/audience"
MINT_PATHS = ("/_/oidc/mint-token", "/_/oidc/github/mint-token")
#: Clock skew allowed on ``exp``, ``iat`` and ``nbf`` (PyPI: 30 s).
LEEWAY = 30
#: Longest ``jti`` stored for replay protection (the column holds 300).
MAX_JTI = 255

#: The Trusted Publishing providers' real issuer strings -> kind (``OidcIssuer.kind``).
BUILTIN_ISSUERS: dict[str, str] = {
    p.issuer: p.kind for p in PROVIDERS.values() if p.rules is not None and p.issuer
}
#: Each Trusted Publishing provider's claim rules, by kind (``core/providers/<kind>.py``).
_RULES: dict[str, ClaimRules] = {p.kind: p.rules for p in PROVIDERS.values() if p.rules}

NOT_ENABLED = "Trusted publishing functionality not enabled"
_REUSED = "invalid token: already used"


# -- errors and results ---------------------------------------------------------


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

        from attestkit.oidc.jwt import MalformedTokenError, unverified_token

        try:
            header, unverified = unverified_token(token)
        except MalformedTokenError:
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
            when = plausible_time(value)
            if when is None:
                raise _invalid_token(f"the {name!r} claim is not a Unix time")
            times[name] = when
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
        now_dt = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
        publisher = select_publisher(rules, candidates, claims, issuer.iss, now_dt)
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
            publisher.expires = None
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
