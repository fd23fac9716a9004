"""Verify what a lock file is about to install: every pinned file's provenance, by policy.

For each pinned file (:mod:`attestkit.core.locks`) the checker reads the
project's page from the index (PEP 691, once per project, concurrently over
one connection pool), finds the file by name or by hash and checks that the
index's hashes agree with the lock's, fetches the file's provenance (PEP 740)
and verifies every attestation against the SHA-256 the lock pins — the file
itself is downloaded only when the lock pins no SHA-256.  The verdict per
file comes from :func:`attestkit.core.install_policy.judge`.

Provenance that verified is cached by the file's SHA-256 (one JSON file per
digest under the cache directory, written atomically, so concurrent runs are
safe): attestations are self-authenticating, so a warm run verifies from the
cache and reads only the project pages.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.core.install_policy import Evidence, Judgement, Pins, Policy, judge
from attestkit.core.locks import Lock, LockedFile
from attestkit.errors import AttestkitError, InputError

if TYPE_CHECKING:
    from attestkit.client.simple_api import IndexFile, ProjectPage, SimpleClient
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.attestation import Verifier

__all__ = ["PYPI_SIMPLE", "FileResult", "LockReport", "default_cache_dir", "verify_lock"]

PYPI_SIMPLE = "https://pypi.org/simple/"


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


class _Cache:
    """Verified provenance by file SHA-256 (``<dir>/provenance/<sha256>.json``)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "provenance" if directory is not None else None

    def get(self, sha256: str) -> dict[str, Any] | None:
        if self.directory is None:
            return None
        try:
            doc = json.loads((self.directory / f"{sha256}.json").read_text())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, sha256: str, provenance: Mapping[str, Any]) -> None:
        if self.directory is None:
            return
        from attestkit.core.encoding import atomic_write

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self.directory / f"{sha256}.json", json.dumps(provenance).encode())
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
    hashers = {alg: hashlib.new(alg) for alg in file.hashes} | {"sha256": hashlib.sha256()}
    with session.get(index_file.url, stream=True, timeout=timeout) as response:
        if response.status_code != 200:
            raise InputError(f"{index_file.url} answered {response.status_code}")
        for chunk in response.iter_content(1 << 20):
            for hasher in hashers.values():
                hasher.update(chunk)
    digests = {alg: h.hexdigest() for alg, h in hashers.items()}
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
    on_file: Callable[[FileResult], None] | None = None,
) -> LockReport:
    """Check every pinned file of ``lock``; see the module docstring."""
    import requests

    from attestkit.client.simple_api import SimpleClient
    from attestkit.sigstore.verify.attestation import Verifier

    policy = policy or Policy()
    if session is None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=max(workers, 8))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = "attestkit"
    client = SimpleClient(session, timeout=timeout)
    verifiers = [Verifier(root) for root in trust_roots]
    cache = _Cache(cache_dir)
    report = LockReport(lock)

    pages: dict[tuple[str, str], ProjectPage | AttestkitError | None] = {}
    wanted = sorted({(_index_for(f, lock, index_url, policy), f.project) for f in lock.files})

    def fetch_page(key: tuple[str, str]) -> None:
        try:
            pages[key] = client.project(*key)
        except AttestkitError as exc:
            pages[key] = exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(fetch_page, wanted))

        def one(file: LockedFile) -> FileResult:
            index = _index_for(file, lock, index_url, policy)
            evidence = _evidence(
                file, pages[(index, file.project)], client, session, verifiers, cache, timeout
            )
            identities = lock.identities.get(file.project, [])
            result = FileResult(file, evidence, judge(evidence, policy, pins, identities), index)
            if on_file is not None:
                on_file(result)
            return result

        report.results = list(pool.map(one, lock.files))
    return report


def _evidence(
    file: LockedFile,
    page: ProjectPage | AttestkitError | None,
    client: SimpleClient,
    session: Any,
    verifiers: Sequence[Verifier],
    cache: _Cache,
    timeout: float,
) -> Evidence:
    """What the index shows for ``file``, verified."""
    from attestkit.core.distribution import Distribution
    from attestkit.core.models import Provenance

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
        sha256 = (
            file.sha256[0] if file.sha256 else _download_sha256(session, file, index_file, timeout)
        )
    except (AttestkitError, OSError) as exc:
        return error(f"cannot hash {name}: {exc}")
    doc = cache.get(sha256)
    if doc is None:
        try:
            doc = client.provenance(page, index_file, file.version)
        except AttestkitError as exc:
            return error(exc.reason)
    if doc is None:
        return Evidence(file.project, file.version, name, "absent")
    try:
        provenance = Provenance.from_dict(doc)
        dist = Distribution(name, sha256)
    except AttestkitError as exc:
        return Evidence(file.project, file.version, name, "failed", (), exc.reason)
    failures: list[str] = []
    for verifier in verifiers:
        try:
            result = verifier.verify_provenance(provenance, dist)
        except AttestkitError as exc:
            failures.append(exc.reason)
            continue
        cache.put(sha256, doc)
        publishers: list[dict[str, Any]] = []
        for publisher, _ in result.results:
            as_dict = publisher.to_dict()
            if as_dict not in publishers:
                publishers.append(as_dict)
        simulated = any(r.claims.simulated for _, r in result.results)
        return Evidence(
            file.project, file.version, name, "verified", tuple(publishers), simulated=simulated
        )
    detail = "; ".join(dict.fromkeys(failures)) or "no trust root configured"
    return Evidence(file.project, file.version, name, "failed", (), detail)
