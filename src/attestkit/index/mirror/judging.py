"""Judging mirrored files: fetch each pending file's provenance, verify it, apply the policy.

Up to a limit of pending files (newest first) are judged at once: their
provenance documents are fetched concurrently, verified against the SHA-256
upstream first announced with the index's trust roots
(:func:`~attestkit.sigstore.verify.evidence.verify_evidence`), and the verdicts
(:mod:`~attestkit.index.mirror.verdicts`) are recorded in one transaction, oldest
version first, so the publisher baseline moves up as it should.  A file whose
provenance cannot be read because upstream is unavailable stays pending.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from sqlalchemy import select

from attestkit.core.install_policy import Evidence
from attestkit.index.db import MirrorFile, MirrorProject, MirrorPublisher, utcnow
from attestkit.index.mirror.upstream import UpstreamRefused, UpstreamUnavailable
from attestkit.index.mirror.verdicts import (
    Candidate,
    baseline_of,
    decide,
    publisher_key,
    version_key,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.mirror.service import Mirror

__all__ = ["judge_pending", "record_publisher"]


def _accept_command(project: str) -> functools.partial[str]:
    return functools.partial("attestkit index quarantine release {0} {1}".format, project)


@dataclass(frozen=True)
class _Job:
    """A pending file whose provenance is being fetched."""

    file_id: int
    filename: str
    version: str | None
    sha256: str
    initial: bool


def record_publisher(
    session: Session,
    project_id: int,
    publisher: dict[str, Any],
    version: str | None,
    accepted: bool,
    note: str | None,
) -> MirrorPublisher:
    row = MirrorPublisher(
        project_id=project_id,
        publisher=publisher_key(publisher),
        first_version=version,
        accepted=accepted,
        note=note,
    )
    session.add(row)
    return row


def judge_pending(
    mirror: Mirror, project_id: int, normalized: str, limit: int, only: Sequence[int] = ()
) -> None:
    """Fetch, verify and judge up to ``limit`` pending files (newest first), or ``only``."""
    with mirror.index.session() as session:
        project = session.get(MirrorProject, project_id)
        if project is None:
            return
        query = select(MirrorFile).where(
            MirrorFile.project_id == project_id, MirrorFile.state == "pending"
        )
        if only:
            query = query.where(MirrorFile.id.in_(only))
        rows = sorted(
            session.scalars(query),
            key=lambda f: (version_key(f.version), f.filename),
            reverse=True,
        )[: max(0, limit)]
        jobs = [_Job(f.id, f.filename, f.version, f.sha256, f.initial) for f in rows]
        urls = [_provenance_url(project, f) for f in rows]
    if not jobs:
        return

    def fetch(job: _Job, url: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """The provenance (None: none upstream) and an error (``unavailable`` or why)."""
        if url is None:
            return None, None
        try:
            return mirror.upstream.provenance(url, job.filename), None
        except UpstreamUnavailable:
            return None, "unavailable"
        except UpstreamRefused as exc:
            return None, exc.reason

    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        fetched = list(pool.map(fetch, jobs, urls))
    from attestkit.sigstore.verify.evidence import verify_evidence

    judged: list[tuple[int, Candidate, dict[str, Any] | None]] = []
    for job, (doc, error) in zip(jobs, fetched, strict=True):
        if error == "unavailable":
            continue  # stays pending: judged when upstream answers again
        if error is not None:
            evidence = Evidence(normalized, job.version, job.filename, "failed", (), error)
        elif doc is None:
            evidence = Evidence(normalized, job.version, job.filename, "absent")
        else:
            evidence = verify_evidence(
                normalized, job.version, job.filename, job.sha256, doc, mirror.verifiers
            )
        keep = doc if evidence.status == "verified" else None
        candidate = Candidate(job.filename, job.version, job.initial, evidence)
        judged.append((job.file_id, candidate, keep))
    if judged:
        _apply(mirror, project_id, normalized, judged)


def _provenance_url(project: MirrorProject, file: MirrorFile) -> str | None:
    url = file.entry.get("provenance")
    if isinstance(url, str):
        return url
    api = str(project.page.get("api-version", "1.0")).split(".")
    if (int(api[0]), int(api[1]) if len(api) > 1 and api[1].isdigit() else 0) >= (1, 3):
        return None  # the index says which files have provenance, and this one has none
    if file.version is None:
        return None
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(project.upstream))
    parts = "/".join(quote(p, safe="") for p in (project.normalized_name, file.version))
    return f"{origin}/integrity/{parts}/{quote(file.filename, safe='')}/provenance"


def _apply(
    mirror: Mirror,
    project_id: int,
    normalized: str,
    judged: Sequence[tuple[int, Candidate, dict[str, Any] | None]],
) -> None:
    """Record verdicts in one transaction, oldest version first (the baseline moves up)."""
    now = utcnow()
    accept = _accept_command(normalized)
    with mirror.index.session() as session:
        project = session.get(MirrorProject, project_id, with_for_update=True)
        if project is None:
            return
        history = list(
            session.scalars(
                select(MirrorPublisher)
                .where(MirrorPublisher.project_id == project_id)
                .order_by(MirrorPublisher.id)
            )
        )
        if project.baseline_version is None:
            # The first page's files set the baseline; files that appeared later never
            # do while the first page has an attested release (they are what is judged).
            first = baseline_of(c for _, c, _ in judged if c.initial) or baseline_of(
                c for _, c, _ in judged
            )
            if first is not None:
                project.baseline_version = first[0]
                for publisher in first[1]:
                    history.append(
                        record_publisher(
                            session, project_id, publisher, first[0], True, "first use"
                        )
                    )
        for file_id, candidate, doc in sorted(
            judged, key=lambda j: (version_key(j[1].version), j[1].filename)
        ):
            row = session.get(MirrorFile, file_id)
            if row is None or row.state != "pending":
                continue
            accepted = [dict(h.publisher) for h in history if h.accepted]
            decision = decide(
                normalized,
                candidate,
                policy=mirror.config.policy,
                accepted=accepted,
                baseline=project.baseline_version,
                accept=accept,
            )
            row.state = decision.state
            row.reason = decision.reason
            row.flag = decision.flag
            row.publishers = [dict(p) for p in decision.publishers]
            row.provenance = doc if decision.state == "verified" else None
            row.judged = now
            known = [dict(h.publisher) for h in history]
            for publisher in decision.publishers:
                key = publisher_key(publisher)
                if key not in known:
                    note = "seen before the mirror's first fetch" if candidate.initial else None
                    history.append(
                        record_publisher(session, project_id, key, candidate.version, False, note)
                    )
                    known.append(key)
            if (
                decision.state == "verified"
                and project.baseline_version is not None
                and version_key(candidate.version) > version_key(project.baseline_version)
                and all(publisher_key(p) in accepted for p in decision.publishers)
            ):
                project.baseline_version = candidate.version
        project.serial += 1
