"""attestkit: PyPI package attestations (PEP 740) end to end.

The public API is re-exported here and loaded lazily (PEP 562), so
``import attestkit`` costs almost nothing and each name pulls in only the
modules it needs.

>>> import attestkit
>>> att = attestkit.Attestation.from_file(
...     "tests/data/pypi_attestations-0.0.19.tar.gz.publish.attestation")
>>> dist = attestkit.Distribution.from_file("tests/data/pypi_attestations-0.0.19.tar.gz")
>>> result = attestkit.Verifier.production().verify(
...     att, attestkit.GitHubIdentity("trailofbits/pypi-attestations", "release.yml"), dist)
>>> result.predicate_type
'https://docs.pypi.org/attestations/publish/v1'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from attestkit._version import __version__

if TYPE_CHECKING:
    from attestkit.certificate import CertificateClaims
    from attestkit.constants import PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1
    from attestkit.convert import Conversion, attestation_from_bundle, bundle_from_attestation
    from attestkit.distribution import Distribution
    from attestkit.errors import AttestkitError, ConversionError, InputError, VerificationError
    from attestkit.inspect import inspect_file
    from attestkit.models import (
        Attestation,
        AttestationBundle,
        Envelope,
        Provenance,
        VerificationMaterial,
    )
    from attestkit.policy import (
        CircleCIIdentity,
        GitHubIdentity,
        GitLabIdentity,
        GoogleIdentity,
        Identity,
        Policy,
    )
    from attestkit.publishers import (
        ActiveStatePublisher,
        CircleCIPublisher,
        GitHubPublisher,
        GitLabPublisher,
        GooglePublisher,
        Publisher,
        UnsupportedPublisher,
    )
    from attestkit.signing import SignedFile, SigningServices, sign
    from attestkit.statement import Statement
    from attestkit.trust import TrustRoot
    from attestkit.verify import ProvenanceResult, VerificationResult, Verifier

_EXPORTS: dict[str, str] = {
    "Attestation": "attestkit.models",
    "AttestationBundle": "attestkit.models",
    "Envelope": "attestkit.models",
    "Provenance": "attestkit.models",
    "VerificationMaterial": "attestkit.models",
    "ActiveStatePublisher": "attestkit.publishers",
    "CircleCIPublisher": "attestkit.publishers",
    "GitHubPublisher": "attestkit.publishers",
    "GitLabPublisher": "attestkit.publishers",
    "GooglePublisher": "attestkit.publishers",
    "Publisher": "attestkit.publishers",
    "UnsupportedPublisher": "attestkit.publishers",
    "CircleCIIdentity": "attestkit.policy",
    "GitHubIdentity": "attestkit.policy",
    "GitLabIdentity": "attestkit.policy",
    "GoogleIdentity": "attestkit.policy",
    "Identity": "attestkit.policy",
    "Policy": "attestkit.policy",
    "Distribution": "attestkit.distribution",
    "Statement": "attestkit.statement",
    "CertificateClaims": "attestkit.certificate",
    "Conversion": "attestkit.convert",
    "attestation_from_bundle": "attestkit.convert",
    "bundle_from_attestation": "attestkit.convert",
    "inspect_file": "attestkit.inspect",
    "sign": "attestkit.signing",
    "SigningServices": "attestkit.signing",
    "SignedFile": "attestkit.signing",
    "TrustRoot": "attestkit.trust",
    "Verifier": "attestkit.verify",
    "VerificationResult": "attestkit.verify",
    "ProvenanceResult": "attestkit.verify",
    "AttestkitError": "attestkit.errors",
    "ConversionError": "attestkit.errors",
    "InputError": "attestkit.errors",
    "VerificationError": "attestkit.errors",
    "PUBLISH_PREDICATE_V1": "attestkit.constants",
    "SLSA_PREDICATE_V1": "attestkit.constants",
}

__all__ = [
    "PUBLISH_PREDICATE_V1",
    "SLSA_PREDICATE_V1",
    "ActiveStatePublisher",
    "Attestation",
    "AttestationBundle",
    "AttestkitError",
    "CertificateClaims",
    "CircleCIIdentity",
    "CircleCIPublisher",
    "Conversion",
    "ConversionError",
    "Distribution",
    "Envelope",
    "GitHubIdentity",
    "GitHubPublisher",
    "GitLabIdentity",
    "GitLabPublisher",
    "GoogleIdentity",
    "GooglePublisher",
    "Identity",
    "InputError",
    "Policy",
    "Provenance",
    "ProvenanceResult",
    "Publisher",
    "SignedFile",
    "SigningServices",
    "Statement",
    "TrustRoot",
    "UnsupportedPublisher",
    "VerificationError",
    "VerificationMaterial",
    "VerificationResult",
    "Verifier",
    "__version__",
    "attestation_from_bundle",
    "bundle_from_attestation",
    "inspect_file",
    "sign",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'attestkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
