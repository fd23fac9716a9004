"""The operator's decisions on quarantined mirrored files, and the provenance states shown.

``attestkit index quarantine release`` serves a quarantined file and accepts
its publishers for the project from then on (a changed publisher the operator
vouches for); ``reject`` keeps a file out for good.  A file whose provenance does
not verify, or whose bytes upstream changed, is never released.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from attestkit.index.db import MirrorFile, MirrorProject, MirrorPublisher
from attestkit.index.mirror.judging import record_publisher
from attestkit.index.mirror.verdicts import publisher_key, version_key

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.mirror.service import MirroredFile

__all__ = ["reject_file", "release_file", "release_states"]


def _quarantined(session: Session, project: str, filename: str) -> tuple[MirrorProject, MirrorFile]:
    from attestkit.errors import InputError
    from attestkit.index.admin import normalize

    found = session.execute(
        select(MirrorProject, MirrorFile)
        .join(MirrorFile, MirrorFile.project_id == MirrorProject.id)
        .where(MirrorProject.normalized_name == normalize(project), MirrorFile.filename == filename)
    ).first()
    if found is None:
        raise InputError(f"the mirror has no file {filename} of {project}")
    return found[0], found[1]


def release_file(session: Session, project: str, filename: str) -> MirrorFile:
    """Serve a quarantined (or rejected) file and accept its publishers from now on."""
    from attestkit.errors import InputError

    mirrored, row = _quarantined(session, project, filename)
    if row.state not in ("quarantined", "rejected"):
        raise InputError(f"{filename} is not quarantined (it is {row.state})")
    if row.flag == "bytes":
        raise InputError(
            f"{filename}: upstream changed the bytes of a published file; that is never"
            " released (reject it)"
        )
    if row.flag == "signature":
        raise InputError(f"{filename}: its provenance does not verify; that is never released")
    history = session.scalars(
        select(MirrorPublisher).where(MirrorPublisher.project_id == mirrored.id)
    ).all()
    for publisher in row.publishers or ():
        key = publisher_key(publisher)
        match = [h for h in history if dict(h.publisher) == key]
        if match:
            match[0].accepted, match[0].note = True, "released by an operator"
        else:
            record_publisher(
                session, mirrored.id, key, row.version, True, "released by an operator"
            )
    if row.publishers and (
        mirrored.baseline_version is None
        or version_key(row.version) > version_key(mirrored.baseline_version)
    ):
        mirrored.baseline_version = row.version
    row.state = "released"
    mirrored.serial += 1
    return row


def reject_file(session: Session, project: str, filename: str) -> MirrorFile:
    """Never serve a quarantined file (a decision, not a pending quarantine)."""
    from attestkit.errors import InputError

    mirrored, row = _quarantined(session, project, filename)
    if row.state not in ("quarantined", "released"):
        raise InputError(f"{filename} is not quarantined (it is {row.state})")
    row.state = "rejected"
    mirrored.serial += 1
    return row


def release_states(files: Sequence[MirroredFile]) -> list[str]:
    """PyPI's provenance states of one release's files (Warehouse's ``ProvenanceState`` names)."""
    listed = [f for f in files if f.listed]
    if not listed:
        return []
    attested = sum(1 for f in listed if f.publishers or f.flag == "signature")
    states = [
        "no-provenance"
        if attested == 0
        else "full-provenance"
        if attested == len(listed)
        else "partial-provenance"
    ]
    if any(f.flag == "lost" for f in listed):
        states.append("lost-provenance")
    if any(f.flag == "changed" for f in listed):
        states.append("changed-provenance")
    return states
