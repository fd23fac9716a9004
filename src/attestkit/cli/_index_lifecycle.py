"""``attestkit index release|file|project``: yank, delete, status (PEP 592, 792; PyPI's rules).

``release yank PROJECT VERSION [--reason R]`` and ``release unyank`` change what
installers see at once; ``file delete``, ``release delete`` and ``project
delete`` need ``--yes`` and are final: a deleted file's name is never accepted
again.  ``project status NAME active|archived|quarantined|deprecated`` sets the
PEP 792 marker.  The stored bytes are removed after the database change committed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from attestkit.cli._common import fail_usage
from attestkit.cli._index_common import Action as _Action
from attestkit.cli._index_common import Report as _Report

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.cli._options import Subparsers

__all__ = ["LIFECYCLE_HANDLERS", "add_lifecycle_parsers", "add_project_delete"]


def _confirmed(args: argparse.Namespace, what: str) -> None:
    if not args.yes:
        fail_usage(f"deleting {what} is final (its file names can never be used again); add --yes")


def _removing(args: argparse.Namespace, paths: list[str], text: str) -> _Report:
    def report() -> None:
        from attestkit.index.instance import Index

        index = Index.open(args.index_config)  # the committed deletion's files: its store's
        try:
            for path in paths:
                index.store.delete(path)
                index.store.delete(f"{path}.metadata")
        finally:
            index.close()
        print(text)

    return report


def _yank(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.lifecycle import set_yanked

    release = set_yanked(session, args.project, args.version, args.reason)
    why = f": {release.yanked_reason}" if release.yanked_reason else ""
    return lambda: print(f"yanked {args.project} {release.version}{why}")


def _unyank(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.lifecycle import set_yanked

    release = set_yanked(session, args.project, args.version, None, yanked=False)
    return lambda: print(f"unyanked {args.project} {release.version}")


def _delete_release(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.lifecycle import delete_release

    _confirmed(args, f"release {args.version} of {args.project}")
    paths = delete_release(session, args.project, args.version)
    text = f"deleted {args.project} {args.version} ({len(paths)} files)"
    return _removing(args, paths, text)


def _delete_file(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.lifecycle import delete_file

    _confirmed(args, args.filename)
    paths = delete_file(session, args.project, args.filename)
    return _removing(args, paths, f"deleted {args.filename}")


def _status(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.lifecycle import set_status

    project = set_status(session, args.name, args.status, args.reason)
    why = f": {project.status_reason}" if project.status_reason else ""
    return lambda: print(f"{project.name} is now {project.status}{why}")


def _delete_project(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.lifecycle import delete_project

    _confirmed(args, f"project {args.name}")
    paths = delete_project(session, args.name)
    return _removing(args, paths, f"deleted project {args.name} ({len(paths)} files)")


LIFECYCLE_HANDLERS: dict[tuple[str, str], Callable[[Session, argparse.Namespace], _Report]] = {
    ("release", "yank"): _yank,
    ("release", "unyank"): _unyank,
    ("release", "delete"): _delete_release,
    ("file", "delete"): _delete_file,
    ("project", "delete"): _delete_project,
    ("project", "status"): _status,
}


def add_project_delete(projects: Subparsers[argparse.ArgumentParser], action: _Action) -> None:
    """Add ``attestkit index project delete NAME --yes`` and ``project status``."""
    from attestkit.core.constants import PROJECT_STATUSES

    q = action(projects, "delete", "delete a project, its releases and files (final)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    q = action(
        projects,
        "status",
        "set a project's status (PEP 792): archived and quarantined refuse uploads,"
        " quarantined also withdraws the files",
    )
    q.add_argument("name", metavar="NAME")
    q.add_argument("status", choices=PROJECT_STATUSES)
    q.add_argument("--reason", metavar="TEXT", help="why (shown to installers and on the page)")


def add_lifecycle_parsers(objects: Subparsers[argparse.ArgumentParser], action: _Action) -> None:
    """Add ``attestkit index release yank|unyank|delete`` and ``file delete``."""
    group = objects.add_parser("release", help="yank, unyank or delete a release")
    releases = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(releases, "yank", "yank a release (PEP 592): installers skip it unless pinned")
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("version", metavar="VERSION")
    q.add_argument("--reason", metavar="TEXT", help="why (installers show it)")
    q = action(releases, "unyank", "undo a yank")
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("version", metavar="VERSION")
    q = action(releases, "delete", "delete a release and its files (final)")
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("version", metavar="VERSION")
    q.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    group = objects.add_parser("file", help="delete one distribution file")
    files = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(files, "delete", "delete a file; its name can never be uploaded again (final)")
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("filename", metavar="FILENAME")
    q.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
