"""Provenance as a service: does a stored file's provenance verify, and what does it say?

One place decides whether an index file's PEP 740 provenance verifies with the
index's trust roots; the read side (pages, badges) asks it, and keeps no
verifiers of its own.  Verdicts are computed once per file (and provenance
content) and kept in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.attestation import ProvenanceResult, Verifier

__all__ = ["BundleSummary", "FileProvenance", "ProvenanceChecker", "Status", "StoredFile"]

_log = logging.getLogger(__name__)


class StoredFile(Protocol):
    """What the checker needs of a stored file."""

    @property
    def id(self) -> int: ...
    @property
    def filename(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def provenance(self) -> dict[str, Any] | None: ...


Status = Literal["verified", "failed", "unchecked", "unreadable"]


@dataclass(frozen=True)
class BundleSummary:
    """One attestation bundle: its publisher and decoded attestations."""

    publisher: str
    publisher_fields: dict[str, Any]
    attestations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class FileProvenance:
    """What a file's stored provenance says, and whether it verifies."""

    status: Status
    detail: str
    bundles: tuple[BundleSummary, ...] = ()
    result: ProvenanceResult | None = field(default=None, repr=False)

    @property
    def simulated(self) -> bool:
        """Whether a verified certificate came from a development instance (simulated identity)."""
        return self.result is not None and any(r.claims.simulated for _, r in self.result.results)


class ProvenanceChecker:
    """Verifies stored provenance with the index's trust roots; verdicts are cached.

    A file's provenance verifies when every supported bundle's attestations
    verify against that bundle's publisher, for the file's name and digest,
    with any one of ``trust_roots``.
    """

    def __init__(self, trust_roots: Sequence[TrustRoot], *, max_entries: int = 4096) -> None:
        self.trust_roots = tuple(trust_roots)
        self.max_entries = max_entries
        self._verifiers: list[Verifier] | None = None
        self._cache: dict[tuple[int, str, str], FileProvenance] = {}
        self._lock = threading.Lock()

    def check(self, file: StoredFile) -> FileProvenance | None:
        """The verdict for ``file`` (None when it has no provenance)."""
        if file.provenance is None:
            return None
        content = json.dumps(file.provenance, sort_keys=True, separators=(",", ":"))
        key = (file.id, file.sha256, hashlib.sha256(content.encode()).hexdigest())
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        verdict = self._compute(file, file.provenance)
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[key] = verdict
        return verdict

    def _verifier_list(self) -> list[Verifier]:
        if self._verifiers is None:
            from attestkit.sigstore.verify.attestation import Verifier

            self._verifiers = [Verifier(root) for root in self.trust_roots]
        return self._verifiers

    def _compute(self, file: StoredFile, stored: dict[str, Any]) -> FileProvenance:
        from attestkit.core.distribution import Distribution
        from attestkit.core.inspect import summarize_attestation
        from attestkit.core.models import Provenance
        from attestkit.errors import AttestkitError

        try:
            provenance = Provenance.from_dict(stored)
            dist = Distribution(file.filename, file.sha256)
        except AttestkitError as exc:
            return FileProvenance("unreadable", f"provenance cannot be read: {exc.reason}")
        bundles = tuple(
            BundleSummary(
                publisher=bundle.publisher.summary(),
                publisher_fields=bundle.publisher.to_dict(),
                attestations=tuple(summarize_attestation(a) for a in bundle.attestations),
            )
            for bundle in provenance.attestation_bundles
        )
        verifiers = self._verifier_list()
        if not verifiers:
            return FileProvenance("unchecked", "the index has no trust roots configured", bundles)
        failures: list[str] = []
        for verifier in verifiers:
            try:
                result = verifier.verify_provenance(provenance, dist)
            except AttestkitError as exc:
                failures.append(exc.reason)
                continue
            except Exception as exc:  # a page must render even if verification breaks
                _log.exception("verifying the provenance of %s failed", file.filename)
                failures.append(f"verification error: {type(exc).__name__}")
                continue
            detail = "; ".join(result.unsupported)
            return FileProvenance("verified", detail, bundles, result)
        unique = list(dict.fromkeys(failures))
        return FileProvenance("failed", "; ".join(unique), bundles)
