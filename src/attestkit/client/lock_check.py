"""Verify what a lock file is about to install: every pinned file's provenance, by policy.

For each pinned file (:mod:`attestkit.core.locks`) the checker reads the
project's page from the index (PEP 691, once per project, concurrently over
one connection pool), finds the file by name or by hash and checks that the
index's hashes agree with the lock's, fetches the file's provenance (PEP 740)
and verifies every attestation against the SHA-256 the lock pins — the file
itself is downloaded only when the lock pins no SHA-256.  The verdict per
file comes from :func:`attestkit.core.install_policy.judge`.

Fetching runs on threads (it waits on the network); verifying is CPU work, so
a large lock is verified by one worker process per core, each building its
verifiers once.

Provenance that verified is cached by the file's SHA-256 (one JSON file per
digest under the cache directory, written atomically, so concurrent runs are
safe): attestations are self-authenticating, so a warm run takes them from the
cache and reads only the project pages.  Beside the provenance the entry keeps
the verdict it earned, keyed by everything a verification depends on: the
filename, the provenance's own digest, the trust roots' digest and the attestkit
version.  Verification is deterministic in those inputs (certificate validity is
judged at the transparency log's integrated time, never at "now"), so a warm run
re-applies the policy to the cached publishers instead of re-verifying; any
change of root, provenance or attestkit verifies again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.core.constants import PYPI_SIMPLE
from attestkit.core.install_policy import Evidence, Judgement, Pins, Policy, judge
from attestkit.core.locks import Lock, LockedFile
from attestkit.errors import AttestkitError, InputError

if TYPE_CHECKING:
    from attestkit.client.simple_api import IndexFile, ProjectPage, SimpleClient
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.attestation import Verifier

__all__ = ["FileResult", "LockReport", "default_cache_dir", "verify_lock"]


def default_cache_dir() -> Path:
    """``$ATTESTKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/attestkit`` (~/.cache/attestkit)."""
    explicit = os.environ.get("ATTESTKIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attestkit"


@dataclass(frozen=True)
class FileResult:
    """One pinned file: what the index showed and what the policy says."""

    locked: LockedFile
    evidence: Evidence
    judgement: Judgement
    index: str


@dataclass
class LockReport:
    """The outcome for a whole lock."""

    lock: Lock
    results: list[FileResult] = field(default_factory=list)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.judgement.level == "fail"]

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (``--json``)."""
        return {
            "lock": self.lock.source,
            "format": self.lock.format,
            "ok": not self.failed,
            "files": [
                {
                    "project": r.locked.project,
                    "version": r.evidence.version,
                    "filename": r.evidence.filename,
                    "index": r.index,
                    "status": r.evidence.status,
                    "publishers": list(r.evidence.publishers),
                    "verdict": r.judgement.level,
                    "message": r.judgement.message,
                    "rule": r.judgement.rule,
                }
                for r in self.results
            ],
            "unverifiable": [
                {"project": u.project, "reason": u.reason, "where": u.where}
                for u in self.lock.unverifiable
            ],
            "warnings": list(self.lock.warnings),
        }


def verdict_key(filename: str, provenance: Mapping[str, Any], roots_digest: str) -> str:
    """What a cached verdict is valid for: file name, provenance, trust roots, attestkit version."""
    import hashlib

    from attestkit import __version__

    canonical = json.dumps(provenance, sort_keys=True, separators=(",", ":")).encode()
    parts = (filename, hashlib.sha256(canonical).hexdigest(), roots_digest, __version__)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def roots_digest(trust_roots: Sequence[TrustRoot]) -> str:
    """One digest of every trust root a verification may use."""
    import hashlib

    digest = hashlib.sha256()
    for root in trust_roots:
        digest.update(hashlib.sha256(root.trusted_root_json.encode()).digest())
    return digest.hexdigest()


class _Cache:
    """Verified provenance and its verdicts by file SHA-256 (``<dir>/provenance/<sha256>.json``).

    An entry is ``{"provenance": {...}, "verdicts": {key: {"publishers": [...],
    "simulated": bool}}}`` (see :func:`verdict_key`).
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "provenance" if directory is not None else None

    def get(self, sha256: str) -> dict[str, Any] | None:
        if self.directory is None:
            return None
        try:
            doc = json.loads((self.directory / f"{sha256}.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("provenance"), dict):
            return None
        verdicts = doc.get("verdicts")
        doc["verdicts"] = verdicts if isinstance(verdicts, dict) else {}
        return doc

    def put(self, sha256: str, provenance: Mapping[str, Any], key: str, verdict: Evidence) -> None:
        if self.directory is None:
            return
        from attestkit.core.encoding import atomic_write

        entry = self.get(sha256)
        verdicts = entry["verdicts"] if entry and entry["provenance"] == provenance else {}
        verdicts[key] = {"publishers": list(verdict.publishers), "simulated": verdict.simulated}
        doc = {"provenance": provenance, "verdicts": verdicts}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self.directory / f"{sha256}.json", json.dumps(doc).encode())
        except (OSError, AttestkitError):
            pass  # a cache that cannot be written only costs speed


def _index_for(file: LockedFile, lock: Lock, override: str | None, policy: Policy) -> str:
    """The policy's index for the project (always), else ``--index-url``, else the lock's."""
    pinned = policy.rule(file.project).index
    if pinned:
        return pinned
    if override:
        return override
    return file.index or (lock.indexes[0] if lock.indexes else PYPI_SIMPLE)


def _match(file: LockedFile, page: ProjectPage) -> tuple[IndexFile | None, str]:
    """The index file the lock pins, or None and why."""
    if file.filename is not None:
        candidates = [f for f in page.files if f.filename == file.filename]
        if not candidates:
            return None, f"{file.filename} is not on the index"
        index_file = candidates[0]
        common = [alg for alg in file.hashes if alg in index_file.hashes]
        if common and not file.matches(index_file.hashes):
            alg = common[0]
            return None, (
                f"the index's {alg} of {file.filename} ({index_file.hashes[alg][:16]}…) is not"
                f" the lock's ({file.hashes[alg][0][:16]}…): the index serves other bytes"
            )
        return index_file, ""
    found = [f for f in page.files if file.matches(f.hashes)]
    if not found:
        return None, f"no file of {file.project} on the index has the pinned hash"
    return found[0], ""


def _download_sha256(session: Any, file: LockedFile, index_file: IndexFile, timeout: float) -> str:
    """Hash the file itself (the lock pins no SHA-256); checks the lock's own hash on the way."""
    from attestkit.client.simple_api import download

    digests = download(session, index_file.url, {*file.hashes, "sha256"}, timeout=timeout)
    if not file.matches(digests):
        raise InputError(f"{index_file.filename} from the index does not match the lock's hash")
    return digests["sha256"]


def verify_lock(
    lock: Lock,
    *,
    trust_roots: Sequence[TrustRoot],
    policy: Policy | None = None,
    pins: Pins | None = None,
    index_url: str | None = None,
    cache_dir: Path | None = None,
    workers: int = 16,
    timeout: float = 30.0,
    session: Any = None,
    processes: int | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> LockReport:
    """Check every pinned file of ``lock``; see the module docstring."""
    import requests

    from attestkit.client.simple_api import SimpleClient

    policy = policy or Policy()
    if session is None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=max(workers, 8))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = "attestkit"
    client = SimpleClient(session, timeout=timeout)
    cache = _Cache(cache_dir)
    roots = roots_digest(trust_roots)
    report = LockReport(lock)

    pages: dict[tuple[str, str], ProjectPage | AttestkitError | None] = {}
    indexes = [_index_for(f, lock, index_url, policy) for f in lock.files]
    wanted = sorted({(index, f.project) for index, f in zip(indexes, lock.files, strict=True)})

    def fetch_page(key: tuple[str, str]) -> None:
        try:
            pages[key] = client.project(*key)
        except AttestkitError as exc:
            pages[key] = exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(fetch_page, wanted))

        def gather(index: str, file: LockedFile) -> Evidence | _Job:
            page = pages[(index, file.project)]
            return _gather(file, page, client, session, cache, roots, timeout)

        gathered = list(pool.map(gather, indexes, lock.files))
    jobs = [g for g in gathered if isinstance(g, _Job)]
    verdicts = _verify_jobs(jobs, trust_roots, processes)
    by_job = {id(job): verdict for job, verdict in zip(jobs, verdicts, strict=True)}
    for index, file, item in zip(indexes, lock.files, gathered, strict=True):
        if isinstance(item, _Job):
            evidence = by_job[id(item)]
            if evidence.status == "verified":
                key = verdict_key(item.filename, item.provenance, roots)
                cache.put(item.sha256, item.provenance, key, evidence)
        else:
            evidence = item
        identities = lock.identities.get(file.project, [])
        result = FileResult(file, evidence, judge(evidence, policy, pins, identities), index)
        if on_file is not None:
            on_file(result)
        report.results.append(result)
    return report


@dataclass(frozen=True)
class _Job:
    """A file whose provenance is in hand and must now be verified."""

    project: str
    version: str | None
    filename: str
    sha256: str
    provenance: dict[str, Any]


def _gather(
    file: LockedFile,
    page: ProjectPage | AttestkitError | None,
    client: SimpleClient,
    session: Any,
    cache: _Cache,
    roots: str,
    timeout: float,
) -> Evidence | _Job:
    """What the index shows for ``file``: final evidence, or provenance to verify."""
    name = file.filename or f"{file.project}=={file.version}"

    def error(detail: str) -> Evidence:
        return Evidence(file.project, file.version, name, "error", (), detail)

    if isinstance(page, AttestkitError):
        return error(page.reason)
    if page is None:
        return error(f"project {file.project} is not on the index")
    index_file, why = _match(file, page)
    if index_file is None:
        return error(why)
    name = index_file.filename
    try:
        if file.sha256:
            sha256 = file.sha256[0]
        else:
            sha256 = _download_sha256(session, file, index_file, timeout)
    except (AttestkitError, OSError) as exc:
        return error(f"cannot hash {name}: {exc}")
    entry = cache.get(sha256)
    doc = entry["provenance"] if entry else None
    if entry is not None:
        known = entry["verdicts"].get(verdict_key(name, entry["provenance"], roots))
        if isinstance(known, dict) and isinstance(known.get("publishers"), list):
            return Evidence(
                file.project,
                file.version,
                name,
                "verified",
                tuple(p for p in known["publishers"] if isinstance(p, dict)),
                simulated=bool(known.get("simulated")),
            )
    if doc is None:
        try:
            doc = client.provenance(page, index_file, file.version)
        except AttestkitError as exc:
            return error(exc.reason)
    if doc is None:
        return Evidence(file.project, file.version, name, "absent")
    return _Job(file.project, file.version, name, sha256, doc)


#: Below this many files, verifying in this process is faster than starting workers.
PROCESS_THRESHOLD = 64

_WORKER_VERIFIERS: list[Verifier] = []


def _init_worker(roots: Sequence[tuple[str, str]]) -> None:
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.attestation import Verifier

    _WORKER_VERIFIERS[:] = [
        Verifier(TrustRoot.from_json(text, source=name)) for name, text in roots
    ]


def _verify_in_worker(job: _Job) -> Evidence:
    return _verify(job, _WORKER_VERIFIERS)


def _verify_jobs(
    jobs: Sequence[_Job], trust_roots: Sequence[TrustRoot], processes: int | None
) -> list[Evidence]:
    """Verify every job: in this process, or across ``processes`` workers (default: the cores)."""
    from attestkit.sigstore.verify.attestation import Verifier

    count = processes if processes is not None else (os.cpu_count() or 1)
    if count <= 1 or len(jobs) < PROCESS_THRESHOLD:
        verifiers = [Verifier(root) for root in trust_roots]
        return [_verify(job, verifiers) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    roots = [(root.name, root.trusted_root_json) for root in trust_roots]
    # forkserver/spawn: never fork a process that runs threads (the fetch pool did).
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=count, mp_context=context, initializer=_init_worker, initargs=(roots,)
    ) as pool:
        chunk = max(1, len(jobs) // (count * 4))
        return list(pool.map(_verify_in_worker, jobs, chunksize=chunk))


def _verify(job: _Job, verifiers: Sequence[Verifier]) -> Evidence:
    """Verify one file's provenance against the pinned SHA-256 with any of ``verifiers``."""
    from attestkit.sigstore.verify.evidence import verify_evidence

    return verify_evidence(
        job.project, job.version, job.filename, job.sha256, job.provenance, verifiers
    )
