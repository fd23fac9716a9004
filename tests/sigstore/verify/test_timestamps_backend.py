"""RFC 3161 timestamps as a signing time: the fast engine, sigstore-python, and PyPI parity.

The asset is sigstore-conformance's ``rekor2-dsse-happy-path`` (tests/data/conformance):
a DSSE bundle on a Rekor v2 log, whose only time source is an RFC 3161 timestamp.
``convert --raw --keep-timestamps`` keeps it; both engines verify it at the timestamp's
time.  An index verifies uploads as PyPI does, which drops the ``timestamps`` field,
so it refuses such an attestation unless its operator opts in (``--rekor-v2``).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attestkit import Attestation, TrustRoot
from attestkit.core.constants import INTOTO_PAYLOAD_TYPE
from attestkit.errors import VerificationError
from tests.conftest import DATA

ASSET = DATA / "conformance" / "rekor2-dsse-happy-path"


@pytest.fixture
def attestation(cli, tmp_path: Path) -> Attestation:
    bundle = tmp_path / "a.txt.sigstore.json"
    shutil.copy(ASSET / "bundle.sigstore.json", bundle)
    out = tmp_path / "a.txt.slsa.attestation"
    r = cli("convert", "--raw", "--keep-timestamps", str(bundle), "-o", str(out))
    assert r.code == 0, r.err
    return Attestation.from_file(out)


def test_timestamps_reach_sigstore_python(attestation: Attestation) -> None:
    from attestkit.sigstore.verify.backend import verify_dsse_with_sigstore

    vm = attestation.verification_material
    assert len(vm.timestamps) == 1
    root = TrustRoot.from_file(ASSET / "trusted_root.json")
    (entry,) = vm.log_entries()
    args = (root, vm.certificate, entry, attestation.envelope.statement, INTOTO_PAYLOAD_TYPE,
            attestation.envelope.signature, lambda cert: None)  # fmt: skip
    verified = verify_dsse_with_sigstore(*args, timestamps=vm.timestamps)
    assert verified.time == datetime(2026, 5, 13, 19, 23, 33, tzinfo=UTC)  # the genTime
    with pytest.raises(VerificationError, match="signed timestamp"):
        verify_dsse_with_sigstore(*args)  # without them: no time source at all


def test_the_fast_engine_verifies_the_timestamp_and_agrees_with_sigstore(
    attestation: Attestation,
) -> None:
    from attestkit.core.distribution import Distribution
    from attestkit.core.policy import Identity
    from attestkit.sigstore.verify.attestation import Verifier
    from attestkit.sigstore.verify.backend import verify_dsse_with_sigstore
    from attestkit.sigstore.verify.engine import verify_dsse

    root = TrustRoot.from_file(ASSET / "trusted_root.json")
    vm = attestation.verification_material
    (entry,) = vm.log_entries()
    args = (root, vm.certificate, entry, attestation.envelope.statement, INTOTO_PAYLOAD_TYPE,
            attestation.envelope.signature, lambda cert: None)  # fmt: skip
    ours = verify_dsse(*args, timestamps=vm.timestamps)
    theirs = verify_dsse_with_sigstore(*args, timestamps=vm.timestamps)
    assert ours.time == theirs.time == datetime(2026, 5, 13, 19, 23, 33, tzinfo=UTC)
    with pytest.raises(VerificationError, match="not enough sources of verified time"):
        verify_dsse(*args)  # a Rekor v2 entry has no other time
    with pytest.raises(VerificationError, match="not enough sources of verified time: 1 of 1"):
        verify_dsse(*args, timestamps=vm.timestamps, time_threshold=2)
    # Through the attestation verifier, the next check is the identity's.
    dist = Distribution("demo-1.0.tar.gz", "0" * 64)
    with pytest.raises(VerificationError, match="OIDCIssuer does not match"):
        Verifier(root).verify(attestation, Identity("x", "https://issuer.example"), dist)


def test_upload_verification_ignores_timestamps_as_pypi_does(attestation: Attestation) -> None:
    from attestkit.core.distribution import Distribution
    from attestkit.core.policy import Identity
    from attestkit.index.provenance import ProvenanceService

    root = TrustRoot.from_file(ASSET / "trusted_root.json")
    dist = Distribution("demo-1.0.tar.gz", "0" * 64)
    wrong = Identity("x", "https://issuer.example")
    [as_pypi] = ProvenanceService([root]).upload_verifiers
    with pytest.raises(VerificationError, match="this index accepts them with --rekor-v2"):
        as_pypi.verify(attestation, wrong, dist)
    [ahead] = ProvenanceService([root], rekor_v2=True).upload_verifiers
    with pytest.raises(VerificationError, match="OIDCIssuer does not match"):  # got past time
        ahead.verify(attestation, wrong, dist)
