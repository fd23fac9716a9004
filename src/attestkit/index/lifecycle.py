"""A project's life after upload: yanking (PEP 592), status markers (PEP 792) and deletion.

Every change is one transaction that also bumps the project's serial, so the
Simple API shows it at once (cached pages are valid only for the serial they
were rendered at).  Rules, as on PyPI:

* a yank is reversible and keeps the files installable by exact pins; the
  reason is shown as the files' ``yanked`` value;
* a deleted file's name is recorded in ``deleted_filenames`` and never accepted
  again, whoever uploads it;
* a deleted release deletes its files; a deleted project deletes its releases,
  roles, publishers and tokens (by cascade) and frees the name.

Stored bytes are removed only after the transaction committed (:func:`remove_stored`);
a crash in between leaves an unreferenced file, which ``attestkit serve``'s start-up
sweep removes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.utils import canonicalize_version
from sqlalchemy import select

from attestkit.core.constants import PROJECT_STATUSES
from attestkit.errors import InputError, NotFoundError
from attestkit.index.admin import find_project
from attestkit.index.db import DeletedFilename, File, Project, Release

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.instance import Index

__all__ = [
    "STATUSES",
    "delete_file",
    "delete_project",
    "delete_release",
    "remove_stored",
    "set_status",
    "set_yanked",
]

#: PEP 792 project status markers.
STATUSES = PROJECT_STATUSES


def _project(session: Session, name: str) -> Project:
    project = find_project(session, name)
    if project is None:
        raise NotFoundError(f"no project {name!r}")
    return project


def _release(session: Session, project: Project, version: str) -> Release:
    releases = session.scalars(select(Release).where(Release.project_id == project.id)).all()
    wanted = canonicalize_version(version)
    for release in releases:
        if release.version == version or release.canonical_version == wanted:
            return release
    raise NotFoundError(f"project {project.name!r} has no release {version!r}")


def set_yanked(
    session: Session, project_name: str, version: str, reason: str | None, *, yanked: bool = True
) -> Release:
    """Yank (or unyank) a release; ``reason`` is what installers show."""
    project = _project(session, project_name)
    release = _release(session, project, version)
    release.yanked = yanked
    release.yanked_reason = (reason or None) if yanked else None
    project.serial += 1
    return release


def set_status(session: Session, project_name: str, status: str, reason: str | None) -> Project:
    """Set a project's PEP 792 status (and the reason installers may show).

    ``archived`` and ``quarantined`` refuse uploads; ``quarantined`` also
    withdraws the files from the Simple API and downloads (they are kept, and
    come back with ``active``).
    """
    if status not in STATUSES:
        raise InputError(f"unknown project status {status!r} (one of {', '.join(STATUSES)})")
    project = _project(session, project_name)
    project.status = status
    project.status_reason = (reason or None) if status != "active" else None
    project.serial += 1
    return project


def _forget(session: Session, project: Project, files: list[File]) -> list[str]:
    """Delete ``files`` and record their names; their store paths (to remove after commit)."""
    paths = []
    for file in files:
        session.add(
            DeletedFilename(
                filename=file.filename, blake2_256=file.blake2_256, project=project.name
            )
        )
        project.total_size = max(0, project.total_size - file.size)
        paths.append(file.path)
        session.delete(file)
    return paths


def delete_file(session: Session, project_name: str, filename: str) -> list[str]:
    """Delete one file of the project; the store paths to remove after the commit."""
    project = _project(session, project_name)
    file = session.scalar(
        select(File)
        .join(Release, Release.id == File.release_id)
        .where(Release.project_id == project.id, File.filename == filename)
    )
    if file is None:
        raise NotFoundError(f"project {project.name!r} has no file {filename!r}")
    paths = _forget(session, project, [file])
    project.serial += 1
    return paths


def delete_release(session: Session, project_name: str, version: str) -> list[str]:
    """Delete a release and its files; the store paths to remove after the commit."""
    project = _project(session, project_name)
    release = _release(session, project, version)
    files = list(session.scalars(select(File).where(File.release_id == release.id)))
    paths = _forget(session, project, files)
    session.delete(release)
    project.serial += 1
    return paths


def delete_project(session: Session, project_name: str) -> list[str]:
    """Delete a project with everything in it; the store paths to remove after the commit."""
    project = _project(session, project_name)
    files = list(
        session.scalars(
            select(File)
            .join(Release, Release.id == File.release_id)
            .where(Release.project_id == project.id)
        )
    )
    paths = _forget(session, project, files)
    for release in session.scalars(select(Release).where(Release.project_id == project.id)):
        session.delete(release)
    session.delete(project)
    return paths


def remove_stored(index: Index, paths: list[str]) -> None:
    """Remove deleted files' bytes and metadata from the store (after the commit)."""
    for path in paths:
        index.store.delete(path)
        index.store.delete(f"{path}.metadata")
