"""Upload authentication: API tokens in ``Authorization``, and their restrictions.

PyPI accepts ``Basic base64("__token__:<token>")`` (whitespace around the token
stripped), ``token <t>`` and ``bearer <t>``.  Any other Basic username is a
password login, which PyPI no longer supports.  An unknown, deleted or
malformed token authenticates nobody.

What PyPI encodes as macaroon caveats lives in the token's row here (see
:mod:`attestkit.index.tokens`): expiry (``not_before``/``expires``), a user
token's project scope, and a publisher token's publisher, whose project is
the only one it may upload to.  :func:`caveat_failure` reports a violated
restriction with PyPI's ``Invalid API Token: {reason}`` reasons.

Expiry is judged at the request's **arrival** time, not after the body has been
read, so a long upload started with a valid token is not refused halfway
(PyPI checks after the whole body arrived; P3 in ``docs/defects.md``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from attestkit.index.db import ApiToken, Project, Role, TrustedPublisher, User
from attestkit.index.reasons import UploadError
from attestkit.index.tokens import matches, parse_token

__all__ = [
    "Identity",
    "as_utc",
    "authenticate",
    "caveat_failure",
    "credentials",
    "invalid_auth_message",
    "may_upload",
    "publisher_projects",
]


@dataclass
class Identity:
    """Who is uploading: a token and its owner (a user **or** a Trusted Publisher)."""

    token: ApiToken
    user: User | None = None
    publisher: TrustedPublisher | None = None
    #: Projects a publisher token may upload to: every project that registered the same
    #: publisher identity (kind and configuration), e.g. several packages of a monorepo.
    publisher_projects: frozenset[int] = frozenset()

    @property
    def is_user(self) -> bool:
        """True for a user's token (which may create projects)."""
        return self.user is not None


def invalid_auth_message(help_url: str) -> str:
    """PyPI's message for a request that authenticates nobody."""
    return (
        "Invalid or non-existent authentication information."
        f" See {help_url}#invalid-auth for more information."
    )


def password_auth_message(help_url: str) -> str:
    """PyPI's message for a username other than ``__token__``."""
    return (
        "Username/Password authentication is no longer supported. Migrate to API Tokens or"
        f" Trusted Publishers instead. See {help_url}#apitoken and {help_url}#trusted-publishers"
    )


def credentials(authorization: str | None, help_url: str) -> str | None:
    """The token presented in an ``Authorization`` header value, or None.

    Raises :class:`UploadError` (403) for a Basic login with a username other
    than ``__token__``.
    """
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in {"token", "bearer"}:
        return value or None
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    if username != "__token__":
        raise UploadError(403, password_auth_message(help_url))
    return password.strip() or None


def authenticate(session: Session, authorization: str | None, help_url: str) -> Identity:
    """The identity behind the request's token; raises :class:`UploadError` (403) if none."""
    token = credentials(authorization, help_url)
    parsed = parse_token(token) if token else None
    if parsed is None:
        raise UploadError(403, invalid_auth_message(help_url))
    token_id, digest = parsed
    row = session.get(ApiToken, token_id)
    if row is None or not matches(row.secret_sha256, digest):
        raise UploadError(403, invalid_auth_message(help_url))
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is not None:
            return Identity(row, user=user)
    elif row.publisher_id is not None:
        publisher = session.get(TrustedPublisher, row.publisher_id)
        if publisher is not None:
            return Identity(
                row, publisher=publisher, publisher_projects=publisher_projects(session, publisher)
            )
    raise UploadError(403, invalid_auth_message(help_url))


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored timestamp as an aware UTC datetime (SQLite returns naive ones)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def caveat_failure(
    identity: Identity, project: Project | None, name: str, now: dt.datetime
) -> str | None:
    """The ``Invalid API Token`` reason this token fails for ``project``, else None.

    ``project`` is None for a project that does not exist yet (``name`` is the
    requested name); ``now`` is the request's arrival time.
    """
    token = identity.token
    not_before = as_utc(token.not_before) if token.not_before else None
    expires = as_utc(token.expires) if token.expires else None
    if (not_before is not None and now < not_before) or (expires is not None and now >= expires):
        if expires is not None and now >= expires:
            when = f"it expired at {expires.isoformat(timespec='seconds')}"
        else:
            assert not_before is not None
            when = f"it is not valid before {not_before.isoformat(timespec='seconds')}"
        remedy = (
            "mint a new token with Trusted Publishing"
            if identity.publisher is not None
            else "create a new API token"
        )
        return (
            f"token is expired ({when}; this upload arrived at"
            f" {now.isoformat(timespec='seconds')}); {remedy} and upload again"
        )
    if identity.publisher is not None:
        if project is None:
            return "OIDC scoped token used outside of a project context"
        if project.id not in identity.publisher_projects:
            return f"OIDC scoped token is not valid for project '{project.name}'"
    if token.project_id is not None and (project is None or token.project_id != project.id):
        shown = project.name if project is not None else name
        return f"project-scoped token is not valid for project: {shown!r}"
    return None


def publisher_projects(session: Session, publisher: TrustedPublisher) -> frozenset[int]:
    """Every project registered with ``publisher``'s identity (same kind and configuration)."""
    rows = (
        session.query(TrustedPublisher)
        .filter(TrustedPublisher.kind == publisher.kind, TrustedPublisher.project_id.isnot(None))
        .all()
    )
    return frozenset(
        r.project_id for r in rows if r.project_id is not None and r.config == publisher.config
    )


def may_upload(session: Session, identity: Identity, project: Project) -> bool:
    """Whether the identity may upload to ``project`` (a role, or the project's publisher)."""
    if identity.publisher is not None:
        return project.id in identity.publisher_projects
    if identity.user is None:
        return False
    role = session.query(Role).filter_by(user_id=identity.user.id, project_id=project.id).first()
    return role is not None
