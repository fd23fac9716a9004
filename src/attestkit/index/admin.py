"""Index administration: users, projects, API tokens and Trusted Publishers.

Used by the ``attestkit index`` commands and by tests; every function works in
the caller's session (the caller commits).

>>> normalize("Foo.Bar_baz")
'foo-bar-baz'
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from attestkit.core.providers import PROVIDERS, Publisher, publisher_class, publisher_from_dict
from attestkit.errors import InputError
from attestkit.index.db import ApiToken, Project, Role, TrustedPublisher, User, utcnow
from attestkit.index.tokens import new_token

__all__ = [
    "PUBLISHER_FIELDS",
    "add_publisher",
    "create_project",
    "create_token",
    "create_user",
    "find_project",
    "find_user",
    "normalize",
    "publisher_object",
]

_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE | re.ASCII)

#: Required and optional configuration keys per publisher kind (each provider's module).
PUBLISHER_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    p.publisher_kind: p.registration for p in PROVIDERS.values() if p.publisher_kind
}


def normalize(name: str) -> str:
    """PEP 503 normalized name (``packaging``'s ``canonicalize_name``)."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def find_user(session: Session, username: str) -> User | None:
    """The user called ``username``, or None."""
    return session.scalar(select(User).where(User.username == username))


def find_project(session: Session, name: str) -> Project | None:
    """The project whose normalized name matches ``name``, or None."""
    return session.scalar(select(Project).where(Project.normalized_name == normalize(name)))


def create_user(session: Session, username: str, email: str | None = None) -> User:
    """Create a user; the name must be new."""
    if not _NAME.match(username):
        raise InputError(f"invalid username {username!r}")
    if find_user(session, username) is not None:
        raise InputError(f"user {username!r} already exists")
    user = User(username=username, email=email)
    session.add(user)
    session.flush()
    return user


def create_project(session: Session, name: str, owner: User | None = None) -> Project:
    """Create a project (optionally owned by ``owner``); the normalized name must be new."""
    if not _NAME.match(name):
        raise InputError(f"invalid project name {name!r}")
    if find_project(session, name) is not None:
        raise InputError(f"project {name!r} already exists")
    project = Project(name=name, normalized_name=normalize(name), serial=0, total_size=0)
    session.add(project)
    session.flush()
    if owner is not None:
        session.add(Role(user_id=owner.id, project_id=project.id, role="Owner"))
        session.flush()
    return project


def create_token(
    session: Session,
    *,
    user: User | None = None,
    project: Project | None = None,
    publisher: TrustedPublisher | None = None,
    expires: dt.datetime | None = None,
    description: str | None = None,
    claims: dict[str, Any] | None = None,
) -> tuple[str, ApiToken]:
    """Create an API token; returns ``(token string, row)``.  The string is shown once.

    A user token may be scoped to one ``project``; a publisher token (minted by
    Trusted Publishing) is scoped to the publisher's project(s).
    """
    if (user is None) == (publisher is None):
        raise InputError("a token belongs to exactly one of a user or a publisher")
    token, token_id, digest = new_token()
    row = ApiToken(
        id=token_id,
        secret_sha256=digest,
        description=description,
        user_id=user.id if user else None,
        project_id=project.id if project else None,
        publisher_id=publisher.id if publisher else None,
        claims=claims or {},
        not_before=utcnow() if publisher else None,
        expires=expires,
    )
    session.add(row)
    session.flush()
    return token, row


def add_publisher(
    session: Session,
    kind: str,
    config: dict[str, Any],
    *,
    project: Project | None = None,
    pending_name: str | None = None,
    added_by: User | None = None,
    expires: dt.datetime | None = None,
) -> TrustedPublisher:
    """Register a Trusted Publisher for ``project``, or pending for a new project name.

    A pending publisher can be given an ``expires`` time after which it no longer
    creates the project (a name reserved by mistake or long ago does not stay
    claimable forever).
    """
    if kind not in PUBLISHER_FIELDS:
        raise InputError(f"unknown publisher kind {kind!r} (one of {', '.join(PUBLISHER_FIELDS)})")
    required, optional = PUBLISHER_FIELDS[kind]
    missing = [k for k in required if not config.get(k)]
    if missing:
        raise InputError(f"{kind} publisher needs {', '.join(missing)}")
    unknown = sorted(set(config) - set(required) - set(optional))
    if unknown:
        raise InputError(f"{kind} publisher has no field {unknown[0]!r}")
    if (project is None) == (pending_name is None):
        raise InputError("a publisher is for an existing project or pending for a new name")
    if config.get("issuer_url"):
        from attestkit.core.issuers import check_issuer_url

        try:
            config = {**config, "issuer_url": check_issuer_url(str(config["issuer_url"]))}
        except ValueError as exc:
            raise InputError(str(exc)) from None
    if pending_name is not None:
        if not _NAME.match(pending_name):
            raise InputError(f"invalid project name {pending_name!r}")
        if find_project(session, pending_name) is not None:
            raise InputError(f"project {pending_name!r} exists: add the publisher to it instead")
        if added_by is None:
            raise InputError("a pending publisher needs the user who will own the project")
    publisher = TrustedPublisher(
        kind=kind,
        config={k: v for k, v in config.items() if v is not None},
        project_id=project.id if project else None,
        pending_project_name=pending_name,
        added_by_id=added_by.id if added_by else None,
        expires=expires if pending_name is not None else None,
    )
    session.add(publisher)
    session.flush()
    return publisher


def publisher_object(publisher: TrustedPublisher) -> Publisher:
    """The provenance ``publisher`` object (and verification policy) for a registered publisher."""
    cls = publisher_class(publisher.kind)
    fields = cls.field_names() if cls is not None else ()
    obj: dict[str, Any] = {"kind": publisher.kind}
    for name in fields:
        obj[name] = publisher.config.get(name)
    if publisher.config.get("issuer_url"):
        # A custom issuer (GitHub Enterprise Server, self-managed GitLab): verifiers
        # need it to know which forge and issuer the certificate must name.
        obj["issuer_url"] = publisher.config["issuer_url"]
    return publisher_from_dict(obj)
