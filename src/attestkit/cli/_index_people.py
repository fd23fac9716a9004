"""``attestkit index role|user remove``: who may upload to and manage a project.

``role add PROJECT USER [--role Owner|Maintainer]`` gives or changes a role,
``role remove PROJECT USER`` takes it away and ``role list PROJECT`` shows
them; the last Owner of a project can be neither demoted nor removed.
``user remove NAME --yes`` deletes an account with its tokens (refused while
it is a project's only Owner).  The rules are in :mod:`attestkit.index.roles`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from attestkit.cli._common import fail_usage, print_json, print_table
from attestkit.cli._index_common import Action as _Action
from attestkit.cli._index_common import Listing, existing_project, existing_user
from attestkit.cli._index_common import Report as _Report

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.cli._options import Subparsers

__all__ = ["PEOPLE_HANDLERS", "add_role_parsers", "add_user_remove"]


def _role_add(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.roles import set_role

    project, user = existing_project(session, args.project), existing_user(session, args.user)
    row = set_role(session, project, user, args.role)
    return lambda: print(f"{user.username} is now {row.role} of {project.name}")


def _role_remove(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.roles import remove_role

    project, user = existing_project(session, args.project), existing_user(session, args.user)
    remove_role(session, project, user)
    return lambda: print(f"{user.username} no longer has a role on {project.name}")


def _role_list(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.roles import project_roles

    project = existing_project(session, args.project)
    rows = [{"user": u, "role": r} for u, r in project_roles(session, project)]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ("user", "role"))
    return None


def _user_remove(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.roles import remove_user

    if not args.yes:
        fail_usage(f"removing user {args.name} deletes their tokens and roles; add --yes")
    user = existing_user(session, args.name)
    projects = remove_user(session, user)
    left = f" (left {', '.join(projects)})" if projects else ""
    return lambda: print(f"removed user {args.name} and their tokens{left}")


PEOPLE_HANDLERS: dict[tuple[str, str], Callable[[Session, argparse.Namespace], _Report]] = {
    ("role", "add"): _role_add,
    ("role", "remove"): _role_remove,
    ("role", "list"): _role_list,
    ("user", "remove"): _user_remove,
}


def add_user_remove(users: Subparsers[argparse.ArgumentParser], action: _Action) -> None:
    """Add ``attestkit index user remove NAME --yes``."""
    q = action(users, "remove", "delete a user with their tokens and roles")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--yes", action="store_true", help="confirm")


def add_role_parsers(
    objects: Subparsers[argparse.ArgumentParser],
    action: _Action,
    listing: Listing,
) -> None:
    """Add ``attestkit index role add|remove|list``."""
    group = objects.add_parser("role", help="who may upload to (Maintainer) and manage (Owner)")
    roles = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(roles, "add", "give a user a role on a project (or change it)")
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("user", metavar="USER")
    q.add_argument(
        "--role",
        default="Maintainer",
        metavar="ROLE",
        help="Owner (uploads and manages) or Maintainer (uploads; the default)",
    )
    q = action(roles, "remove", "take a user's role on a project away")
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("user", metavar="USER")
    q = listing(roles, "list the roles on a project")
    q.add_argument("project", metavar="PROJECT")
