"""Verifying one attestation with a never-seen certificate: attestkit vs sigstore-python.

Run: ``.venv/bin/python -m bench.verify_bench [--runs 200]``.

The attestation is a real one from PyPI (the pypi-attestations 0.0.19 sdist,
``tests/data``), verified offline against Sigstore's production trust root, in
one process, alternating the two:

* attestkit: ``Verifier.verify(attestation, publisher, dist)`` with its
  certificate-chain memo emptied before every call, so each call pays for the
  whole chain, SCT, log-entry and signature checks of a new certificate;
* sigstore-python: ``Verifier.verify_dsse(bundle, policy)`` on the bundle
  pypi-attestations builds from the same attestation (``to_bundle()``, built
  once beforehand) with the publisher's policy — the call pypi-attestations makes.

Reported: the median and p90 per call, and the ratio.  The physical floor is a
handful of P-256 signature checks (about 0.3 ms on this machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SDIST = "pypi_attestations-0.0.19.tar.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    from pypi_attestations import Attestation as PAAttestation
    from pypi_attestations import Provenance as PAProvenance
    from sigstore.verify import Verifier as SigstoreVerifier

    from attestkit.core.distribution import Distribution
    from attestkit.core.models import Provenance
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify import chain
    from attestkit.sigstore.verify.attestation import Verifier

    text = (DATA / f"{SDIST}.provenance").read_text()
    provenance = Provenance.from_dict(json.loads(text))
    bundle = provenance.attestation_bundles[0]
    attestation = bundle.attestations[0]
    dist = Distribution.from_file(DATA / SDIST)
    ours = Verifier(TrustRoot.production())

    pa = PAProvenance.model_validate_json(text)
    pa_bundle = pa.attestation_bundles[0]
    pa_att: PAAttestation = pa_bundle.attestations[0]
    sigstore_bundle = pa_att.to_bundle()
    policy = pa_bundle.publisher._as_policy()
    theirs = SigstoreVerifier.production(offline=True)

    def attestkit_once() -> float:
        chain._CHECKED.clear()
        start = time.perf_counter()
        ours.verify(attestation, bundle.publisher, dist)
        return time.perf_counter() - start

    def sigstore_once() -> float:
        start = time.perf_counter()
        theirs.verify_dsse(sigstore_bundle, policy)
        return time.perf_counter() - start

    for _ in range(5):  # warm both
        attestkit_once()
        sigstore_once()
    a: list[float] = []
    s: list[float] = []
    for _ in range(args.runs):
        a.append(attestkit_once())
        s.append(sigstore_once())

    def row(label: str, times: list[float]) -> str:
        ms = sorted(t * 1000 for t in times)
        p90 = ms[int(len(ms) * 0.9)]
        return f"{label:<34} {statistics.median(ms):>8.3f} {p90:>8.3f}"

    print(f"{args.runs} calls each, a certificate never seen before (attestkit memo cleared)")
    print(f"{'verifier':<34} {'p50 ms':>8} {'p90 ms':>8}")
    print(row("attestkit Verifier.verify", a))
    print(row("sigstore-python verify_dsse", s))
    print(f"speed-up (median): {statistics.median(s) / statistics.median(a):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
