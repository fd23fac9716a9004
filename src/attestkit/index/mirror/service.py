"""The verifying mirror: projects this index does not host, fetched from upstream and checked.

A project page is read from its upstream (:mod:`~attestkit.index.mirror.config`
decides which) on first request and revalidated once older than the TTL
(``If-None-Match``); its files are recorded by name with the SHA-256 upstream
announced the first time — the only bytes ever served under that name.  Each
file's provenance is fetched and verified against that SHA-256 with the
index's trust roots, then judged (:mod:`~attestkit.index.mirror.verdicts`):
files that fail are quarantined and left out of the Simple API until an
operator releases them.  Up to ``eager`` files are judged while a page is
built (newest first, provenance fetched concurrently); any other file is judged
when it is first downloaded.  File bytes and core metadata are fetched on first
download, checked against their announced digests and kept in the file store.

When upstream cannot be reached, what was fetched before is served, marked
stale; what was never fetched is a 503 with ``Retry-After``, and an
unreachable upstream is not tried again for ``retry_after`` seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from attestkit.core.install_policy import Evidence
from attestkit.index.db import MirrorFile, MirrorProject, MirrorPublisher, utcnow
from attestkit.index.mirror.config import MirrorConfig
from attestkit.index.mirror.upstream import (
    MAX_DOCUMENT,
    NOT_MODIFIED,
    DigestMismatch,
    Upstream,
    UpstreamPage,
    UpstreamRefused,
    UpstreamUnavailable,
)
from attestkit.index.mirror.verdicts import (
    SERVED,
    Candidate,
    baseline_of,
    decide,
    publisher_key,
    version_key,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from attestkit.index.instance import Index
    from attestkit.sigstore.verify.attestation import Verifier

__all__ = [
    "FileRefused",
    "Mirror",
    "MirrorState",
    "MirrorUnavailable",
    "MirroredFile",
    "MirroredProject",
    "reject_file",
    "release_file",
    "release_states",
]


class MirrorUnavailable(Exception):  # noqa: N818 - a state the HTTP layer turns into 503/502
    """A mirrored page cannot be served: upstream is unreachable (503) or refused (502)."""

    def __init__(self, reason: str, status: int = 503, retry_after: int = 30) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class FileRefused(Exception):  # noqa: N818
    """A mirrored file (or its metadata) is not served: ``status`` and a one-line reason."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
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
    def served(self) -> bool:
        return self.listed and self.state in SERVED


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


def _accept_command(project: str) -> functools.partial[str]:
    return functools.partial("attestkit index quarantine release {0} {1}".format, project)


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
        row = self._row(normalized)
        if row is not None and row.upstream in upstreams and self._fresh(row):
            return MirrorState(row.id, row.serial, row.created)
        with self._lock_for(normalized):
            row = self._row(normalized)
            if row is not None and row.upstream in upstreams and self._fresh(row):
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

    def _fresh(self, row: MirrorProject) -> bool:
        age = (utcnow() - _aware(row.fetched)).total_seconds()
        return 0 <= age < self.config.ttl

    def _lock_for(self, normalized: str) -> threading.Lock:
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
                if row is not None:  # removed upstream: the mirror follows
                    with self.index.session() as session:
                        gone = session.get(MirrorProject, row.id)
                        if gone is not None:
                            session.delete(gone)
                    return None
                continue
            project_id = self._store(normalized, root, row, page)
            self._judge_pending(project_id, normalized, self.config.eager)
            with self.index.session() as session:
                project = session.get(MirrorProject, project_id)
                assert project is not None
                return MirrorState(project.id, project.serial, project.created)
        return None

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

    # -- judging ------------------------------------------------------------------------

    def _judge_pending(
        self, project_id: int, normalized: str, limit: int, only: Sequence[int] = ()
    ) -> None:
        """Fetch, verify and judge up to ``limit`` pending files (newest first), or ``only``."""
        with self.index.session() as session:
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
            urls = [self._provenance_url(project, f) for f in rows]
        if not jobs:
            return

        def fetch(job: _Job, url: str | None) -> tuple[dict[str, Any] | None, str | None]:
            """The provenance (None: none upstream) and an error (``unavailable`` or why)."""
            if url is None:
                return None, None
            try:
                return self.upstream.provenance(url, job.filename), None
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
                    normalized, job.version, job.filename, job.sha256, doc, self.verifiers
                )
            keep = doc if evidence.status == "verified" else None
            candidate = Candidate(job.filename, job.version, job.initial, evidence)
            judged.append((job.file_id, candidate, keep))
        if judged:
            self._apply(project_id, normalized, judged)

    def _provenance_url(self, project: MirrorProject, file: MirrorFile) -> str | None:
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
        self,
        project_id: int,
        normalized: str,
        judged: Sequence[tuple[int, Candidate, dict[str, Any] | None]],
    ) -> None:
        """Record verdicts in one transaction, oldest version first (the baseline moves up)."""
        now = utcnow()
        accept = _accept_command(normalized)
        with self.index.session() as session:
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
                first = baseline_of(c for _, c, _ in judged)
                if first is not None:
                    project.baseline_version = first[0]
                    for publisher in first[1]:
                        history.append(
                            _history(session, project_id, publisher, first[0], True, "first use")
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
                    policy=self.config.policy,
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
                            _history(session, project_id, key, candidate.version, False, note)
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

    # -- files, metadata, provenance ----------------------------------------------------

    def _file_row(self, sha256: str, filename: str) -> tuple[int, int, str, str] | None:
        with self.index.session() as session:
            row = session.scalar(
                select(MirrorFile).where(
                    MirrorFile.sha256 == sha256.lower(), MirrorFile.filename == filename
                )
            )
            if row is None:
                return None
            project = session.get(MirrorProject, row.project_id)
            assert project is not None
            return row.id, row.project_id, project.normalized_name, row.state

    def _servable(self, sha256: str, filename: str) -> MirrorFile:
        """The file row if it may be served (judging it first if pending); else FileRefused."""
        found = self._file_row(sha256, filename)
        if found is None:
            raise FileRefused(404, "Not Found")
        file_id, project_id, normalized, state = found
        if state == "pending":
            with self._lock_for(normalized):
                self._judge_pending(project_id, normalized, 1, only=[file_id])
        with self.index.session() as session:
            row = session.get(MirrorFile, file_id)
            assert row is not None
            if row.state == "pending":
                raise FileRefused(
                    503,
                    f"the provenance of {filename} cannot be read from upstream yet",
                    self.config.retry_after,
                )
            if row.state not in SERVED:
                raise FileRefused(403, f"{filename} is quarantined by this mirror: {row.reason}")
            if not row.listed:
                raise FileRefused(404, f"{filename} was removed upstream")
            return row

    def open_file(self, sha256: str, filename: str) -> Path:
        """The stored bytes of a served file, fetched from upstream on first use."""
        row = self._servable(sha256, filename)
        store = self.index.store
        if row.path is not None:
            stored = store.path(row.path)
            if stored.is_file():
                return stored
        relative = f"mirror/{row.sha256[0:2]}/{row.sha256[2:4]}/{row.sha256}/{row.filename}"
        target = store.path(relative)
        self._fetch(row, str(row.entry["url"]), row.sha256, target)
        with self.index.session() as session:
            stored_row = session.get(MirrorFile, row.id)
            if stored_row is not None:
                stored_row.path = relative
        return target

    def open_metadata(self, sha256: str, filename: str) -> bytes:
        """The core metadata (PEP 658) of a served file, byte for byte as announced."""
        import hashlib

        row = self._servable(sha256, filename)
        metadata = row.entry.get("core-metadata")
        if not isinstance(metadata, dict):
            raise FileRefused(404, "Not Found")
        digest = str(metadata["sha256"])
        relative = f"mirror/{row.sha256[0:2]}/{row.sha256[2:4]}/{row.sha256}/{row.filename}"
        target = self.index.store.path(relative + ".metadata")
        if not target.is_file():
            self._fetch(row, f"{row.entry['url']}.metadata", digest, target, limit=MAX_DOCUMENT)
        data = target.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise FileRefused(404, "Not Found")  # never other bytes than those announced
        return data

    def _fetch(
        self, row: MirrorFile, url: str, sha256: str, target: Path, limit: int | None = None
    ) -> None:
        try:
            self.upstream.fetch(url, sha256, target, limit=limit)
        except UpstreamUnavailable as exc:
            raise FileRefused(503, exc.reason, self.config.retry_after) from None
        except DigestMismatch as exc:
            with self.index.session() as session:
                bad = session.get(MirrorFile, row.id)
                if bad is not None:
                    bad.state, bad.flag, bad.reason = "quarantined", "bytes", exc.reason
                    project = session.get(MirrorProject, bad.project_id)
                    if project is not None:
                        project.serial += 1
            raise FileRefused(403, f"{row.filename} is quarantined: {exc.reason}") from None
        except UpstreamRefused as exc:
            raise FileRefused(502, exc.reason) from None

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
            if row.state not in SERVED or not row.listed:
                return None, None
            return None, (dict(row.provenance) if row.provenance is not None else None)


@dataclass(frozen=True)
class _Job:
    """A pending file whose provenance is being fetched."""

    file_id: int
    filename: str
    version: str | None
    sha256: str
    initial: bool


def _history(
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


# -- operator decisions (attestkit index quarantine) -----------------------------------------


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
            _history(session, mirrored.id, key, row.version, True, "released by an operator")
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
