"""Verify attestations and provenance against a distribution and an expected identity.

:class:`Verifier` performs, for each attestation, exactly what PyPI does at
upload (``Attestation.verify`` in pypi-attestations) and a little more:

1. every transparency entry, not just the first (D6; the D-numbers are in
   ``docs/defects.md``), goes through the
   Sigstore checks (time, certificate chain, SCT, identity policy, inclusion
   proof, checkpoint, SET, DSSE signature, log-body consistency);
2. the statement must be in-toto v1 with exactly one subject whose name is an
   equivalent distribution filename (parsed comparison, as PyPI) and whose
   ``sha256`` equals the file's digest (case-insensitive, 64 hex digits: D7);
3. the predicate type must be one PyPI accepts, and a publish/v1 predicate must
   be empty (D4).

``pypi_compatible=True`` (used by the index) additionally refuses what PyPI
would refuse for cosmetic reasons (upper-case digests), so attestkit never
accepts an attestation that PyPI would reject.

>>> from attestkit import Verifier, GitHubIdentity, Distribution  # doctest: +SKIP
>>> Verifier.production().verify(att, GitHubIdentity("o/r", "release.yml"), dist)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from attestkit.core.certificate import CertificateClaims, load_certificate
from attestkit.core.constants import (
    ACCEPTED_PREDICATE_TYPES,
    INTOTO_PAYLOAD_TYPE,
    PUBLISH_PREDICATE_V1,
)
from attestkit.core.distribution import Distribution, parse_filename
from attestkit.core.log_entry import LogEntry
from attestkit.core.models import Attestation, Provenance
from attestkit.core.policy import Policy
from attestkit.core.providers import Publisher, UnsupportedPublisher
from attestkit.core.statement import Statement
from attestkit.errors import AttestkitError, InputError, VerificationError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from attestkit.sigstore.trust import TrustRoot

__all__ = [
    "SIMULATED_WARNING",
    "ProvenanceResult",
    "VerificationResult",
    "Verifier",
    "find_attestations",
]

Backend = Literal["attestkit", "sigstore"]

#: The warning on every attestation whose certificate a development instance issued.
SIMULATED_WARNING = (
    "the certificate chains to an attestkit development instance: its identity is"
    " simulated, not proven by a real CI provider"
)


@dataclass(frozen=True)
class VerificationResult:
    """What a successful verification established."""

    predicate_type: str
    predicate: dict[str, Any] | None
    #: The identity the certificate was checked against.
    expected: str
    #: The signer, as recorded in the certificate.
    claims: CertificateClaims
    #: Verified signing time (the log's integrated time, bound by the SET).
    time: datetime
    log_indexes: tuple[int, ...]
    subject_name: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (used by ``--json``)."""
        c = self.claims.claims
        return {
            "predicate_type": self.predicate_type,
            "expected_identity": self.expected,
            "subject": self.subject_name,
            "signer": {
                "identity": self.claims.identity,
                "issuer": self.claims.issuer,
                "repository": c.get("source_repository_uri"),
                "workflow": c.get("build_config_uri"),
                "ref": c.get("source_repository_ref"),
                "commit": c.get("source_repository_digest"),
                "run": c.get("run_invocation_uri"),
            },
            "signed_at": self.time.isoformat(),
            "log_indexes": list(self.log_indexes),
            "simulated_identity": self.claims.simulated,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ProvenanceResult:
    """Outcome of verifying a provenance object: verified and unsupported bundles."""

    results: tuple[tuple[Publisher, VerificationResult], ...]
    unsupported: tuple[str, ...] = field(default=())


class Verifier:
    """Verifies attestations offline against one Sigstore trust root.

    A ``Verifier`` is cheap to reuse: the trust root's parsed keys and
    certificate store are built once (pypi-attestations rebuilds them on every
    call, D26).  ``backend="sigstore"`` runs sigstore-python's own verifier for
    the Sigstore layer instead of attestkit's faster engine.
    """

    def __init__(
        self,
        trust_root: TrustRoot,
        *,
        backend: Backend = "attestkit",
        strict_names: bool = False,
        pypi_compatible: bool = False,
        timestamps: bool | None = None,
        time_threshold: int = 1,
    ) -> None:
        self.trust_root = trust_root
        #: Verified times needed (timestamps and Rekor v1's integrated time; sigstore's
        #: client spec: 1 by default).
        self.time_threshold = time_threshold
        #: Decoded claims per certificate (DER): a release shares one certificate.
        self._claims: dict[bytes, CertificateClaims] = {}
        self.backend: Backend = backend
        self.strict_names = strict_names
        self.pypi_compatible = pypi_compatible
        #: Whether RFC 3161 timestamps count as signing times.  PyPI's verifier
        #: (pypi-attestations) does not know the proposed ``timestamps`` field and
        #: drops it, so by default a ``pypi_compatible`` verifier ignores them too: an
        #: attestation timed only by them (a Rekor v2 entry) is refused, as on PyPI.
        self.timestamps = (not pypi_compatible) if timestamps is None else timestamps

    @classmethod
    def production(cls, **kwargs: Any) -> Verifier:
        """Verifier for the public-good Sigstore instance (the trust root shipped by sigstore)."""
        from attestkit.sigstore.trust import TrustRoot

        return cls(TrustRoot.production(), **kwargs)

    @classmethod
    def staging(cls, **kwargs: Any) -> Verifier:
        """Verifier for Sigstore's staging instance."""
        from attestkit.sigstore.trust import TrustRoot

        return cls(TrustRoot.staging(), **kwargs)

    # ------------------------------------------------------------------
    def verify(
        self, attestation: Attestation, identity: Policy | Publisher, dist: Distribution
    ) -> VerificationResult:
        """Verify one attestation for ``dist`` signed by ``identity``.

        ``identity`` is a policy (e.g. :class:`~attestkit.core.policy.GitHubIdentity`)
        or a publisher object (its policy is used).  Raises
        :class:`VerificationError` (or :class:`InputError` for malformed
        attestations) with a one-line reason.
        """
        policy = _as_policy(identity)
        vm = attestation.verification_material
        try:
            cert = load_certificate(vm.certificate)
        except InputError:
            raise VerificationError("invalid X.509 certificate") from None
        try:
            entries = vm.log_entries()
        except InputError as exc:
            raise VerificationError(f"invalid transparency log entry: {exc.reason}") from None
        claims_box: list[CertificateClaims] = []

        def check_identity(certificate: Certificate) -> None:
            if not claims_box:
                claims_box.append(self._claims_for(vm.certificate, certificate))
            policy.check(claims_box[0])

        verify_dsse = self._engine()
        time: datetime | None = None
        for entry in entries:
            if vm.timestamps and not self.timestamps and entry.inclusion_promise is None:
                raise VerificationError(
                    "the signing time comes only from RFC 3161 timestamps (a Rekor v2 entry),"
                    " which PyPI does not accept yet"
                    + ("; this index accepts them with --rekor-v2" if self.pypi_compatible else "")
                )
            try:
                verified = verify_dsse(
                    self.trust_root,
                    vm.certificate,
                    entry,
                    attestation.envelope.statement,
                    INTOTO_PAYLOAD_TYPE,
                    attestation.envelope.signature,
                    check_identity,
                    certificate=cert,
                    timestamps=vm.timestamps if self.timestamps else (),
                    time_threshold=self.time_threshold,
                )
            except VerificationError as exc:
                raise _diagnose(exc, entry, attestation) from None
            time = verified.time if time is None else min(time, verified.time)
        assert time is not None  # entries is non-empty by construction
        claims = claims_box[0] if claims_box else self._claims_for(vm.certificate, cert)

        statement, warnings = self._check_statement(attestation, dist)
        if claims.simulated:
            warnings.append(SIMULATED_WARNING)
        return VerificationResult(
            predicate_type=statement.predicate_type,
            predicate=statement.predicate,
            expected=policy.describe(),
            claims=claims,
            time=time,
            log_indexes=tuple(e.log_index for e in entries),
            subject_name=statement.subjects[0].name,
            warnings=tuple(warnings),
        )

    def verify_all(
        self,
        attestations: Iterable[Attestation],
        identity: Policy | Publisher,
        dist: Distribution,
    ) -> list[VerificationResult]:
        """Verify a set of attestations for one file with PyPI's set rules.

        At least one; at most one per predicate type (PyPI allows two in total).
        """
        atts = list(attestations)
        if not atts:
            raise VerificationError("no attestations to verify")
        results: list[VerificationResult] = []
        seen: set[str] = set()
        for att in atts:
            result = self.verify(att, identity, dist)
            if result.predicate_type in seen:
                raise VerificationError(
                    "Multiple attestations for the same file with the same predicate type"
                    f" ({result.predicate_type}) are not supported"
                )
            seen.add(result.predicate_type)
            results.append(result)
        return results

    def verify_provenance(
        self,
        provenance: Provenance,
        dist: Distribution,
        expected: Policy | None = None,
    ) -> ProvenanceResult:
        """Verify every attestation in ``provenance`` against its bundle's publisher.

        If ``expected`` is given, each certificate must also satisfy it, so the
        caller pins the identity rather than trusting the index (D2).  At least
        one attestation must verify (D1); bundles from unknown or
        non-attesting publisher kinds are reported, not silently passed.
        """
        verified: list[tuple[Publisher, VerificationResult]] = []
        unsupported: list[str] = []
        for i, bundle in enumerate(provenance.attestation_bundles):
            publisher = bundle.publisher
            if isinstance(publisher, UnsupportedPublisher) or not publisher.supported:
                unsupported.append(f"bundle {i}: {publisher.summary()} cannot be verified")
                continue
            if not bundle.attestations:
                unsupported.append(f"bundle {i}: {publisher.summary()} has no attestations")
                continue
            policy = publisher.policy()
            check = policy if expected is None else _Both(expected, policy)
            for result in self.verify_all(bundle.attestations, check, dist):
                verified.append((publisher, result))
        if not verified:
            detail = "; ".join(unsupported) if unsupported else "provenance has no attestations"
            raise VerificationError(f"nothing verified: {detail}")
        return ProvenanceResult(tuple(verified), tuple(unsupported))

    # ------------------------------------------------------------------
    def claims_for(self, der: bytes, certificate: Certificate) -> CertificateClaims:
        """The certificate's decoded claims (cached per certificate)."""
        return self._claims_for(der, certificate)

    def engine(self) -> Callable[..., Any]:
        """The verification engine this verifier uses (``verify_dsse``'s signature)."""
        return self._engine()

    def _claims_for(self, der: bytes, certificate: Certificate) -> CertificateClaims:
        claims = self._claims.get(der)
        if claims is None:
            if len(self._claims) >= 256:
                self._claims.clear()
            claims = self._claims[der] = CertificateClaims.from_certificate(certificate)
        return claims

    def _engine(self) -> Callable[..., Any]:
        if self.backend == "sigstore":
            from attestkit.sigstore.verify.backend import verify_dsse_with_sigstore

            return verify_dsse_with_sigstore
        from attestkit.sigstore.verify.engine import verify_dsse

        return verify_dsse

    def _check_statement(
        self, attestation: Attestation, dist: Distribution
    ) -> tuple[Statement, list[str]]:
        warnings: list[str] = []
        try:
            statement = attestation.statement
        except InputError as exc:
            raise VerificationError(exc.reason) from None
        if len(statement.subjects) != 1:
            raise VerificationError("too many subjects in statement (must be exactly one)")
        subject = statement.subjects[0]
        try:
            subject_parsed = parse_filename(subject.name)
        except InputError as exc:
            raise VerificationError(f"invalid subject: {exc.reason}") from None
        if subject_parsed != dist.parsed:
            raise VerificationError(
                f"subject does not match distribution name: {subject.name} != {dist.name}"
            )
        if subject.name != dist.name:
            if self.strict_names:
                raise VerificationError(
                    f"subject name {subject.name!r} is not exactly {dist.name!r} (--strict-names)"
                )
            warnings.append(
                f"subject name {subject.name!r} differs from the file name {dist.name!r}"
                " (equivalent by PyPI's rules)"
            )
        sha256 = subject.digest.get("sha256")
        if sha256 is None:
            raise VerificationError("subject does not match distribution digest (no sha256)")
        if not dist.matches_digest(sha256):
            raise VerificationError("subject does not match distribution digest")
        if sha256 != sha256.lower():
            if self.pypi_compatible:
                raise VerificationError(
                    "subject does not match distribution digest (upper-case hex)"
                )
            warnings.append("subject digest is upper-case hex; PyPI would reject it at upload")
        if statement.predicate_type not in ACCEPTED_PREDICATE_TYPES:
            raise VerificationError(f"unknown attestation type: {statement.predicate_type}")
        if statement.predicate_type == PUBLISH_PREDICATE_V1 and statement.predicate:
            raise VerificationError(
                "publish attestation predicate must be empty ({} or null), got"
                f" {_short(statement.predicate)}"
            )
        return statement, warnings


@dataclass(frozen=True)
class _Both:
    """Two policies that must both hold (the user's pin and the index's publisher)."""

    first: Policy
    second: Policy

    def check(self, claims: CertificateClaims) -> None:
        self.first.check(claims)
        self.second.check(claims)

    def describe(self) -> str:
        return f"{self.first.describe()} (publisher {self.second.describe()})"


def _as_policy(identity: Policy | Publisher) -> Policy:
    policy_method = getattr(identity, "policy", None)
    if callable(policy_method):
        result: Policy = policy_method()
        return result
    return identity  # type: ignore[return-value]


def _short(value: object) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 60 else text[:57] + "..."


def _diagnose(exc: VerificationError, entry: LogEntry, attestation: Attestation) -> AttestkitError:
    """Turn a bare 'DSSE: invalid signature' into the reason a user can act on."""
    if not exc.reason.startswith("DSSE: invalid signature"):
        return exc
    try:
        body = json.loads(entry.canonicalized_body)
        spec = body["spec"]
        logged_hash = spec["payloadHash"]["value"]
        logged_sigs = [s["signature"] for s in spec["signatures"]]
    except (ValueError, KeyError, TypeError):
        return exc
    payload_hash = hashlib.sha256(attestation.envelope.statement).hexdigest()
    if payload_hash != logged_hash:
        return VerificationError(
            "DSSE: invalid signature: the statement was changed after signing"
            " (its hash differs from the transparency log entry)"
        )
    from attestkit.core.encoding import b64encode

    if b64encode(attestation.envelope.signature) not in logged_sigs:
        return VerificationError(
            "DSSE: invalid signature: the signature differs from the one in the transparency log"
        )
    return exc


# -- discovery ----------------------------------------------------------------

ATTESTATION_SUFFIXES = (".publish.attestation", ".slsa.attestation")


def find_attestations(dist_path: Path) -> list[Path]:
    """Attestation files for ``dist_path``: every ``<dist>.<kind>.attestation`` beside it.

    Like twine, any kind is found (not only ``publish`` and ``slsa``, D17).
    A legacy ``<dist>.attestation`` is found too when no other file exists.
    Each directory is listed once (until it changes) and searched by prefix, so
    finding the attestations of n files costs O(n log n), not n directory scans.
    """
    import bisect

    directory = dist_path.parent
    name = dist_path.name
    names = _listing(directory)
    prefix = name + "."
    found: list[Path] = []
    start = bisect.bisect_left(names, prefix)
    for entry in names[start:]:
        if not entry.startswith(prefix):
            break
        kind = entry[len(prefix) : -len(".attestation")]
        if entry.endswith(".attestation") and kind and "." not in kind:
            candidate = directory / entry
            if candidate.is_file():
                found.append(candidate)
    if not found:
        legacy = directory / f"{name}.attestation"
        if legacy.is_file():
            found = [legacy]
    return found


_LISTINGS: dict[Path, tuple[int, list[str]]] = {}


def _listing(directory: Path) -> list[str]:
    """The sorted names in ``directory``, listed again only when its mtime changes."""
    try:
        mtime = directory.stat().st_mtime_ns
    except OSError:
        return []
    cached = _LISTINGS.get(directory)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        names = sorted(entry.name for entry in os.scandir(directory))
    except OSError:
        return []
    if len(_LISTINGS) > 256:
        _LISTINGS.clear()
    _LISTINGS[directory] = (mtime, names)
    return names
