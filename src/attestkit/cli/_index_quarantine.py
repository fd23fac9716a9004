"""``attestkit index quarantine``: the verifying mirror's held-back files, and the operator's say.

``list`` shows the mirrored files whose provenance failed the mirror's policy
(and, with ``--all``, the rejected ones); ``release PROJECT FILENAME`` serves
one and accepts its publisher for the project; ``reject`` keeps it out for good.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attestkit.cli._common import iso_when, print_json, print_table
from attestkit.cli._options import Subparsers, add_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["QUARANTINE_HANDLERS", "add_quarantine_parsers"]

#: What a handler prints once its transaction committed.
_Report = Callable[[], None] | None


def _quarantine_list(session: Session, args: argparse.Namespace) -> _Report:
    from sqlalchemy import select

    from attestkit.index.admin import normalize
    from attestkit.index.db import MirrorFile, MirrorProject

    query = (
        select(MirrorProject.normalized_name, MirrorFile)
        .join(MirrorFile, MirrorFile.project_id == MirrorProject.id)
        .where(MirrorFile.state.in_(("quarantined", "rejected") if args.all else ("quarantined",)))
        .order_by(MirrorProject.normalized_name, MirrorFile.filename)
    )
    if args.project:
        query = query.where(MirrorProject.normalized_name == normalize(args.project))
    rows: list[dict[str, Any]] = [
        {
            "project": name,
            "version": f.version,
            "filename": f.filename,
            "state": f.state,
            "flag": f.flag,
            "reason": f.reason,
            "publishers": f.publishers,
            "first_seen": iso_when(f.first_seen),
        }
        for name, f in session.execute(query)
    ]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ("project", "filename", "flag", "state", "reason"))
    return None


def _quarantine_release(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.mirror import release_file

    row = release_file(session, args.project, args.filename)
    accepted = ", ".join(str(p.get("repository") or p.get("email") or p) for p in row.publishers)
    also = f"; accepted publisher {accepted}" if accepted else ""
    return lambda: print(f"released {row.filename}: the mirror serves it{also}")


def _quarantine_reject(session: Session, args: argparse.Namespace) -> _Report:
    from attestkit.index.mirror import reject_file

    row = reject_file(session, args.project, args.filename)
    return lambda: print(f"rejected {row.filename}: the mirror never serves it")


QUARANTINE_HANDLERS: dict[tuple[str, str], Callable[[Session, argparse.Namespace], _Report]] = {
    ("quarantine", "list"): _quarantine_list,
    ("quarantine", "release"): _quarantine_release,
    ("quarantine", "reject"): _quarantine_reject,
}


def add_quarantine_parsers(
    objects: Subparsers[argparse.ArgumentParser],
    action: Callable[[Subparsers[argparse.ArgumentParser], str, str], argparse.ArgumentParser],
) -> None:
    """Add ``attestkit index quarantine list|release|reject`` (``action`` adds the common flags)."""
    group = objects.add_parser(
        "quarantine", help="mirrored files held back because their provenance failed the policy"
    )
    quarantine = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(quarantine, "list", "list quarantined mirrored files and why")
    add_json(q)
    q.add_argument("--project", metavar="P", help="only this project")
    q.add_argument("--all", action="store_true", help="rejected files too")
    q = action(
        quarantine,
        "release",
        "serve a quarantined file and accept its publisher for the project from now on",
    )
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("filename", metavar="FILENAME")
    q = action(quarantine, "reject", "never serve a quarantined file")
    q.add_argument("project", metavar="PROJECT")
    q.add_argument("filename", metavar="FILENAME")
