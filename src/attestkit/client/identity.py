"""Find the OIDC identity token that signing uses.

Order, first that applies:

1. an explicit token (``--identity-token``), then ``$SIGSTORE_ID_TOKEN``;
2. ambient CI credentials through ``id`` (GitHub Actions, Google Cloud,
   Buildkite, GitLab CI, CircleCI), unless
   ``$SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS`` is set;
3. an interactive login (browser, or an out-of-band code) with the instance's
   OIDC issuer, when allowed and a terminal is attached.

Every token is checked before any signing request: a JWT, not expired, with
the ``sigstore`` audience.  When nothing is found, the error says what to set
on each CI provider.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from attestkit.errors import AttestkitError

__all__ = [
    "IdentityError",
    "LoginUnreachableError",
    "TokenInfo",
    "find_identity_token",
    "inspect_token",
]

AUDIENCE = "sigstore"

NO_IDENTITY_HELP = (
    "no identity found to sign with. Pass --identity-token TOKEN or set SIGSTORE_ID_TOKEN;"
    " in CI: GitHub Actions needs `permissions: id-token: write`;"
    " GitLab CI needs `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`;"
    " Google Cloud needs a service account (GOOGLE_SERVICE_ACCOUNT_NAME, or a GCE"
    " or Cloud Build runner);"
    " CircleCI needs the `circleci` CLI with OIDC; Buildkite needs `buildkite-agent`;"
    " on a workstation use --interactive"
)


class IdentityError(AttestkitError):
    """No usable identity token."""


class LoginUnreachableError(IdentityError):
    """The login service could not be reached (exit 1: a service was unreachable)."""


@dataclass(frozen=True)
class TokenInfo:
    """The unverified claims that matter before signing."""

    issuer: str
    subject: str
    expires: int
    audience: tuple[str, ...]
    claims: dict[str, Any]


def inspect_token(token: str, *, source: str) -> TokenInfo:
    """Decode a JWT's payload (unverified) and check shape, audience and expiry."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise IdentityError(f"the identity token from {source} is not a JWT")
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        raise IdentityError(f"the identity token from {source} has a malformed payload") from None
    if not isinstance(claims, dict):
        raise IdentityError(f"the identity token from {source} has a malformed payload")
    aud = claims.get("aud")
    audience = (aud,) if isinstance(aud, str) else tuple(a for a in aud or () if isinstance(a, str))
    if AUDIENCE not in audience:
        raise IdentityError(
            f"the identity token from {source} is for audience {list(audience)}, not"
            f" {AUDIENCE!r} (request it with audience {AUDIENCE!r})"
        )
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise IdentityError(f"the identity token from {source} has no expiry (exp)")
    if exp <= time.time():
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
        raise IdentityError(f"the identity token from {source} expired at {when}")
    return TokenInfo(
        issuer=str(claims.get("iss", "")),
        subject=str(claims.get("email") or claims.get("sub", "")),
        expires=int(exp),
        audience=audience,
        claims=claims,
    )


def find_identity_token(
    explicit: str | None = None,
    *,
    interactive: bool | None = None,
    oidc_url: str | None = None,
) -> tuple[str, str]:
    """Return ``(token, where it came from)``; raise :class:`IdentityError` if none.

    ``interactive=None`` allows a login only when stdin and stderr are terminals.
    """
    if explicit:
        inspect_token(explicit, source="--identity-token")
        return explicit.strip(), "--identity-token"
    env = os.environ.get("SIGSTORE_ID_TOKEN")
    if env:
        inspect_token(env, source="SIGSTORE_ID_TOKEN")
        return env.strip(), "SIGSTORE_ID_TOKEN"
    if not os.environ.get("SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS"):
        token = _ambient()
        if token:
            inspect_token(token, source="the CI environment")
            return token, "the CI environment"
    allowed = sys.stdin.isatty() and sys.stderr.isatty() if interactive is None else interactive
    if allowed:
        if not oidc_url:
            raise IdentityError("this Sigstore instance has no OIDC issuer for interactive login")
        return _interactive(oidc_url), f"interactive login at {oidc_url}"
    raise IdentityError(NO_IDENTITY_HELP)


def _ambient() -> str | None:
    import id as oidc_id

    try:
        return oidc_id.detect_credential(AUDIENCE)
    except oidc_id.IdentityError as exc:
        raise IdentityError(f"ambient CI credentials failed: {exc}") from None


def _interactive(oidc_url: str) -> str:
    from attestkit.errors import require_sigstore

    require_sigstore("the interactive browser login")
    from sigstore.errors import Error as SigstoreError
    from sigstore.oidc import IdentityError as SigstoreIdentityError
    from sigstore.oidc import Issuer

    try:
        token = Issuer(oidc_url).identity_token(client_id="sigstore", client_secret="")
    except EOFError:
        # No browser could be opened, so the login asked for a code on standard input,
        # which is closed.
        raise IdentityError(
            "no terminal for the login: standard input is closed and no browser opened;"
            " run on a terminal, or pass --identity-token TOKEN"
        ) from None
    except SigstoreIdentityError as exc:
        raise IdentityError(f"interactive login at {oidc_url} failed: {exc}") from None
    except (SigstoreError, OSError) as exc:
        # sigstore's NetworkError and friends: often with an empty message.
        cause = exc.__cause__ or exc.__context__
        reason = str(exc) or (str(cause) if cause else "") or type(exc).__name__
        raise LoginUnreachableError(
            f"cannot reach the login service at {oidc_url}: {reason.splitlines()[0]}"
        ) from None
    return str(token._raw_token)
