"""Who may do what on a project: roles (``Owner``, ``Maintainer``) and removing users.

As on PyPI, both roles may upload; only an Owner may change what was published
(yank, delete, status), manage roles and Trusted Publishers.  A project never
loses its last Owner: demoting or removing them is refused, and so is removing
a user who is the sole Owner of a project (delete or hand over the project
first).  Removing a user deletes their roles and tokens (by cascade) and the
pending publishers they registered, which could otherwise create a project
owned by nobody.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from attestkit.errors import InputError
from attestkit.index.db import Project, Role, TrustedPublisher, User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["ROLES", "is_owner", "project_roles", "remove_role", "remove_user", "set_role"]

#: The roles a user can have on a project.
ROLES = ("Owner", "Maintainer")


def _role_name(role: str) -> str:
    for known in ROLES:
        if role.lower() == known.lower():
            return known
    raise InputError(f"unknown role {role!r} (one of {', '.join(ROLES)})")


def _owners(session: Session, project: Project) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Role)
            .where(Role.project_id == project.id, Role.role == "Owner")
        )
        or 0
    )


def is_owner(session: Session, user: User, project: Project) -> bool:
    """Whether ``user`` is an Owner of ``project``."""
    role = session.scalar(
        select(Role.role).where(Role.user_id == user.id, Role.project_id == project.id)
    )
    return role == "Owner"


def project_roles(session: Session, project: Project) -> list[tuple[str, str]]:
    """``(username, role)`` of everyone with a role on ``project``, Owners first."""
    rows = session.execute(
        select(User.username, Role.role)
        .join(Role, Role.user_id == User.id)
        .where(Role.project_id == project.id)
    ).all()
    return sorted(((u, r) for u, r in rows), key=lambda row: (row[1] != "Owner", row[0]))


def set_role(session: Session, project: Project, user: User, role: str) -> Role:
    """Give ``user`` a role on ``project`` (or change theirs)."""
    wanted = _role_name(role)
    row = session.scalar(select(Role).where(Role.user_id == user.id, Role.project_id == project.id))
    if row is None:
        row = Role(user_id=user.id, project_id=project.id, role=wanted)
        session.add(row)
    else:
        if row.role == "Owner" and wanted != "Owner" and _owners(session, project) <= 1:
            raise InputError(
                f"{user.username!r} is the last Owner of {project.name!r}; add another Owner first"
            )
        row.role = wanted
    session.flush()
    return row


def remove_role(session: Session, project: Project, user: User) -> None:
    """Take ``user``'s role on ``project`` away (never the last Owner's)."""
    row = session.scalar(select(Role).where(Role.user_id == user.id, Role.project_id == project.id))
    if row is None:
        raise InputError(f"user {user.username!r} has no role on {project.name!r}")
    if row.role == "Owner" and _owners(session, project) <= 1:
        raise InputError(
            f"{user.username!r} is the last Owner of {project.name!r}; add another Owner first"
        )
    session.delete(row)
    session.flush()


def remove_user(session: Session, user: User) -> list[str]:
    """Delete ``user`` with their roles, tokens and pending publishers.

    Returns the names of the projects they had a role on.  Refused while they
    are the sole Owner of a project.
    """
    rows = session.execute(
        select(Project, Role.role)
        .join(Role, Role.project_id == Project.id)
        .where(Role.user_id == user.id)
    ).all()
    sole = sorted(p.name for p, role in rows if role == "Owner" and _owners(session, p) <= 1)
    if sole:
        raise InputError(
            f"{user.username!r} is the only Owner of {', '.join(sole)}: add another Owner"
            " or delete the project first"
        )
    for publisher in session.scalars(
        select(TrustedPublisher).where(
            TrustedPublisher.added_by_id == user.id, TrustedPublisher.project_id.is_(None)
        )
    ):
        session.delete(publisher)
    session.delete(user)
    session.flush()
    return sorted(p.name for p, _ in rows)
