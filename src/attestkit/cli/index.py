"""``attestkit index``: administer an index's users, projects, tokens, publishers and quarantine.

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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from attestkit.cli._common import duration, fail_usage, iso_when, print_json, print_table
from attestkit.cli._index_common import Handler as _Handler
from attestkit.cli._index_common import Report as _Report
from attestkit.cli._index_common import existing_project, existing_user
from attestkit.cli._index_lifecycle import (
    LIFECYCLE_HANDLERS,
    add_lifecycle_parsers,
    add_project_delete,
)
from attestkit.cli._index_migrate import add_migrate_parser
from attestkit.cli._index_people import PEOPLE_HANDLERS, add_role_parsers, add_user_remove
from attestkit.cli._index_publishers import PUBLISHER_HANDLERS, add_publisher_parsers
from attestkit.cli._index_quarantine import QUARANTINE_HANDLERS, add_quarantine_parsers
from attestkit.cli._options import EXIT_OK, Subparsers, add_json, add_verbose

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.instance import IndexConfig


__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Dispatch ``attestkit index OBJECT ACTION``."""
    if args.index_object == "migrate":
        from attestkit.cli._index_migrate import migrate

        return migrate(args, index_config(args))
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
    from attestkit.index.instance import Index

    config = index_config(args)
    data_dir = config.data_dir
    creating = (args.index_object, args.index_action) == ("init", "run")
    if not creating and config.database_url is None and not (data_dir / "index.sqlite3").is_file():
        # A typo or a forgotten $ATTESTKIT_DATA_DIR must not silently create an empty index.
        parent = data_dir.parent
        fail_usage(
            f"no index in {data_dir}: check --data-dir, or create one with `attestkit index"
            f" --data-dir {parent} init` (`attestkit serve --data-dir {parent}` does too)"
        )
    try:
        index = Index.open(config)
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


def index_config(args: argparse.Namespace) -> IndexConfig:
    """The index the flags name, over ``--config``'s ``[serve]`` table (kept in ``args``)."""
    from attestkit.cli.serve import storage_from
    from attestkit.errors import AttestkitError
    from attestkit.index.instance import IndexConfig, index_dir
    from attestkit.serving.config import ServeConfig, load_config

    try:
        conf = load_config(args.config).serve if args.config else ServeConfig()
        storage = storage_from(args, conf)
    except AttestkitError as exc:
        fail_usage(str(exc))
    config = IndexConfig(
        data_dir=index_dir(args.data_dir or conf.data_dir),
        database_url=args.database_url or conf.database_url,
        storage=None if storage.is_local else storage,
    )
    args.index_config = config
    return config


def _one_line(exc: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError

    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- users -------------------------------------------------------------------------------


def _user_add(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index import admin

    user = admin.create_user(session, args.name, args.email)
    return lambda: print(f"created user {user.username} (id {user.id})")


def _user_list(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index.db import User

    rows = [
        {"id": u.id, "username": u.username, "email": u.email, "created": iso_when(u.created)}
        for u in session.scalars(select(User).order_by(User.username))
    ]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ("id", "username", "email", "created"))
    return None


# -- projects ------------------------------------------------------------------------------


def _project_add(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index import admin

    owner = existing_user(session, args.owner)
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
            "created": iso_when(p.created),
        }
        for p in session.scalars(select(Project).order_by(Project.normalized_name))
    ]
    if args.json:
        print_json(rows)
    else:
        shown = [dict(r, owners=", ".join(r["owners"])) for r in rows]
        print_table(shown, ("name", "owners", "serial", "created"))
    return None


# -- tokens ---------------------------------------------------------------------------------


def _token_add(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index import admin
    from attestkit.index.db import Role, utcnow

    user = existing_user(session, args.user)
    project = existing_project(session, args.project) if args.project else None
    if project is not None and (
        session.query(Role).filter_by(user_id=user.id, project_id=project.id).first() is None
    ):
        fail_usage(f"user {user.username!r} has no role on project {project.name!r}")
    expires = None
    if args.expires_in is not None:
        expires = utcnow() + dt.timedelta(seconds=args.expires_in)
    token, row = admin.create_token(
        session, user=user, project=project, expires=expires, description=args.description
    )
    scope = f"project {project.name}" if project else "all of the user's projects"
    until = f", expires {iso_when(expires)}" if expires else ""
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
                "created": iso_when(t.created),
                "expires": iso_when(t.expires),
                "expired": expires is not None and expires <= now,
                "last_used": iso_when(t.last_used),
            }
        )
    return rows


def _token_list(session: Session, args: argparse.Namespace) -> _Report:
    rows = _token_rows(session)
    if args.user is not None:
        rows = [r for r in rows if r["user"] == existing_user(session, args.user).username]
    if args.json:
        print_json(rows)
    else:
        shown = [
            dict(r, expires=f"{r['expires']} (expired)" if r["expired"] else r["expires"])
            for r in rows
        ]
        print_table(shown, ("id", "owner", "project", "expires", "last_used", "description"))
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


def _init(session: Session, args: argparse.Namespace) -> _Report:
    config: IndexConfig = args.index_config
    where = config.database_url or str(config.data_dir)
    if config.storage is not None:
        where += f", files in {config.storage.describe()}"
    return lambda: print(f"index ready in {where}")


_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("init", "run"): _init,
    ("user", "add"): _user_add,
    ("user", "list"): _user_list,
    ("project", "add"): _project_add,
    ("project", "list"): _project_list,
    ("token", "add"): _token_add,
    ("token", "list"): _token_list,
    ("token", "revoke"): _token_revoke,
    **PUBLISHER_HANDLERS,
    **QUARANTINE_HANDLERS,
    **LIFECYCLE_HANDLERS,
    **PEOPLE_HANDLERS,
}


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit index``."""
    p = sub.add_parser(
        "index",
        help="administer a package index: users, projects, API tokens, Trusted Publishers",
        description="Manage the users, projects, upload tokens and Trusted Publishers of an"
        " attestkit index (the database `attestkit serve` uses). Works while the server runs.",
    )
    add_verbose(p)

    def where(q: argparse.ArgumentParser, *, top: bool = False) -> None:
        # Accepted before and after the action (like -v).
        default = None if top else argparse.SUPPRESS
        q.add_argument(
            "--data-dir",
            metavar="DIR",
            default=default,
            help="the data directory `attestkit serve` uses (default $ATTESTKIT_DATA_DIR or"
            " ~/.local/share/attestkit); the index is in its index/ subdirectory",
        )
        q.add_argument(
            "--database-url",
            metavar="URL",
            default=default,
            help="postgresql://USER:PW@HOST/DB (default: SQLite in the data directory)",
        )
        q.add_argument(
            "--config",
            metavar="FILE",
            default=default,
            help="attestkit.toml: its [serve] data_dir, database_url and storage (flags win)",
        )
        shown = (lambda text: text) if top else (lambda text: argparse.SUPPRESS)
        q.add_argument(
            "--storage",
            metavar="WHERE",
            default=default,
            help=shown("the file store `attestkit serve --storage` uses (local or s3://BUCKET/P)"),
        )
        q.add_argument(
            "--s3-endpoint-url", metavar="URL", default=default, help=shown("its S3 endpoint")
        )
        q.add_argument("--s3-region", metavar="R", default=default, help=shown("its region"))
        q.add_argument(
            "--s3-redirect-downloads", action="store_true", default=default, help=argparse.SUPPRESS
        )

    where(p, top=True)
    objects = p.add_subparsers(dest="index_object", metavar="OBJECT", required=True)

    def action(
        parent: Subparsers[argparse.ArgumentParser], name: str, text: str
    ) -> argparse.ArgumentParser:
        q = parent.add_parser(name, help=text, description=text)
        add_verbose(q)
        where(q)
        return q

    def listing(parent: Subparsers[argparse.ArgumentParser], text: str) -> argparse.ArgumentParser:
        q = action(parent, "list", text)
        add_json(q)
        return q

    q = objects.add_parser(
        "init", help="create the index (schema and file store) in --data-dir or --database-url"
    )
    add_verbose(q)
    where(q)
    q.set_defaults(index_action="run")

    add_migrate_parser(objects, where)

    group = objects.add_parser("user", help="accounts (they own projects and tokens)")
    users = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(users, "add", "create a user")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--email", metavar="E")
    listing(users, "list users")
    add_user_remove(users, action)

    group = objects.add_parser("project", help="projects and their owners")
    projects = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(projects, "add", "create a project owned by a user")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--owner", metavar="USER", required=True)
    listing(projects, "list projects")
    add_project_delete(projects, action)
    add_lifecycle_parsers(objects, action)
    add_role_parsers(objects, action, listing)

    group = objects.add_parser("token", help="API tokens for uploads (pypi-...)")
    tokens = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(tokens, "add", "create an upload token for a user and print it (shown once)")
    q.add_argument("--user", metavar="USER", required=True)
    q.add_argument("--project", metavar="P", help="only for this project")
    q.add_argument(
        "--expires-in",
        metavar="TIME",
        type=duration,
        help="lifetime: seconds, or e.g. 12h, 90d (default: none)",
    )
    q.add_argument("--description", metavar="D")
    q = listing(tokens, "list tokens (user tokens and ones minted by Trusted Publishing)")
    q.add_argument("--user", metavar="USER", help="only this user's tokens")
    q = action(tokens, "revoke", "delete a token")
    q.add_argument("id", metavar="ID", help="token id (or a unique prefix of it)")

    add_publisher_parsers(objects, action, listing)

    add_quarantine_parsers(objects, action)
