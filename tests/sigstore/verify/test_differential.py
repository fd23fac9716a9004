"""Differential verification: attestkit never accepts what pypi-attestations rejects.

Mutations of a real PyPI attestation (the pypi-attestations 0.0.19 sdist's, its
publisher trailofbits/pypi-attestations release.yml) are verified by attestkit's
``Verifier`` and by pypi-attestations' ``Attestation.verify`` (sigstore-python
underneath), both offline against Sigstore's production root.  Each mutation
changes one field the way an attacker or a broken tool would: a flipped bit in a
signature, a certificate, a payload, a proof hash; a changed integrated time,
log index, kind or version; an emptied or duplicated list.

The rule: no mutation may be accepted by attestkit and rejected by the peer.
Where attestkit is stricter (it rejects what the peer accepts), the case is
listed in ``STRICTER`` with the reason; any other disagreement fails.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from attestkit.core.distribution import Distribution
from attestkit.core.models import Attestation, Provenance
from attestkit.errors import AttestkitError
from attestkit.sigstore.trust import TrustRoot
from attestkit.sigstore.verify.attestation import Verifier
from tests.conftest import DATA, SDIST

BASE: dict[str, Any] = json.loads((DATA / f"{SDIST}.publish.attestation").read_text())
#: The publisher PyPI recorded for it: GitHub trailofbits/pypi-attestations release.yml.
PUBLISHER = (
    Provenance.from_dict(json.loads((DATA / f"{SDIST}.provenance").read_text()))
    .attestation_bundles[0]
    .publisher
)

#: Mutations attestkit rejects although pypi-attestations accepts them, and why.  None
#: today: on every mutation below the two verifiers agree.
STRICTER: dict[str, str] = {}


def _flip_b64(value: str, at: int = 7) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[min(at, len(raw) - 1)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = doc["verification_material"]["transparency_entries"][0]
    return entry


def mutations() -> Iterator[tuple[str, Callable[[dict[str, Any]], None]]]:
    """``(name, change)``: each change edits a deep copy of the attestation in place."""
    env = "envelope"
    vm = "verification_material"
    yield "signature.bit", lambda d: d[env].update(signature=_flip_b64(d[env]["signature"]))
    yield (
        "signature.bit_late",
        lambda d: d[env].update(signature=_flip_b64(d[env]["signature"], 40)),
    )
    yield "statement.bit", lambda d: d[env].update(statement=_flip_b64(d[env]["statement"], 30))
    yield (
        "certificate.bit_tbs",
        lambda d: d[vm].update(certificate=_flip_b64(d[vm]["certificate"], 200)),
    )
    yield (
        "certificate.bit_sig",
        lambda d: d[vm].update(certificate=_flip_b64(d[vm]["certificate"], -5)),
    )
    yield "entries.empty", lambda d: d[vm].update(transparency_entries=[])
    yield "entries.twice", lambda d: d[vm]["transparency_entries"].append(copy.deepcopy(_entry(d)))
    yield (
        "integrated_time.plus_year",
        lambda d: _entry(d).update(
            integratedTime=str(int(_entry(d)["integratedTime"]) + 31_536_000)
        ),
    )
    yield (
        "integrated_time.minus_day",
        lambda d: _entry(d).update(integratedTime=str(int(_entry(d)["integratedTime"]) - 86_400)),
    )
    yield (
        "log_index.plus_one",
        lambda d: _entry(d).update(logIndex=str(int(_entry(d)["logIndex"]) + 1)),
    )
    yield (
        "log_id.bit",
        lambda d: _entry(d)["logId"].update(keyId=_flip_b64(_entry(d)["logId"]["keyId"])),
    )
    yield "kind.hashedrekord", lambda d: _entry(d)["kindVersion"].update(kind="hashedrekord")
    yield "kind_version.0.0.2", lambda d: _entry(d)["kindVersion"].update(version="0.0.2")
    yield (
        "inclusion_promise.bit",
        lambda d: _entry(d)["inclusionPromise"].update(
            signedEntryTimestamp=_flip_b64(_entry(d)["inclusionPromise"]["signedEntryTimestamp"])
        ),
    )
    yield "inclusion_promise.dropped", lambda d: _entry(d).pop("inclusionPromise")
    yield (
        "proof.hash_bit",
        lambda d: _entry(d)["inclusionProof"]["hashes"].__setitem__(
            0, _flip_b64(_entry(d)["inclusionProof"]["hashes"][0])
        ),
    )
    yield "proof.hashes_dropped", lambda d: _entry(d)["inclusionProof"].update(hashes=[])
    yield (
        "proof.root_bit",
        lambda d: _entry(d)["inclusionProof"].update(
            rootHash=_flip_b64(_entry(d)["inclusionProof"]["rootHash"])
        ),
    )
    yield (
        "proof.tree_size_plus_one",
        lambda d: _entry(d)["inclusionProof"].update(
            treeSize=str(int(_entry(d)["inclusionProof"]["treeSize"]) + 1)
        ),
    )
    yield (
        "proof.checkpoint_edit",
        lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
            envelope=_entry(d)["inclusionProof"]["checkpoint"]["envelope"].replace("\n", "\n\n", 1)
        ),
    )
    yield (
        "body.bit",
        lambda d: _entry(d).update(canonicalizedBody=_flip_b64(_entry(d)["canonicalizedBody"], 60)),
    )
    yield "version.2", lambda d: d.update(version=2)


CASES = list(mutations())


def _attestkit(doc: dict[str, Any]) -> bool:
    dist = Distribution.from_file(DATA / SDIST)
    try:
        attestation = Attestation.from_dict(doc)
        Verifier(TrustRoot.production()).verify(attestation, PUBLISHER, dist)
    except AttestkitError:
        return False
    return True


def _peer(doc: dict[str, Any]) -> bool:
    from pypi_attestations import Attestation as PAAttestation
    from pypi_attestations import Distribution as PADistribution
    from pypi_attestations import GitHubPublisher

    try:
        attestation = PAAttestation.model_validate_json(json.dumps(doc))
        dist = PADistribution.from_file(DATA / SDIST)
        publisher = GitHubPublisher(
            repository="trailofbits/pypi-attestations", workflow="release.yml"
        )
        attestation.verify(publisher, dist, offline=True)
    except Exception:  # the peer's refusals come as many exception types
        return False
    return True


def test_the_unmutated_attestation_verifies_in_both() -> None:
    assert _attestkit(copy.deepcopy(BASE)) and _peer(copy.deepcopy(BASE))


@pytest.mark.parametrize(("name", "change"), CASES, ids=[name for name, _ in CASES])
def test_attestkit_never_accepts_what_the_peer_rejects(
    name: str, change: Callable[[dict[str, Any]], None]
) -> None:
    doc = copy.deepcopy(BASE)
    change(doc)
    ours, theirs = _attestkit(copy.deepcopy(doc)), _peer(copy.deepcopy(doc))
    assert not (ours and not theirs), f"{name}: attestkit accepts what pypi-attestations rejects"
    if theirs and not ours:
        assert name in STRICTER, f"{name}: attestkit rejects what the peer accepts (explain it)"
    if name in STRICTER:
        assert theirs and not ours, f"{name}: listed as stricter, but the verdicts agree"
