"""The verifying mirror: projects this index does not host, fetched from upstream and checked.

A project page is read from its upstream (:mod:`~attestkit.index.mirror.config`
decides which) on first request and revalidated once older than the TTL
(``If-None-Match``); its files are recorded by name with the SHA-256 upstream
announced the first time — the only bytes ever served under that name (a later
page announcing other bytes quarantines the file).  Yanks, ``requires-python``
and the project status follow upstream on every revalidation.  Up to ``eager``
files are judged while a page is built (:mod:`~attestkit.index.mirror.judging`);
any other file when it is first downloaded (:mod:`~attestkit.index.mirror.downloads`).

When upstream cannot be reached, what was fetched before is served, marked
stale; what was never fetched is a 503 with ``Retry-After``, and an
unreachable upstream is not tried again for ``retry_after`` seconds.  A project
is never looked up on a lower-priority upstream because a higher one failed.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from attestkit.errors import ServiceError
from attestkit.index.db import MirrorFile, MirrorProject, MirrorPublisher, utcnow
from attestkit.index.mirror.config import MirrorConfig
from attestkit.index.mirror.judging import judge_pending
from attestkit.index.mirror.upstream import (
    NOT_MODIFIED,
    Upstream,
    UpstreamPage,
    UpstreamRefused,
    UpstreamUnavailable,
)
from attestkit.index.mirror.verdicts import (
    SERVED,
    version_key,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.instance import Index
    from attestkit.sigstore.verify.attestation import Verifier

__all__ = [
    "Mirror",
    "MirrorState",
    "MirrorUnavailable",
    "MirroredFile",
    "MirroredProject",
]


logger = logging.getLogger(__name__)

_STATE = select(
    MirrorProject.id,
    MirrorProject.serial,
    MirrorProject.created,
    MirrorProject.fetched,
    MirrorProject.upstream,
).where(MirrorProject.normalized_name == bindparam("name"))


class MirrorUnavailable(ServiceError):  # noqa: N818 - a state the HTTP layer turns into 503/502
    """A mirrored page cannot be served: upstream is unreachable (503) or refused (502)."""

    def __init__(self, reason: str, status: int = 503, retry_after: int = 30) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class MirrorState:
    """What a cached rendering of a mirrored page is valid for, and whether it is stale."""

    id: int
    serial: int
    created: Any
    #: Why the page could not be revalidated (served stale), or None.
    stale: str | None = None

    @property
    def key(self) -> tuple[int, int, Any]:
        return (self.id, self.serial, self.created)


@dataclass(frozen=True)
class MirroredFile:
    """One mirrored file as the pages show it."""

    filename: str
    version: str | None
    sha256: str
    entry: dict[str, Any]
    state: str
    reason: str | None
    flag: str | None
    publishers: tuple[dict[str, Any], ...]
    has_provenance: bool
    listed: bool
    first_seen: Any

    @property
    def shown(self) -> bool:
        """Listed on the Simple API: on upstream's page and not held back (pending included)."""
        return self.listed and (self.state in SERVED or self.state == "pending")

    @property
    def advertises_provenance(self) -> bool:
        """Whether the page points at provenance: verified, or announced upstream and pending."""
        if self.state == "pending":
            return bool(self.entry.get("provenance"))
        return self.has_provenance


@dataclass(frozen=True)
class MirroredProject:
    """A mirrored project: its upstream page keys, files and publisher history."""

    name: str
    upstream: str
    serial: int
    fetched: Any
    page: dict[str, Any]
    baseline_version: str | None
    files: tuple[MirroredFile, ...]
    #: ``(publisher, first version, first seen, accepted, note)`` in order of appearance.
    publishers: tuple[tuple[dict[str, Any], str | None, Any, bool, str | None], ...]


def version_of(filename: str) -> str | None:
    """The version a distribution filename names, or None."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class Mirror:
    """The mirror of one index (``Index.mirror``); safe to share between threads."""

    def __init__(self, index: Index, config: MirrorConfig) -> None:
        self.index = index
        self.config = config
        self.upstream = Upstream(timeout=config.timeout, max_file=index.config.max_file_size)
        self._guard = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        #: Upstream root -> (monotonic time until which it is not tried, why).
        self._down: dict[str, tuple[float, str]] = {}
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mirror-judge")

    @functools.cached_property
    def verifiers(self) -> list[Verifier]:
        """One verifier per trust root of the index, built once."""
        from attestkit.sigstore.verify.attestation import Verifier

        return [Verifier(root) for root in self.index.config.trust_roots]

    # -- project pages ------------------------------------------------------------------

    def state(self, normalized: str) -> MirrorState | None:
        """The current state of the mirrored page of ``normalized``, revalidated if due.

        None when no upstream the name may come from has it (or it is local-only);
        :class:`MirrorUnavailable` when it cannot be read and nothing is cached.
        """
        upstreams = self.config.upstreams_for(normalized)
        if not upstreams:
            return None
        # The common case, a fresh cached page, costs one indexed single-row query.
        with self.index.engine.connect() as conn:
            light = conn.execute(_STATE, {"name": normalized}).first()
        if light is not None and light.upstream in upstreams and self._fresh(light.fetched):
            return MirrorState(light.id, light.serial, light.created)
        with self.lock_for(normalized):
            row = self._row(normalized)
            if row is not None and row.upstream in upstreams and self._fresh(row.fetched):
                return MirrorState(row.id, row.serial, row.created)
            return self._refresh(normalized, row, upstreams)

    def view(self, normalized: str) -> MirroredProject | None:
        """Everything stored about the mirrored project ``normalized`` (no upstream access)."""
        with self.index.session() as session:
            project = session.scalar(
                select(MirrorProject).where(MirrorProject.normalized_name == normalized)
            )
            if project is None:
                return None
            files = session.scalars(
                select(MirrorFile).where(MirrorFile.project_id == project.id)
            ).all()
            history = session.scalars(
                select(MirrorPublisher)
                .where(MirrorPublisher.project_id == project.id)
                .order_by(MirrorPublisher.id)
            ).all()
            mirrored = tuple(
                MirroredFile(
                    f.filename,
                    f.version,
                    f.sha256,
                    dict(f.entry),
                    f.state,
                    f.reason,
                    f.flag,
                    tuple(f.publishers or ()),
                    f.provenance is not None,
                    f.listed,
                    f.first_seen,
                )
                for f in sorted(files, key=lambda f: (version_key(f.version), f.filename))
            )
            return MirroredProject(
                normalized,
                project.upstream,
                project.serial,
                project.fetched,
                dict(project.page),
                project.baseline_version,
                mirrored,
                tuple(
                    (dict(p.publisher), p.first_version, p.first_seen, p.accepted, p.note)
                    for p in history
                ),
            )

    def _row(self, normalized: str) -> MirrorProject | None:
        with self.index.session() as session:
            return session.scalar(
                select(MirrorProject).where(MirrorProject.normalized_name == normalized)
            )

    def _fresh(self, fetched: dt.datetime) -> bool:
        age = (utcnow() - _aware(fetched)).total_seconds()
        return 0 <= age < self.config.ttl

    def _judge_in_background(self, project_id: int, normalized: str) -> None:
        try:
            with self.lock_for(normalized):
                judge_pending(self, project_id, normalized, self.config.eager)
        except Exception:  # a background task has nobody to raise to: log, retry on demand
            logger.exception(
                "judging the files of %s failed; they are judged on download", normalized
            )

    def close(self) -> None:
        """Wait for background judging to finish (before the database is closed)."""
        self._background.shutdown(wait=True)

    def lock_for(self, normalized: str) -> threading.Lock:
        """The lock this process holds while it reads or judges ``normalized`` upstream."""
        with self._guard:
            return self._name_locks.setdefault(normalized, threading.Lock())

    def _is_down(self, root: str) -> str | None:
        with self._guard:
            until, why = self._down.get(root, (0.0, ""))
        return why if time.monotonic() < until else None

    def _mark_down(self, root: str, why: str) -> None:
        with self._guard:
            self._down[root] = (time.monotonic() + self.config.retry_after, why)

    def _refresh(
        self, normalized: str, row: MirrorProject | None, upstreams: Sequence[str]
    ) -> MirrorState | None:
        if row is not None and row.upstream not in upstreams:
            # The project's binding changed (policy or upstream list): start afresh.
            with self.index.session() as session:
                stale_row = session.get(MirrorProject, row.id)
                if stale_row is not None:
                    session.delete(stale_row)
            row = None
        roots = [row.upstream] if row is not None else list(upstreams)
        for root in roots:
            why = self._is_down(root)
            try:
                if why is not None:
                    raise UpstreamUnavailable(f"upstream {root} is unavailable (last error: {why})")
                page = self.upstream.page(root, normalized, row.etag if row else None)
            except (UpstreamUnavailable, UpstreamRefused) as exc:
                if isinstance(exc, UpstreamUnavailable):
                    self._mark_down(root, exc.reason)
                if row is not None:
                    return MirrorState(row.id, row.serial, row.created, stale=exc.reason)
                # Never fall through to a lower-priority upstream: it may not own the name.
                status = 503 if isinstance(exc, UpstreamUnavailable) else 502
                raise MirrorUnavailable(exc.reason, status, self.config.retry_after) from None
            if page is None:
                if row is not None:
                    # Removed upstream: its files are no longer listed, but the project's
                    # history (publishers, baseline, verdicts) is kept, so an upstream that
                    # answers 404 once cannot reset trust on first use.
                    return self._withdrawn(row.id)
                continue
            project_id = self._store(normalized, root, row, page)
            if row is None:
                # First fetch: answer now and judge in the background.  Nothing is served
                # before its verdict: a download (or provenance read) of a pending file
                # judges it first, under this name's lock.
                self._background.submit(self._judge_in_background, project_id, normalized)
            else:
                judge_pending(self, project_id, normalized, self.config.eager)
            with self.index.session() as session:
                project = session.get(MirrorProject, project_id)
                assert project is not None
                return MirrorState(project.id, project.serial, project.created)
        return None

    def _withdrawn(self, project_id: int) -> MirrorState | None:
        with self.index.session() as session:
            project = session.get(MirrorProject, project_id)
            if project is None:
                return None
            project.fetched = utcnow()
            project.etag = None
            listed = session.scalars(
                select(MirrorFile).where(
                    MirrorFile.project_id == project_id, MirrorFile.listed.is_(True)
                )
            ).all()
            if listed:
                for file in listed:
                    file.listed = False
                project.serial += 1
            return MirrorState(project.id, project.serial, project.created)

    def _store(
        self, normalized: str, root: str, row: MirrorProject | None, page: UpstreamPage | str
    ) -> int:
        """Record a page read from upstream; the project's id."""
        now = utcnow()
        try:
            with self.index.session() as session:
                if row is None:
                    assert isinstance(page, UpstreamPage)
                    project = MirrorProject(
                        normalized_name=normalized,
                        upstream=root,
                        etag=page.etag,
                        page=page.project,
                        fetched=now,
                        created=now,
                        serial=1,
                    )
                    session.add(project)
                    session.flush()
                    for entry in page.files:
                        session.add(self._new_file(project.id, entry, initial=True))
                    return project.id
                found = session.get(MirrorProject, row.id)
                assert found is not None
                project = found
                project.fetched = now
                if page == NOT_MODIFIED:
                    return project.id
                assert isinstance(page, UpstreamPage)
                if self._merge(session, project, page):
                    project.serial += 1
                project.etag = page.etag
                project.page = page.project
                return project.id
        except IntegrityError:
            # Another process stored the project first: use its rows.
            again = self._row(normalized)
            if again is None:
                raise
            return again.id

    @staticmethod
    def _new_file(project_id: int, entry: dict[str, Any], *, initial: bool) -> MirrorFile:
        return MirrorFile(
            project_id=project_id,
            filename=entry["filename"],
            version=version_of(entry["filename"]),
            sha256=entry["hashes"]["sha256"],
            entry=entry,
            listed=True,
            state="pending",
            publishers=[],
            initial=initial,
        )

    def _merge(self, session: Session, project: MirrorProject, page: UpstreamPage) -> bool:
        """Apply a changed upstream page to the stored files; whether anything shown changed."""
        changed = project.page != page.project
        existing = {
            f.filename: f
            for f in session.scalars(select(MirrorFile).where(MirrorFile.project_id == project.id))
        }
        seen: set[str] = set()
        for entry in page.files:
            name = entry["filename"]
            seen.add(name)
            known = existing.get(name)
            if known is None:
                session.add(self._new_file(project.id, entry, initial=False))
                changed = True
                continue
            if not known.listed:
                known.listed = True
                changed = True
            if entry["hashes"]["sha256"] != known.sha256:
                if known.state != "rejected" and known.flag != "bytes":
                    known.state = "quarantined"
                    known.flag = "bytes"
                    known.reason = (
                        f"upstream now announces other bytes for {name}"
                        f" (sha256 {entry['hashes']['sha256'][:16]}…, first seen"
                        f" {known.sha256[:16]}…): a file is never replaced"
                    )
                    changed = True
                continue  # the new entry is not trusted: keep the first one
            if entry != known.entry:
                known.entry = entry  # yanked, requires-python, ... follow upstream
                changed = True
        for name, known in existing.items():
            if name not in seen and known.listed:
                known.listed = False
                changed = True
        return changed

    def provenance(
        self, normalized: str, version: str, filename: str
    ) -> tuple[str | None, dict[str, Any] | None]:
        """``(error, provenance)`` of a mirrored file for the Integrity API."""
        from packaging.utils import canonicalize_version

        with self.index.session() as session:
            project = session.scalar(
                select(MirrorProject).where(MirrorProject.normalized_name == normalized)
            )
            if project is None:
                return f"No project named {normalized}", None
            row = session.scalar(
                select(MirrorFile).where(
                    MirrorFile.project_id == project.id, MirrorFile.filename == filename
                )
            )
            if (
                row is None
                or row.version is None
                or (canonicalize_version(row.version) != canonicalize_version(version))
            ):
                return f"No file {filename} in {normalized} {version}", None
            file_id, project_id, state = row.id, project.id, row.state
            if (state not in SERVED and state != "pending") or not row.listed:
                return None, None
            if state != "pending":
                return None, (dict(row.provenance) if row.provenance is not None else None)
        with self.lock_for(normalized):
            judge_pending(self, project_id, normalized, 1, only=[file_id])
        with self.index.session() as session:
            judged = session.get(MirrorFile, file_id)
            if judged is None or judged.state not in SERVED or judged.provenance is None:
                return None, None
            return None, dict(judged.provenance)
