"""One file's provenance, verified into the evidence a policy judges.

Shared by ``attestkit verify lock`` (the client) and the verifying mirror (the
index): both hold a provenance object and the SHA-256 the file must have, and
want an :class:`~attestkit.core.install_policy.Evidence` — the publishers whose
bundles verified under any of the trust roots, or why none did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attestkit.core.install_policy import Evidence
from attestkit.errors import AttestkitError

if TYPE_CHECKING:
    from attestkit.sigstore.verify.attestation import Verifier

__all__ = ["verify_evidence"]


def verify_evidence(
    project: str,
    version: str | None,
    filename: str,
    sha256: str,
    provenance: Mapping[str, Any],
    verifiers: Sequence[Verifier],
) -> Evidence:
    """Verify ``provenance`` for the file ``filename`` with digest ``sha256``.

    The first verifier (trust root) under which every attestation verifies gives
    the evidence ``verified`` with its bundles' publishers; otherwise it is
    ``failed`` with each root's reason.
    """
    from attestkit.core.distribution import Distribution
    from attestkit.core.models import Provenance

    try:
        parsed = Provenance.from_dict(dict(provenance))
        dist = Distribution(filename, sha256)
    except AttestkitError as exc:
        return Evidence(project, version, filename, "failed", (), exc.reason)
    failures: list[str] = []
    for verifier in verifiers:
        try:
            result = verifier.verify_provenance(parsed, dist)
        except AttestkitError as exc:
            failures.append(exc.reason)
            continue
        publishers: list[dict[str, Any]] = []
        for publisher, _ in result.results:
            as_dict = publisher.to_dict()
            if as_dict not in publishers:
                publishers.append(as_dict)
        simulated = any(r.claims.simulated for _, r in result.results)
        return Evidence(
            project, version, filename, "verified", tuple(publishers), simulated=simulated
        )
    detail = "; ".join(dict.fromkeys(failures)) or "no trust root configured"
    return Evidence(project, version, filename, "failed", (), detail)
