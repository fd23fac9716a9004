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
    from attestkit.client.sign import SignedFile, SigningServices, sign
    from attestkit.core.certificate import CertificateClaims
    from attestkit.core.constants import PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1
    from attestkit.core.convert import Conversion, attestation_from_bundle, bundle_from_attestation
    from attestkit.core.distribution import Distribution
    from attestkit.core.inspect import inspect_file
    from attestkit.core.models import (
        Attestation,
        AttestationBundle,
        Envelope,
        Provenance,
        VerificationMaterial,
    )
    from attestkit.core.policy import Identity, Policy
    from attestkit.core.providers import (
        ActiveStatePublisher,
        CircleCIIdentity,
        CircleCIPublisher,
        GitHubIdentity,
        GitHubPublisher,
        GitLabIdentity,
        GitLabPublisher,
        GoogleIdentity,
        GooglePublisher,
        Publisher,
        UnsupportedPublisher,
    )
    from attestkit.core.statement import Statement
    from attestkit.errors import AttestkitError, ConversionError, InputError, VerificationError
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.attestation import ProvenanceResult, VerificationResult, Verifier

_EXPORTS: dict[str, str] = {
    "Attestation": "attestkit.core.models",
    "AttestationBundle": "attestkit.core.models",
    "Envelope": "attestkit.core.models",
    "Provenance": "attestkit.core.models",
    "VerificationMaterial": "attestkit.core.models",
    "ActiveStatePublisher": "attestkit.core.providers",
    "CircleCIPublisher": "attestkit.core.providers",
    "GitHubPublisher": "attestkit.core.providers",
    "GitLabPublisher": "attestkit.core.providers",
    "GooglePublisher": "attestkit.core.providers",
    "Publisher": "attestkit.core.providers",
    "UnsupportedPublisher": "attestkit.core.providers",
    "CircleCIIdentity": "attestkit.core.providers",
    "GitHubIdentity": "attestkit.core.providers",
    "GitLabIdentity": "attestkit.core.providers",
    "GoogleIdentity": "attestkit.core.providers",
    "Identity": "attestkit.core.policy",
    "Policy": "attestkit.core.policy",
    "Distribution": "attestkit.core.distribution",
    "Statement": "attestkit.core.statement",
    "CertificateClaims": "attestkit.core.certificate",
    "Conversion": "attestkit.core.convert",
    "attestation_from_bundle": "attestkit.core.convert",
    "bundle_from_attestation": "attestkit.core.convert",
    "inspect_file": "attestkit.core.inspect",
    "sign": "attestkit.client.sign",
    "SigningServices": "attestkit.client.sign",
    "SignedFile": "attestkit.client.sign",
    "TrustRoot": "attestkit.sigstore.trust",
    "Verifier": "attestkit.sigstore.verify.attestation",
    "VerificationResult": "attestkit.sigstore.verify.attestation",
    "ProvenanceResult": "attestkit.sigstore.verify.attestation",
    "AttestkitError": "attestkit.errors",
    "ConversionError": "attestkit.errors",
    "InputError": "attestkit.errors",
    "VerificationError": "attestkit.errors",
    "PUBLISH_PREDICATE_V1": "attestkit.core.constants",
    "SLSA_PREDICATE_V1": "attestkit.core.constants",
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
