"""``attestkit index publisher add|list|remove``: Trusted Publishers of projects.

``add`` registers a publisher for an existing project (``--project``) or a
pending one that creates its project on first use (``--pending NAME --owner
USER``, usable for ``--expires-in``, 30 days by default); one flag names the
provider and its identity (``--github OWNER/REPO``, ``--gitlab``, ``--google``,
``--circleci``, ``--activestate``) with its optional constraints.  ``list``
shows expired pending publishers as such; ``remove ID`` also deletes the tokens
the publisher minted.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attestkit.cli._common import duration, fail_usage, iso_when, print_json, print_table
from attestkit.cli._index_common import Action as _Action
from attestkit.cli._index_common import Listing, existing_project, existing_user
from attestkit.cli._index_common import Report as _Report
from attestkit.cli._publisher_args import _describe, _publisher_config

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.cli._options import Subparsers

__all__ = ["PUBLISHER_HANDLERS", "add_publisher_parsers"]


def _past(when: dt.datetime | None) -> bool:
    """Whether a stored time (naive UTC from SQLite, aware from PostgreSQL) has passed."""
    from attestkit.index.upload.auth import as_utc

    return when is not None and as_utc(when) <= dt.datetime.now(dt.UTC)


def _publisher_add(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index import admin
    from attestkit.index.db import TrustedPublisher

    kind, config = _publisher_config(args)
    config = {k: v for k, v in config.items() if v is not None}
    if args.pending is not None and not args.owner:
        fail_usage("--pending needs --owner USER (who will own the new project)")
    owner = existing_user(session, args.owner) if args.owner else None
    project = existing_project(session, args.project) if args.project else None
    for existing in session.scalars(select(TrustedPublisher).where(TrustedPublisher.kind == kind)):
        same_target = (
            existing.project_id == project.id
            if project is not None
            else existing.pending_project_name is not None
            and admin.normalize(existing.pending_project_name) == admin.normalize(args.pending)
        )
        if same_target and existing.config == config:
            fail_usage(f"the same publisher is already registered (id {existing.id})")
    expires = None
    if args.pending is not None:
        from attestkit.index.db import utcnow

        expires = utcnow() + dt.timedelta(seconds=args.expires_in)
    publisher = admin.add_publisher(
        session,
        kind,
        config,
        project=project,
        pending_name=args.pending,
        added_by=owner,
        expires=expires,
    )
    target = (
        f"project {project.name}"
        if project
        else f"pending project {args.pending}, until {iso_when(expires)}"
    )
    return lambda: print(
        f"added {kind} publisher {publisher.id} for {target}: {_describe(publisher)}"
    )


def _publisher_list(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index.db import Project, TrustedPublisher, User

    projects = {k: v for k, v in session.execute(select(Project.id, Project.name))}
    users = {k: v for k, v in session.execute(select(User.id, User.username))}
    rows: list[dict[str, Any]] = [
        {
            "id": p.id,
            "kind": p.kind,
            "project": projects.get(p.project_id) if p.project_id is not None else None,
            "pending_project": p.pending_project_name,
            "added_by": users.get(p.added_by_id) if p.added_by_id is not None else None,
            "config": p.config,
            "created": iso_when(p.created),
            "expires": iso_when(p.expires),
            "expired": p.project_id is None and _past(p.expires),
        }
        for p in session.scalars(select(TrustedPublisher).order_by(TrustedPublisher.id))
    ]
    if args.json:
        print_json(rows)
        return None
    publishers = {p.id: p for p in session.scalars(select(TrustedPublisher))}
    shown = [
        dict(
            r,
            project=r["project"]
            or f"{r['pending_project']} ({'expired' if r['expired'] else 'pending'})",
            publisher=_describe(publishers[r["id"]]),
        )
        for r in rows
    ]
    print_table(shown, ("id", "kind", "project", "publisher", "added_by"))
    return None


def _publisher_remove(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.db import TrustedPublisher

    publisher = session.get(TrustedPublisher, args.id)
    if publisher is None:
        fail_usage(f"no publisher {args.id} (see `attestkit index publisher list`)")
    session.delete(publisher)
    text = f"removed {publisher.kind} publisher {publisher.id}: {_describe(publisher)}"
    return lambda: print(text + " (and the tokens it minted)")


PUBLISHER_HANDLERS: dict[tuple[str, str], Callable[[Session, argparse.Namespace], _Report]] = {
    ("publisher", "add"): _publisher_add,
    ("publisher", "list"): _publisher_list,
    ("publisher", "remove"): _publisher_remove,
}


def add_publisher_parsers(
    objects: Subparsers[argparse.ArgumentParser],
    action: _Action,
    listing: Listing,
) -> None:
    """Add ``attestkit index publisher add|list|remove``."""
    group = objects.add_parser("publisher", help="Trusted Publishers")
    publishers = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(
        publishers,
        "add",
        "register a Trusted Publisher for a project, or a pending one that creates its project"
        " on first use",
    )
    target = q.add_mutually_exclusive_group(required=True)
    target.add_argument("--project", metavar="P", help="an existing project")
    target.add_argument("--pending", metavar="NAME", help="a project to create on first publish")
    q.add_argument("--owner", metavar="USER", help="who owns the pending project (and added it)")
    q.add_argument(
        "--expires-in",
        metavar="TIME",
        type=duration,
        default=30 * 86400,
        help="a pending publisher stops working after this long unless used (default 30d)",
    )
    kind = q.add_mutually_exclusive_group(required=True)
    kind.add_argument("--github", metavar="OWNER/REPO", help="GitHub Actions repository")
    kind.add_argument("--gitlab", metavar="GROUP/PROJECT", help="GitLab CI project path")
    kind.add_argument("--google", metavar="EMAIL", help="Google service account email")
    kind.add_argument("--circleci", metavar="PROJECT_ID", help="CircleCI project id")
    kind.add_argument("--activestate", metavar="ORG/PROJECT", help="ActiveState project")
    q.add_argument("--workflow", metavar="FILE", help="GitHub workflow file or GitLab CI path")
    q.add_argument("--environment", metavar="E", help="required deployment environment")
    q.add_argument("--repository-owner-id", metavar="ID", help="GitHub owner account id")
    q.add_argument(
        "--issuer",
        "--issuer-url",
        dest="issuer_url",
        metavar="URL",
        help="custom OIDC issuer: a self-managed GitLab's URL, or a GitHub Enterprise Server's"
        " https://HOST/_services/token (https; http only on loopback)",
    )
    q.add_argument("--sub", metavar="SUB", help="Google subject (optional)")
    q.add_argument("--pipeline-definition-id", metavar="ID", help="CircleCI pipeline definition")
    q.add_argument("--vcs-origin", metavar="ORIGIN", help="CircleCI VCS origin (optional)")
    q.add_argument("--vcs-ref", metavar="REF", help="CircleCI VCS ref (optional)")
    q.add_argument("--organization-id", metavar="ID", help="CircleCI organization (optional)")
    q.add_argument("--actor-id", metavar="ID", help="ActiveState actor id")
    q.add_argument("--actor", metavar="NAME", help="ActiveState actor name (optional)")
    listing(publishers, "list Trusted Publishers")
    q = action(publishers, "remove", "delete a Trusted Publisher")
    q.add_argument("id", metavar="ID", type=int)
