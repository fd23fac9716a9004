"""``attestkit index``: administer an index's users, projects, API tokens and Trusted Publishers.

Every action opens the index database: ``--data-dir`` is the same directory
``attestkit serve --data-dir`` uses (the index is in its ``index/``
subdirectory; default :func:`attestkit.index.instance.default_data_dir`), and
``--database-url`` selects PostgreSQL,
creating or upgrading its schema, and works in one transaction.  Errors are one
line with exit code 2; ``list`` actions print a table, or JSON with ``--json``.
``token add`` prints the new token alone on stdout (it is shown only once), so
``TOKEN=$(attestkit index token add --user alice)`` works.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from attestkit.cli import EXIT_OK
from attestkit.cli._common import fail_usage, print_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.db import Project, TrustedPublisher, User

__all__ = ["run"]


#: What a handler prints once its transaction committed (None: it printed already).
_Report = Callable[[], None] | None
#: A handler works in the transaction and may return what to print once it committed.
_Handler = Callable[["Session", argparse.Namespace], _Report]


def run(args: argparse.Namespace) -> int:
    """Dispatch ``attestkit index OBJECT ACTION``."""
    handler = _HANDLERS[(args.index_object, args.index_action)]
    with _session(args) as session:
        report = handler(session, args)
    if report is not None:
        report()  # only after the commit: a printed token or id really exists
    return EXIT_OK


@contextmanager
def _session(args: argparse.Namespace) -> Iterator[Session]:
    """A transaction on the index; admin and database errors become usage errors."""
    from sqlalchemy.exc import SQLAlchemyError

    from attestkit.errors import InputError
    from attestkit.index.instance import Index, IndexConfig, index_dir

    data_dir = index_dir(args.data_dir)
    try:
        index = Index.open(IndexConfig(data_dir=data_dir, database_url=args.database_url))
    except (SQLAlchemyError, OSError, ValueError) as exc:
        fail_usage(f"cannot open the index in {data_dir}: {_one_line(exc)}")
    try:
        with index.session() as session:
            yield session
    except InputError as exc:
        fail_usage(str(exc))
    except SQLAlchemyError as exc:
        fail_usage(f"database error: {_one_line(exc)}")
    finally:
        index.close()


def _one_line(exc: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError

    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _when(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive UTC datetimes
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` as aligned columns (``-`` for empty values)."""
    if not rows:
        print("(none)")
        return
    cells = [[("-" if row[c] in (None, "") else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _user(session: Session, name: str) -> User:
    from attestkit.index import admin

    user = admin.find_user(session, name)
    if user is None:
        fail_usage(f"no user {name!r} (create it with `attestkit index user add {name}`)")
    return user


def _project(session: Session, name: str) -> Project:
    from attestkit.index import admin

    project = admin.find_project(session, name)
    if project is None:
        fail_usage(f"no project {name!r} (create it with `attestkit index project add`)")
    return project


# -- users -------------------------------------------------------------------------------


def _user_add(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index import admin

    user = admin.create_user(session, args.name, args.email)
    return lambda: print(f"created user {user.username} (id {user.id})")


def _user_list(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index.db import User

    rows = [
        {"id": u.id, "username": u.username, "email": u.email, "created": _when(u.created)}
        for u in session.scalars(select(User).order_by(User.username))
    ]
    if args.json:
        print_json(rows)
    else:
        _table(rows, ("id", "username", "email", "created"))
    return None


# -- projects ------------------------------------------------------------------------------


def _project_add(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index import admin

    owner = _user(session, args.owner)
    project = admin.create_project(session, args.name, owner)
    return lambda: print(f"created project {project.name} (owner {owner.username})")


def _project_list(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index.db import Project, Role, User

    owners: dict[int, list[str]] = {}
    for role, username in session.execute(
        select(Role, User.username).join(User, User.id == Role.user_id).order_by(User.username)
    ):
        owners.setdefault(role.project_id, []).append(
            username if role.role == "Owner" else f"{username} ({role.role})"
        )
    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "normalized_name": p.normalized_name,
            "owners": owners.get(p.id, []),
            "serial": p.serial,
            "total_size": p.total_size,
            "created": _when(p.created),
        }
        for p in session.scalars(select(Project).order_by(Project.normalized_name))
    ]
    if args.json:
        print_json(rows)
    else:
        shown = [dict(r, owners=", ".join(r["owners"])) for r in rows]
        _table(shown, ("name", "owners", "serial", "created"))
    return None


# -- tokens ---------------------------------------------------------------------------------


def _token_add(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index import admin
    from attestkit.index.db import Role, utcnow

    user = _user(session, args.user)
    project = _project(session, args.project) if args.project else None
    if project is not None and (
        session.query(Role).filter_by(user_id=user.id, project_id=project.id).first() is None
    ):
        fail_usage(f"user {user.username!r} has no role on project {project.name!r}")
    expires = None
    if args.expires_in is not None:
        if args.expires_in <= 0:
            fail_usage("--expires-in must be a positive number of seconds")
        expires = utcnow() + dt.timedelta(seconds=args.expires_in)
    token, row = admin.create_token(
        session, user=user, project=project, expires=expires, description=args.description
    )
    scope = f"project {project.name}" if project else "all of the user's projects"
    until = f", expires {_when(expires)}" if expires else ""
    note = f"token {row.id} for {user.username} ({scope}{until}); it is shown only once"

    def report() -> None:
        print(token)
        print(note, file=sys.stderr)

    return report


def _token_rows(session: Session) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from attestkit.index.db import ApiToken, Project, TrustedPublisher, User

    users = {k: v for k, v in session.execute(select(User.id, User.username))}
    projects = {k: v for k, v in session.execute(select(Project.id, Project.name))}
    publishers = {p.id: p for p in session.scalars(select(TrustedPublisher))}
    now = dt.datetime.now(dt.UTC)
    rows = []
    for t in session.scalars(select(ApiToken).order_by(ApiToken.created, ApiToken.id)):
        expires = t.expires.replace(tzinfo=t.expires.tzinfo or dt.UTC) if t.expires else None
        if t.publisher_id is not None:
            owner = f"publisher {t.publisher_id}"
            publisher = publishers.get(t.publisher_id)
            project_id = publisher.project_id if publisher else None
        else:
            owner = users.get(t.user_id, "?") if t.user_id is not None else "?"
            project_id = t.project_id
        rows.append(
            {
                "id": t.id,
                "owner": owner,
                "user": users.get(t.user_id) if t.user_id is not None else None,
                "publisher_id": t.publisher_id,
                "project": projects.get(project_id) if project_id is not None else None,
                "description": t.description,
                "created": _when(t.created),
                "expires": _when(t.expires),
                "expired": expires is not None and expires <= now,
                "last_used": _when(t.last_used),
            }
        )
    return rows


def _token_list(session: Session, args: argparse.Namespace) -> _Report:
    rows = _token_rows(session)
    if args.json:
        print_json(rows)
    else:
        shown = [
            dict(r, expires=f"{r['expires']} (expired)" if r["expired"] else r["expires"])
            for r in rows
        ]
        _table(shown, ("id", "owner", "project", "expires", "last_used", "description"))
    return None


def _token_revoke(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index.db import ApiToken

    wanted = args.id.strip().lower()
    if len(wanted) < 6:
        fail_usage("give the token id, or at least its first 6 characters")
    matches = list(session.scalars(select(ApiToken).where(ApiToken.id.startswith(wanted))))
    if not matches:
        fail_usage(f"no token {args.id!r} (see `attestkit index token list`)")
    if len(matches) > 1:
        fail_usage(f"{args.id!r} matches {len(matches)} tokens; give more of the id")
    session.delete(matches[0])
    return lambda: print(f"revoked token {matches[0].id}")


# -- publishers --------------------------------------------------------------------------------


def _only(args: argparse.Namespace, kind: str, allowed: set[str]) -> None:
    """Refuse options that do not apply to ``kind``."""
    options = {
        "workflow": "--workflow",
        "environment": "--environment",
        "repository_owner_id": "--repository-owner-id",
        "issuer_url": "--issuer",
        "sub": "--sub",
        "pipeline_definition_id": "--pipeline-definition-id",
        "vcs_origin": "--vcs-origin",
        "vcs_ref": "--vcs-ref",
        "organization_id": "--organization-id",
        "actor_id": "--actor-id",
        "actor": "--actor",
    }
    for name, flag in options.items():
        if name not in allowed and getattr(args, name) is not None:
            fail_usage(f"{flag} does not apply to {kind} publishers")


def _two_parts(value: str, flag: str, shape: str) -> tuple[str, str]:
    first, sep, second = value.partition("/")
    if not (sep and first and second) or "/" in second:
        fail_usage(f"{flag} must be {shape}, got {value!r}")
    return first, second


def _issuer(url: str | None) -> str | None:
    """A custom issuer URL, checked (https, http only on loopback); None if not given."""
    from attestkit.core.issuers import check_issuer_url

    if not url:
        return None
    try:
        return check_issuer_url(url)
    except ValueError as exc:
        fail_usage(f"--issuer: {exc}")


def _publisher_config(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The publisher kind and configuration the flags describe."""
    if args.github is not None:
        _only(args, "GitHub", {"workflow", "environment", "repository_owner_id", "issuer_url"})
        _two_parts(args.github, "--github", "OWNER/REPO")
        workflow = (args.workflow or "").removeprefix(".github/workflows/")
        if not workflow:
            fail_usage("a GitHub publisher needs --workflow FILE (e.g. release.yml)")
        if "/" in workflow or not workflow.endswith((".yml", ".yaml")):
            fail_usage(
                f"--workflow must be a workflow file name ending in .yml or .yaml,"
                f" got {args.workflow!r}"
            )
        return "GitHub", {
            "repository": args.github,
            "workflow": workflow,
            "environment": args.environment,
            "repository_owner_id": args.repository_owner_id,
            "issuer_url": _issuer(args.issuer_url),
        }
    if args.gitlab is not None:
        _only(args, "GitLab", {"workflow", "environment", "issuer_url"})
        path = args.gitlab.strip("/")
        if "/" not in path:
            fail_usage(f"--gitlab must be GROUP/PROJECT (subgroups allowed), got {args.gitlab!r}")
        if not args.workflow:
            fail_usage("a GitLab publisher needs --workflow PATH (e.g. .gitlab-ci.yml)")
        return "GitLab", {
            "repository": path,
            "workflow_filepath": args.workflow,
            "environment": args.environment,
            "issuer_url": _issuer(args.issuer_url),
        }
    if args.google is not None:
        _only(args, "Google", {"sub"})
        if "@" not in args.google:
            fail_usage(f"--google must be a service account email, got {args.google!r}")
        return "Google", {"email": args.google, "sub": args.sub}
    if args.circleci is not None:
        _only(
            args, "CircleCI", {"pipeline_definition_id", "vcs_origin", "vcs_ref", "organization_id"}
        )
        if not args.pipeline_definition_id:
            fail_usage("a CircleCI publisher needs --pipeline-definition-id ID")
        return "CircleCI", {
            "project_id": args.circleci,
            "pipeline_definition_id": args.pipeline_definition_id,
            "vcs_origin": args.vcs_origin,
            "vcs_ref": args.vcs_ref,
            "organization_id": args.organization_id,
        }
    _only(args, "ActiveState", {"actor_id", "actor"})
    organization, project = _two_parts(args.activestate, "--activestate", "ORG/PROJECT")
    if not args.actor_id:
        fail_usage("an ActiveState publisher needs --actor-id ID")
    return "ActiveState", {
        "organization": organization,
        "project": project,
        "actor_id": args.actor_id,
        "actor": args.actor,
    }


def _describe(publisher: TrustedPublisher) -> str:
    config = publisher.config
    describe: dict[str, Callable[[], str]] = {
        "GitHub": lambda: f"{config['repository']} workflow {config['workflow']}",
        "GitLab": lambda: f"{config['repository']} CI file {config['workflow_filepath']}",
        "Google": lambda: str(config["email"]),
        "CircleCI": lambda: (
            f"project {config['project_id']} pipeline {config['pipeline_definition_id']}"
        ),
        "ActiveState": lambda: (
            f"{config['organization']}/{config['project']} actor {config['actor_id']}"
        ),
    }
    text = describe[publisher.kind]() if publisher.kind in describe else str(config)
    extras = [
        f"{k} {config[k]}"
        for k in ("environment", "repository_owner_id", "issuer_url", "sub", "vcs_origin")
        if config.get(k)
    ]
    return ", ".join([text, *extras])


def _publisher_add(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index import admin
    from attestkit.index.db import TrustedPublisher

    kind, config = _publisher_config(args)
    config = {k: v for k, v in config.items() if v is not None}
    if args.pending is not None and not args.owner:
        fail_usage("--pending needs --owner USER (who will own the new project)")
    owner = _user(session, args.owner) if args.owner else None
    project = _project(session, args.project) if args.project else None
    for existing in session.scalars(select(TrustedPublisher).where(TrustedPublisher.kind == kind)):
        same_target = (
            existing.project_id == project.id
            if project is not None
            else existing.pending_project_name is not None
            and admin.normalize(existing.pending_project_name) == admin.normalize(args.pending)
        )
        if same_target and existing.config == config:
            fail_usage(f"the same publisher is already registered (id {existing.id})")
    publisher = admin.add_publisher(
        session, kind, config, project=project, pending_name=args.pending, added_by=owner
    )
    target = f"project {project.name}" if project else f"pending project {args.pending}"
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
            "created": _when(p.created),
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
            project=r["project"] or f"{r['pending_project']} (pending)",
            publisher=_describe(publishers[r["id"]]),
        )
        for r in rows
    ]
    _table(shown, ("id", "kind", "project", "publisher", "added_by"))
    return None


def _publisher_remove(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.db import TrustedPublisher

    publisher = session.get(TrustedPublisher, args.id)
    if publisher is None:
        fail_usage(f"no publisher {args.id} (see `attestkit index publisher list`)")
    session.delete(publisher)
    text = f"removed {publisher.kind} publisher {publisher.id}: {_describe(publisher)}"
    return lambda: print(text + " (and the tokens it minted)")


_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("user", "add"): _user_add,
    ("user", "list"): _user_list,
    ("project", "add"): _project_add,
    ("project", "list"): _project_list,
    ("token", "add"): _token_add,
    ("token", "list"): _token_list,
    ("token", "revoke"): _token_revoke,
    ("publisher", "add"): _publisher_add,
    ("publisher", "list"): _publisher_list,
    ("publisher", "remove"): _publisher_remove,
}
