"""What every ``attestkit index`` command group shares: handler types and name lookups.

A handler works in the command's transaction and may return what to print once
it committed (:data:`Report`); :func:`existing_user` and :func:`existing_project`
turn a name that matches nothing into a usage error that says how to create it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from attestkit.cli._common import fail_usage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.cli._options import Subparsers
    from attestkit.index.db import Project, User

__all__ = ["Action", "Handler", "Listing", "Report", "existing_project", "existing_user"]

#: What a handler prints once its transaction committed (None: it printed already).
Report = Callable[[], None] | None
#: A handler works in the transaction and may return what to print once it committed.
Handler = Callable[["Session", argparse.Namespace], Report]
#: Adds an action (with the shared options) to a command group's subparsers.
Action = Callable[["Subparsers[argparse.ArgumentParser]", str, str], argparse.ArgumentParser]
#: Adds a ``list`` action (with ``--json``).
Listing = Callable[["Subparsers[argparse.ArgumentParser]", str], argparse.ArgumentParser]


def existing_user(session: Session, name: str) -> User:
    """The user called ``name``, or a usage error."""
    from attestkit.index import admin

    user = admin.find_user(session, name)
    if user is None:
        fail_usage(f"no user {name!r} (create it with `attestkit index user add {name}`)")
    return user


def existing_project(session: Session, name: str) -> Project:
    """The project called ``name`` (any spelling of it), or a usage error."""
    from attestkit.index import admin

    project = admin.find_project(session, name)
    if project is None:
        fail_usage(f"no project {name!r} (create it with `attestkit index project add`)")
    return project
