"""Provenance as a service: attestations verified at upload, and stored provenance judged later.

One place verifies PEP 740 attestations with the index's trust roots
(:class:`ProvenanceService`, one per open index: ``Index.provenance``):

* at upload, :meth:`ProvenanceService.verify_upload` checks the ``attestations``
  field by PyPI's rules (one or two attestations, distinct accepted predicate
  types, each verifying for the file against the minting publisher) and builds
  the provenance object the index stores;
* on the read side, :class:`ProvenanceChecker` judges a stored file's
  provenance for pages and badges; verdicts are computed once per file (and
  provenance content) and kept in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from attestkit.errors import AttestkitError, InputError

if TYPE_CHECKING:
    from attestkit.core.models import Attestation
    from attestkit.core.providers import Publisher
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.attestation import ProvenanceResult, Verifier

__all__ = [
    "AttestationsRefusedError",
    "BundleSummary",
    "FileProvenance",
    "ProvenanceChecker",
    "ProvenanceService",
    "Status",
    "StoredFile",
    "parse_attestations",
]

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


# -- at upload ---------------------------------------------------------------------


class AttestationsRefusedError(AttestkitError):
    """The ``attestations`` of an upload are refused; the reason is PyPI's message."""


def parse_attestations(text: str) -> list[Attestation]:
    """§3 rows 3-5: a JSON array of one or two well-formed attestations."""
    from attestkit.core.encoding import loads_json
    from attestkit.core.models import Attestation

    try:
        data = loads_json(text, what="the attestations field")
    except InputError as exc:
        # "the attestations field is not valid JSON (...)" -> "not valid JSON (...)"
        reason = exc.reason.removeprefix("the attestations field ").removeprefix("is ")
        raise AttestationsRefusedError(f"Malformed attestations: {reason}") from None
    if not isinstance(data, list):
        raise AttestationsRefusedError(
            "Malformed attestations: expected a JSON array of attestations, got"
            f" {type(data).__name__ if data is not None else 'null'}"
        )
    attestations = []
    for i, item in enumerate(data):
        try:
            attestations.append(Attestation.from_dict(item, what=f"attestations[{i}]"))
        except InputError as exc:
            raise AttestationsRefusedError(f"Malformed attestations: {exc.reason}") from None
    if not attestations:
        raise AttestationsRefusedError(
            "Malformed attestations: an empty attestation set is not permitted"
        )
    if len(attestations) > 2:
        raise AttestationsRefusedError("A maximum of 2 attestations per file are supported")
    return attestations


class ProvenanceService:
    """The index's attestation verification: built once per open index, shared by its routes."""

    def __init__(self, trust_roots: Sequence[TrustRoot], *, rekor_v2: bool = False) -> None:
        from attestkit.sigstore.verify.attestation import Verifier

        self.trust_roots = tuple(trust_roots)
        #: Upload verification applies PyPI's strict rules (``pypi_compatible``); with
        #: ``rekor_v2``, RFC 3161 timestamps count too, ahead of PyPI.
        self.upload_verifiers = [
            Verifier(root, pypi_compatible=True, timestamps=rekor_v2) for root in self.trust_roots
        ]
        #: The read side's cached verdicts.
        self.checker = ProvenanceChecker(self.trust_roots)

    def verify_upload(
        self, text: str, publisher: Publisher, filename: str, sha256: str
    ) -> dict[str, Any]:
        """Verify an upload's ``attestations`` field; the provenance object to store.

        Raises :class:`AttestationsRefusedError` with PyPI's message.
        """
        from attestkit.core.constants import ACCEPTED_PREDICATE_TYPES
        from attestkit.core.distribution import Distribution
        from attestkit.errors import VerificationError

        attestations = parse_attestations(text)
        if not self.upload_verifiers:
            raise AttestationsRefusedError(
                "Could not verify the uploaded artifact using the included attestation:"
                " this index has no Sigstore trust root configured, so it cannot verify"
                " attestations (upload without them, or ask the index's administrator to"
                " configure a trust root)"
            )
        try:
            dist = Distribution(filename, sha256)
        except InputError as exc:
            raise AttestationsRefusedError(
                "Could not verify the uploaded artifact using the included attestation:"
                f" Verification failed: {exc.reason}"
            ) from None
        seen: set[str] = set()
        count = len(attestations)
        for i, attestation in enumerate(attestations):
            errors: list[str] = []
            predicate_type: str | None = None
            for verifier in self.upload_verifiers:
                try:
                    predicate_type = verifier.verify(attestation, publisher, dist).predicate_type
                    break
                except (VerificationError, InputError) as exc:
                    errors.append(exc.reason)
                except Exception as exc:  # a bug or an unexpected input: a 400, not a 500
                    _log.exception("unexpected error verifying attestation %d of %s", i, filename)
                    raise AttestationsRefusedError(
                        f"Unknown error while trying to verify included attestations: {exc}"
                    ) from None
            if predicate_type is None:
                which = f" (attestation {i + 1} of {count})" if count > 1 else ""
                raise AttestationsRefusedError(
                    "Could not verify the uploaded artifact using the included attestation:"
                    f" Verification failed: {errors[0]}{which}"
                )
            if predicate_type not in ACCEPTED_PREDICATE_TYPES:
                raise AttestationsRefusedError(
                    f"Attestation with unsupported predicate type: {predicate_type}"
                )
            if predicate_type in seen:
                raise AttestationsRefusedError(
                    "Multiple attestations for the same file with the same predicate type"
                    f" ({predicate_type}) are not supported"
                )
            seen.add(predicate_type)
        return {
            "version": 1,
            "attestation_bundles": [
                {
                    "publisher": publisher.to_dict(),
                    "attestations": [a.to_dict() for a in attestations],
                }
            ],
        }
