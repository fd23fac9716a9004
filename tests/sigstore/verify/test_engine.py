"""Tests for attestkit.sigstore.verify.engine, differential against sigstore-python.

Every verification outcome here is computed by both engines: attestkit's
hand-written :func:`verify_dsse` and :func:`verify_dsse_with_sigstore`
(sigstore-python 4.5.1, the oracle).  They must agree: both accept, or both
reject.  The only allowed disagreements are listed in ``STRICTER`` cases, where
attestkit rejects an oddity sigstore-python lets through; never the reverse.

Two sources of inputs:

* real PyPI attestations from ``tests/data`` and single mutations of them;
* a forged Sigstore instance (own CA, CT log key and Rekor key, built here with
  ``cryptography``) so that checks behind the Merkle proof and the SET (body
  consistency, SCT details, checkpoint parsing, key fallback) can be reached
  with otherwise valid inputs.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestkit.core.log_entry import LogEntry
from attestkit.core.models import Attestation
from attestkit.errors import VerificationError
from attestkit.sigstore.trust import TrustRoot
from attestkit.sigstore.verify.backend import verify_dsse_with_sigstore
from attestkit.sigstore.verify.engine import (
    VerifiedSignature,
    leaf_hash,
    node_hash,
    pae,
    verify_dsse,
    verify_inclusion,
)
from tests.conftest import DATA

INTOTO = "application/vnd.in-toto+json"

Identity = Callable[[x509.Certificate], None]
Engine = Callable[..., VerifiedSignature]
ENGINES: list[Engine] = [verify_dsse, verify_dsse_with_sigstore]


def _no_identity(cert: x509.Certificate) -> None:
    return None


@dataclass(frozen=True)
class Case:
    """All inputs of one verification."""

    trust_root: TrustRoot
    certificate: bytes
    entry: LogEntry
    payload: bytes
    signature: bytes
    payload_type: str = INTOTO
    identity: Identity = _no_identity

    def run(self, engine: Engine) -> VerifiedSignature:
        return engine(
            self.trust_root,
            self.certificate,
            self.entry,
            self.payload,
            self.payload_type,
            self.signature,
            self.identity,
        )

    def outcome(self, engine: Engine) -> VerificationError | None:
        """``None`` if ``engine`` accepts; the error if it rejects (anything else fails)."""
        try:
            self.run(engine)
        except VerificationError as exc:
            assert "\n" not in str(exc)
            return exc
        return None

    def with_entry(self, edit: Callable[[dict[str, Any]], Any]) -> Case:
        """A copy whose log entry is edited at the protobuf-JSON dict level."""
        obj = copy.deepcopy(self.entry.to_dict())
        edit(obj)
        return replace(self, entry=LogEntry.from_dict(obj))


def assert_both_reject(case: Case, prefix: str | tuple[str, ...]) -> VerificationError:
    ours = case.outcome(verify_dsse)
    theirs = case.outcome(verify_dsse_with_sigstore)
    assert ours is not None, "attestkit accepted"
    assert theirs is not None, f"sigstore accepted what attestkit rejected with: {ours}"
    assert str(ours).startswith(prefix), str(ours)
    return ours


def assert_both_accept(case: Case) -> None:
    ours = case.run(verify_dsse)
    theirs = case.run(verify_dsse_with_sigstore)
    assert ours.time == theirs.time == datetime.fromtimestamp(case.entry.integrated_time, UTC)
    der = serialization.Encoding.DER
    assert ours.certificate.public_bytes(der) == case.certificate
    assert theirs.certificate.public_bytes(der) == case.certificate
    assert ours.entry == case.entry


def assert_agree(case: Case) -> None:
    ours, theirs = case.outcome(verify_dsse), case.outcome(verify_dsse_with_sigstore)
    assert (ours is None) == (theirs is None), f"attestkit: {ours!r}; sigstore: {theirs!r}"


def flip_b64(value: str, index: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index % len(out)] ^= 0x01
    return bytes(out)


# == real attestations ==================================================================

REAL = {
    "pypi-publish": ("pypi_attestations-0.0.19.tar.gz.publish.attestation", "production"),
    "pypi-slsa": ("pypi_attestations-0.0.19.tar.gz.slsa.attestation", "production"),
    "gitlab": ("gitlab_oidc_project-0.0.3.tar.gz.publish.attestation", "production"),
    "rfc8785-publish": ("rfc8785-0.1.2-py3-none-any.whl.publish.attestation", "staging"),
    "rfc8785": ("rfc8785-0.1.2-py3-none-any.whl.attestation", "staging"),
}
#: The distinct signatures (rfc8785.attestation duplicates rfc8785-publish).
MUTATED = ["pypi-publish", "gitlab", "rfc8785-publish"]


def real_case(name: str, root: str | None = None) -> Case:
    filename, root_name = REAL[name]
    att = Attestation.from_file(DATA / filename)
    return Case(
        trust_root=getattr(TrustRoot, root or root_name)(),
        certificate=att.verification_material.certificate,
        entry=att.verification_material.log_entries()[0],
        payload=att.envelope.statement,
        signature=att.envelope.signature,
    )


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_attestations_verify(name: str) -> None:
    assert_both_accept(real_case(name))


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_attestations_fail_with_the_other_root(name: str) -> None:
    other = "staging" if REAL[name][1] == "production" else "production"
    error = assert_both_reject(real_case(name, other), CHAIN)
    assert "candidates exhausted" in str(error)
    # The message says which root does work (the other embedded one).
    flag = "--staging" if other == "production" else "the default (production) root"
    assert str(error).endswith(
        f"it does chain to Sigstore's {REAL[name][1]} instance: verify with {flag}"
    )


def test_result_fields() -> None:
    result = verify_dsse(*_args(real_case("pypi-publish")))
    assert result.time == datetime(2024, 12, 4, 23, 14, 1, tzinfo=UTC)
    assert result.time.tzinfo is UTC
    assert isinstance(result.certificate, x509.Certificate)


def _args(case: Case) -> tuple[Any, ...]:
    return (
        case.trust_root,
        case.certificate,
        case.entry,
        case.payload,
        case.payload_type,
        case.signature,
        case.identity,
    )


# -- single mutations of real attestations (the differential core) -----------------------

CHAIN = "the signing certificate does not chain to a Fulcio root"
#: An altered certificate: its issuer is a trusted CA, whose signature it no longer has.
INVALID = "the signing certificate is not valid: "
LOG = "invalid log entry: "
TIME = "not enough sources of verified time"


def _set_path(obj: dict[str, Any], path: str, fn: Callable[[Any], Any]) -> None:
    *parents, last = path.split(".")
    for part in parents:
        obj = obj[part]
    obj[last] = fn(obj[last])


def _flip_at(path: str, index: int) -> Callable[[dict[str, Any]], None]:
    """Edit: flip one byte of the base64 field at ``path``."""

    def edit(d: dict[str, Any]) -> None:
        _set_path(d, path, lambda v: flip_b64(v, index))

    return edit


def _flip_proof_hash(h: int) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        hashes_ = d["inclusionProof"]["hashes"]
        hashes_[h] = flip_b64(hashes_[h], 7)

    return edit


def _flip_checkpoint_char(pos: int) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        _set_path(
            d,
            "inclusionProof.checkpoint.envelope",
            lambda v: v[:pos] + chr(ord(v[pos]) ^ 1) + v[pos + 1 :],
        )

    return edit


def _entry_mutations(case: Case) -> list[tuple[str, Callable[[dict[str, Any]], Any], Any]]:
    """(id, dict edit, expected prefix) for one attestation's log entry."""
    assert case.entry.inclusion_proof is not None
    proof_len = len(case.entry.inclusion_proof.hashes)
    out: list[tuple[str, Callable[[dict[str, Any]], Any], Any]] = []
    for i in (0, 35, -1):
        out.append(
            (
                f"set-byte{i}",
                _flip_at("inclusionPromise.signedEntryTimestamp", i),
                LOG + "SET: invalid inclusion promise",
            )
        )
    for h in range(proof_len):
        out.append(
            (
                f"proof-hash{h}",
                _flip_proof_hash(h),
                LOG + "inclusion proof contains invalid root hash",
            )
        )
    out += [
        (
            "root-hash",
            lambda d: _set_path(d, "inclusionProof.rootHash", lambda v: flip_b64(v, 3)),
            LOG + "inclusion proof contains invalid root hash",
        ),
        (
            "body-byte0",
            lambda d: _set_path(d, "canonicalizedBody", lambda v: flip_b64(v, 0)),
            LOG + "inclusion proof contains invalid root hash",
        ),
        (
            "body-byte-last",
            lambda d: _set_path(d, "canonicalizedBody", lambda v: flip_b64(v, -2)),
            LOG + "inclusion proof contains invalid root hash",
        ),
        ("time+1h", lambda d: _set_path(d, "integratedTime", lambda v: str(int(v) + 3600)), CHAIN),
        ("time-1h", lambda d: _set_path(d, "integratedTime", lambda v: str(int(v) - 3600)), CHAIN),
        (
            "time+1s",
            lambda d: _set_path(d, "integratedTime", lambda v: str(int(v) + 1)),
            LOG + "SET: ",
        ),
        # Fulcio certificates often start in the very second of integration.
        (
            "time-1s",
            lambda d: _set_path(d, "integratedTime", lambda v: str(int(v) - 1)),
            (LOG + "SET: ", CHAIN),
        ),
        ("time-zero", lambda d: d.pop("integratedTime"), TIME),
        (
            "log-index+1",
            lambda d: _set_path(d, "logIndex", lambda v: str(int(v) + 1)),
            LOG + "SET: ",
        ),
        (
            "log-index-1",
            lambda d: _set_path(d, "logIndex", lambda v: str(int(v) - 1)),
            LOG + "SET: ",
        ),
        (
            "proof-index-1",
            lambda d: _set_path(d, "inclusionProof.logIndex", lambda v: str(int(v) - 1)),
            LOG + "inclusion proof",
        ),
        (
            "proof-index=size",
            lambda d: _set_path(
                d, "inclusionProof.logIndex", lambda _v: d["inclusionProof"]["treeSize"]
            ),
            LOG + "logIndex",
        ),
        (
            "tree-size+1",
            lambda d: _set_path(d, "inclusionProof.treeSize", lambda v: str(int(v) + 1)),
            LOG + "inclusion proof",
        ),
        ("proof-drop-hash", lambda d: d["inclusionProof"]["hashes"].pop(), LOG + "inclusion proof"),
        (
            "proof-extra-hash",
            lambda d: d["inclusionProof"]["hashes"].append(d["inclusionProof"]["hashes"][0]),
            LOG + "inclusion proof",
        ),
        (
            "log-id-first-byte",
            lambda d: _set_path(d, "logId.keyId", lambda v: flip_b64(v, 0)),
            LOG + "checkpoint: Signature not found for log ID",
        ),
        (
            "log-id-last-byte",
            lambda d: _set_path(d, "logId.keyId", lambda v: flip_b64(v, -1)),
            LOG + "SET: ",
        ),
        ("drop-promise", lambda d: d.pop("inclusionPromise"), TIME),
        ("drop-proof", lambda d: d.pop("inclusionProof"), "log entry has no inclusion proof"),
        (
            "kind-hashedrekord",
            lambda d: d["kindVersion"].__setitem__("kind", "hashedrekord"),
            "Unsupported DSSE log entry type: hashedrekord/0.0.1",
        ),
        (
            "kind-intoto",
            lambda d: d["kindVersion"].__setitem__("kind", "intoto"),
            "Unsupported DSSE log entry type: intoto/0.0.1",
        ),
        (
            "version-0.0.2",
            lambda d: d["kindVersion"].__setitem__("version", "0.0.2"),
            "an integrated time with an inclusion promise is a Rekor v1 entry's",
        ),
        (
            "version-0.0.3",
            lambda d: d["kindVersion"].__setitem__("version", "0.0.3"),
            "Expected log entry version 0.0.1 - 0.0.2",
        ),
    ]
    checkpoint = case.entry.inclusion_proof.checkpoint
    header_end = checkpoint.index("\n\n") + 1
    sig_start = checkpoint.rindex(" ") + 1
    positions = [*range(0, header_end, 9), *range(sig_start + 2, len(checkpoint) - 2, 11)]
    for pos in positions:
        out.append((f"checkpoint-char{pos}", _flip_checkpoint_char(pos), LOG))
    return out


ENTRY_MUTATIONS = [
    (name, mutation[0]) for name in MUTATED for mutation in _entry_mutations(real_case(name))
]


@pytest.mark.parametrize(
    ("name", "mutation"), ENTRY_MUTATIONS, ids=[f"{n}-{m}" for n, m in ENTRY_MUTATIONS]
)
def test_entry_mutations_rejected_by_both(name: str, mutation: str) -> None:
    case = real_case(name)
    _id, edit, prefix = {m[0]: m for m in _entry_mutations(case)}[mutation]
    assert_both_reject(case.with_entry(edit), prefix)


@pytest.mark.parametrize("name", MUTATED)
def test_checkpoint_signer_name_is_not_checked(name: str) -> None:
    """sigstore ignores the signer name in the note; so must we (agreement on accept)."""
    case = real_case(name)

    def rename(d: dict[str, Any]) -> None:
        _set_path(
            d,
            "inclusionProof.checkpoint.envelope",
            lambda v: v.replace("\u2014 rekor.", "\u2014 other."),
        )

    assert_both_accept(case.with_entry(rename))


@pytest.mark.parametrize("name", MUTATED)
@pytest.mark.parametrize("index", [0, 1, 10, 20, 40, -1])
def test_signature_byte_flip(name: str, index: int) -> None:
    case = real_case(name)
    assert_both_reject(replace(case, signature=flip(case.signature, index)), "DSSE: ")


@pytest.mark.parametrize("name", MUTATED)
@pytest.mark.parametrize("index", [0, 100, -1])
def test_payload_byte_flip(name: str, index: int) -> None:
    case = real_case(name)
    assert_both_reject(replace(case, payload=flip(case.payload, index)), "DSSE: invalid signature")


@pytest.mark.parametrize("name", MUTATED)
def test_payload_type_change(name: str) -> None:
    case = real_case(name)
    assert_both_reject(replace(case, payload_type="application/json"), "DSSE: invalid signature")


@pytest.mark.parametrize("name", MUTATED)
def test_empty_signature(name: str) -> None:
    case = real_case(name)
    assert_both_reject(replace(case, signature=b""), "DSSE: envelope signature must be non-empty")


@pytest.mark.parametrize("name", MUTATED)
def test_certificate_byte_flips(name: str) -> None:
    case = real_case(name)
    for index in range(0, len(case.certificate), 53):
        assert_both_reject(
            replace(case, certificate=flip(case.certificate, index)),
            (CHAIN, INVALID, "invalid X.509 signing certificate"),
        )


def test_certificate_not_der() -> None:
    case = real_case("pypi-publish")
    assert_both_reject(replace(case, certificate=b"junk"), "invalid X.509 signing certificate")


@pytest.mark.parametrize(
    ("cert_from", "entry_from", "prefix"),
    [
        ("pypi-slsa", "pypi-publish", "DSSE: invalid signature"),  # valid at that time
        ("pypi-publish", "pypi-slsa", CHAIN),  # signed before this certificate existed
        ("gitlab", "pypi-publish", CHAIN),
        ("rfc8785-publish", "pypi-publish", CHAIN),  # staging certificate
    ],
)
def test_swapped_certificate(cert_from: str, entry_from: str, prefix: str) -> None:
    case = replace(real_case(entry_from), certificate=real_case(cert_from).certificate)
    assert_both_reject(case, prefix)


class _IdentityMismatchError(Exception):
    pass


@pytest.mark.parametrize("name", MUTATED)
@pytest.mark.parametrize(
    "error", [VerificationError("identity mismatch"), _IdentityMismatchError()]
)
def test_identity_error_propagates_unchanged(name: str, error: Exception) -> None:
    def refuse(cert: x509.Certificate) -> None:
        raise error

    case = replace(real_case(name), identity=refuse)
    for engine in ENGINES:
        with pytest.raises(type(error)) as info:
            case.run(engine)
        assert info.value is error


def test_identity_sees_the_leaf_after_chain_and_before_log_checks() -> None:
    seen: list[bytes] = []

    def record(cert: x509.Certificate) -> None:
        seen.append(cert.public_bytes(serialization.Encoding.DER))

    case = replace(real_case("pypi-publish"), identity=record)
    for engine in ENGINES:
        seen.clear()
        case.run(engine)
        assert seen == [case.certificate]
        # Chain failure: the identity is never consulted.
        seen.clear()
        with pytest.raises(VerificationError):
            replace(case, trust_root=TrustRoot.staging()).run(engine)
        assert seen == []
        # Log entry failure comes after the identity check (sigstore's order).
        seen.clear()
        with pytest.raises(VerificationError):
            case.with_entry(
                lambda d: _set_path(
                    d, "inclusionPromise.signedEntryTimestamp", lambda v: flip_b64(v, 3)
                )
            ).run(engine)
        assert seen == [case.certificate]


# -- randomised single mutations (differential fuzzing) -------------------------------

_FUZZ_CASE = real_case("pypi-publish")
_FUZZ_FIELDS = [
    "certificate",
    "signature",
    "payload",
    "set",
    "body",
    "root",
    "log_id",
    "checkpoint",
    "proof",
]


def _fuzz(case: Case, target: str, index: int, bit: int) -> Case:
    mask = 1 << bit

    def flip_bit(data: bytes) -> bytes:
        out = bytearray(data)
        out[index % len(out)] ^= mask
        return bytes(out)

    def b64_edit(path: str) -> Case:
        def edit(d: dict[str, Any]) -> None:
            _set_path(d, path, lambda v: base64.b64encode(flip_bit(base64.b64decode(v))).decode())

        return case.with_entry(edit)

    if target == "certificate":
        return replace(case, certificate=flip_bit(case.certificate))
    if target == "signature":
        return replace(case, signature=flip_bit(case.signature))
    if target == "payload":
        return replace(case, payload=flip_bit(case.payload))
    if target == "checkpoint":

        def edit(d: dict[str, Any]) -> None:
            text = d["inclusionProof"]["checkpoint"]["envelope"].encode()
            d["inclusionProof"]["checkpoint"]["envelope"] = flip_bit(text).decode("latin-1")

        return case.with_entry(edit)
    if target == "proof":

        def edit_proof(d: dict[str, Any]) -> None:
            hashes = d["inclusionProof"]["hashes"]
            i = index % len(hashes)
            hashes[i] = base64.b64encode(flip_bit(base64.b64decode(hashes[i]))).decode()

        return case.with_entry(edit_proof)
    paths = {
        "set": "inclusionPromise.signedEntryTimestamp",
        "body": "canonicalizedBody",
        "root": "inclusionProof.rootHash",
        "log_id": "logId.keyId",
    }
    return b64_edit(paths[target])


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(target=st.sampled_from(_FUZZ_FIELDS), index=st.integers(0, 5000), bit=st.integers(0, 7))
def test_fuzz_single_bit_flips_agree(target: str, index: int, bit: int) -> None:
    case = _fuzz(_FUZZ_CASE, target, index, bit)
    ours = case.outcome(verify_dsse)
    theirs = case.outcome(verify_dsse_with_sigstore)
    if target == "checkpoint" and ours is None:
        # Only the unchecked signer name may change without consequence.
        assert theirs is None
        return
    assert ours is not None and theirs is not None


# == Merkle helpers =====================================================================

# An RFC 6962 test vector (checked with sigstore-python's routine).
LEAF_A = bytes.fromhex("022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c")
LEAF_B = bytes.fromhex("57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31")
LEAF_C = bytes.fromhex("597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8")
ROOT_3 = bytes.fromhex("36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1")
NODE_AB = bytes.fromhex("b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb")


def test_rfc6962_vector() -> None:
    assert leaf_hash(b"a") == LEAF_A
    assert leaf_hash(b"b") == LEAF_B
    assert leaf_hash(b"c") == LEAF_C
    assert node_hash(LEAF_A, LEAF_B) == NODE_AB
    assert node_hash(NODE_AB, LEAF_C) == ROOT_3
    verify_inclusion(0, 3, LEAF_A, [LEAF_B, LEAF_C], ROOT_3)
    verify_inclusion(1, 3, LEAF_B, [LEAF_A, LEAF_C], ROOT_3)
    verify_inclusion(2, 3, LEAF_C, [NODE_AB], ROOT_3)


@pytest.mark.parametrize(
    ("index", "size", "leaf", "proof", "message"),
    [
        (0, 3, LEAF_B, [LEAF_B, LEAF_C], "invalid root hash"),  # wrong leaf
        (1, 3, LEAF_A, [LEAF_A, LEAF_C], "invalid root hash"),  # wrong index
        (0, 3, LEAF_A, [LEAF_C, LEAF_B], "invalid root hash"),  # swapped proof
        (2, 3, LEAF_C, [LEAF_A, LEAF_B], "wrong size: expected 1, got 2"),
        (0, 3, LEAF_A, [LEAF_B], "wrong size: expected 2, got 1"),
        (0, 5, LEAF_A, [LEAF_B, LEAF_C], "wrong size: expected 3, got 2"),
        (3, 3, LEAF_C, [NODE_AB], "logIndex 3 must be less than treeSize 3"),
        (0, 0, LEAF_A, [], "must be less than treeSize 0"),
    ],
)
def test_rfc6962_vector_rejections(
    index: int, size: int, leaf: bytes, proof: list[bytes], message: str
) -> None:
    with pytest.raises(VerificationError, match=message):
        verify_inclusion(index, size, leaf, proof, ROOT_3)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash, straight from the definition."""
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path, straight from the definition."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def test_proof_lengths_from_notes() -> None:
    table = {
        (0, 1): 0,
        (0, 2): 1,
        (1, 2): 1,
        (0, 3): 2,
        (2, 3): 1,
        (5, 7): 3,
        (6, 7): 2,
        (3, 8): 3,
        (41, 42): 3,
    }
    for (index, size), length in table.items():
        leaves = [bytes([i]) for i in range(size)]
        proof = _path(index, leaves)
        assert len(proof) == length
        verify_inclusion(index, size, leaf_hash(leaves[index]), proof, _mth(leaves))


def test_every_position_of_small_trees() -> None:
    from sigstore._internal import merkle

    for size in range(1, 34):
        leaves = [f"leaf {i}".encode() for i in range(size)]
        root = _mth(leaves)
        for index in range(size):
            proof = _path(index, leaves)
            inner, border = merkle._decomp_inclusion_proof(index, size)
            assert len(proof) == inner + border
            verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)
            for j in range(len(proof)):  # every proof hash matters
                bad = [*proof[:j], flip(proof[j], 0), *proof[j + 1 :]]
                with pytest.raises(VerificationError):
                    verify_inclusion(index, size, leaf_hash(leaves[index]), bad, root)
            if size > 1:
                with pytest.raises(VerificationError):
                    verify_inclusion(
                        (index + 1) % size, size, leaf_hash(leaves[index]), proof, root
                    )


def test_pae_matches_sigstore() -> None:
    from sigstore.dsse import _pae

    for payload_type, payload in [
        (INTOTO, b"{}"),
        ("", b""),
        ("t\u00fcp", b"x y"),
        ("a b", b"\x00"),
    ]:
        assert pae(payload_type, payload) == _pae(payload_type, payload)
    assert pae("t", b"xy") == b"DSSEv1 1 t 2 xy"


# == forged Sigstore instance ===========================================================

T0 = 1_750_000_000  # the forged integrated time: 2025-06-15T15:06:40Z
SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
FULCIO_ISSUER_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ORIGIN = "rekor.attestkit.test - 42"


def _der_len(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _spki(key: Any) -> bytes:
    if hasattr(key, "public_key"):  # a private key
        key = key.public_key()
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _key_id(key: Any) -> bytes:
    return hashlib.sha256(_spki(key)).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass
class LeafSpec:
    """How to issue a forged Fulcio leaf."""

    key: Any = None  # default: the forge's P-256 leaf key
    not_before: int = T0 - 60
    not_after: int = T0 + 540
    digital_signature: bool = True
    eku: list[x509.ObjectIdentifier] | None = field(
        default_factory=lambda: [ExtendedKeyUsageOID.CODE_SIGNING]
    )
    #: "good", "none", "two", "unknown-key", "wrong-issuer-hash", "foreign-log-id", "sha384"
    sct: str = "good"


class Forge:
    """A miniature Sigstore: a root CA issuing Fulcio-like leaves, a CT key and a Rekor key."""

    def __init__(
        self,
        *,
        root_key_usage: bool = True,
        root_bc_critical: bool = True,
        root_eku: list[x509.ObjectIdentifier] | None = None,
    ) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        self.stranger = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "attestkit.test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "attestkit-test-root"),
            ]
        )
        root = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=None), critical=root_bc_critical
            )
        )
        if root_key_usage:
            root = root.add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        if root_eku is not None:
            root = root.add_extension(x509.ExtendedKeyUsage(root_eku), critical=False)
        self.root = root.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False
        ).sign(self.ca_key, hashes.SHA256())
        self.leaf_der = self.leaf(LeafSpec())
        self.root_json: dict[str, Any] = self.trusted_root()
        self.trust_root = TrustRoot.from_json(json.dumps(self.root_json), source="forge")

    # -- trust root --------------------------------------------------------------
    def trusted_root(
        self,
        *,
        ca_start: str = "2020-01-01T00:00:00Z",
        ct_start: str = "2020-01-01T00:00:00Z",
        rekor_start: str = "2020-01-01T00:00:00Z",
        rekor_details: str = "PKIX_ECDSA_P256_SHA_256",
        tlogs: bool = True,
    ) -> dict[str, Any]:
        def log(key: Any, details: str, start: str) -> dict[str, Any]:
            return {
                "baseUrl": "https://log.attestkit.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki(key)),
                    "keyDetails": details,
                    "validFor": {"start": start},
                },
                "logId": {"keyId": _b64(_key_id(key))},
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(self.rekor_key, rekor_details, rekor_start)] if tlogs else [],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "attestkit.test", "commonName": "attestkit-test"},
                    "uri": "https://ca.attestkit.test",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(self.root.public_bytes(serialization.Encoding.DER))}
                        ]
                    },
                    "validFor": {"start": ca_start},
                }
            ],
            "ctlogs": [log(self.ct_key, "PKIX_ECDSA_P256_SHA_256", ct_start)],
            "timestampAuthorities": [],
        }

    def root_variant(self, **kwargs: Any) -> TrustRoot:
        return TrustRoot.from_json(json.dumps(self.trusted_root(**kwargs)), source="forge")

    # -- certificates ----------------------------------------------------------
    def leaf(self, spec: LeafSpec) -> bytes:
        key = spec.key or self.leaf_key
        ku = x509.KeyUsage(
            digital_signature=spec.digital_signature,
            content_commitment=False,
            key_encipherment=not spec.digital_signature,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_utc(spec.not_before))
            .not_valid_after(_utc(spec.not_after))
            .add_extension(ku, critical=True)
        )
        if spec.eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(spec.eku), critical=False)
        builder = (
            builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier("https://github.com/o/r/.github/w.yml@main")]
                ),
                critical=True,
            )
            .add_extension(
                x509.UnrecognizedExtension(FULCIO_ISSUER_OID, b"https://issuer.attestkit.test"),
                critical=False,
            )
        )
        if spec.sct == "none":
            return builder.sign(self.ca_key, hashes.SHA256()).public_bytes(
                serialization.Encoding.DER
            )

        def with_sct(scts: list[bytes]) -> x509.Certificate:
            body = b"".join(len(s).to_bytes(2, "big") + s for s in scts)
            tls_list = len(body).to_bytes(2, "big") + body
            octets = b"\x04" + _der_len(len(tls_list)) + tls_list
            return builder.add_extension(
                x509.UnrecognizedExtension(SCT_OID, octets), critical=False
            ).sign(self.ca_key, hashes.SHA256())

        placeholder = self._sct(b"\x00" * 32, spec.not_before * 1000, b"\x30\x00")
        tbs = with_sct([placeholder]).tbs_precertificate_bytes
        issuer_hash = _key_id(self.ca_key.public_key())
        if spec.sct == "wrong-issuer-hash":
            issuer_hash = _key_id(self.stranger.public_key())
        timestamp = spec.not_before * 1000
        signed = (
            b"\x00\x00"
            + timestamp.to_bytes(8, "big")
            + b"\x00\x01"
            + issuer_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + b"\x00\x00"
        )
        signer = self.stranger if spec.sct == "unknown-key" else self.ct_key
        digest = hashes.SHA384() if spec.sct == "sha384" else hashes.SHA256()
        signature = signer.sign(signed, ec.ECDSA(digest))
        log_id = _key_id(self.ct_key)
        if spec.sct in ("unknown-key", "foreign-log-id"):
            log_id = hashlib.sha256(b"some other log").digest()
        sct = self._sct(log_id, timestamp, signature, hash_alg=5 if spec.sct == "sha384" else 4)
        cert = with_sct([sct, sct] if spec.sct == "two" else [sct])
        assert cert.tbs_precertificate_bytes == tbs
        return cert.public_bytes(serialization.Encoding.DER)

    @staticmethod
    def _sct(log_id: bytes, timestamp: int, signature: bytes, hash_alg: int = 4) -> bytes:
        return (
            b"\x00"
            + log_id
            + timestamp.to_bytes(8, "big")
            + b"\x00\x00"
            + bytes([hash_alg, 3])
            + len(signature).to_bytes(2, "big")
            + signature
        )

    # -- log entries -------------------------------------------------------------
    def checkpoint(self, header: str, signers: list[tuple[str, Any, bytes]]) -> str:
        lines = "".join(
            f"\u2014 {name} {_b64(hint + key.sign(header.encode(), ec.ECDSA(hashes.SHA256())))}\n"
            for name, key, hint in signers
        )
        return f"{header}\n{lines}"

    def entry(
        self,
        body: bytes,
        *,
        size: int = 7,
        position: int = 3,
        log_index: int = 1000,
        integrated_time: int = T0,
        kind: str = "dsse",
        version: str = "0.0.1",
        log_id: bytes | None = None,
        set_key: Any = None,
        set_index: int | None = None,
        checkpoint: Callable[[Forge, str, bytes], str] | None = None,
    ) -> dict[str, Any]:
        leaves = [f"other entry {i}".encode() for i in range(size)]
        leaves[position] = body
        root = _mth(leaves)
        log_id = log_id if log_id is not None else _key_id(self.rekor_key)
        header = f"{ORIGIN}\n{size}\n{_b64(root)}\n"
        note = (
            checkpoint(self, header, log_id)
            if checkpoint
            else self.checkpoint(header, [("rekor.attestkit.test", self.rekor_key, log_id[:4])])
        )
        set_payload = rfc8785.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated_time,
                "logID": log_id.hex(),
                "logIndex": log_index if set_index is None else set_index,
            }
        )
        promise = (set_key or self.rekor_key).sign(set_payload, ec.ECDSA(hashes.SHA256()))
        return {
            "logIndex": str(log_index),
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": _b64(promise)},
            "inclusionProof": {
                "logIndex": str(position),
                "rootHash": _b64(root),
                "treeSize": str(size),
                "hashes": [_b64(h) for h in _path(position, leaves)],
                "checkpoint": {"envelope": note},
            },
            "canonicalizedBody": _b64(body),
        }


def dsse_body(payload: bytes, signature: bytes, cert_der: bytes) -> dict[str, Any]:
    pem = x509.load_der_x509_certificate(cert_der).public_bytes(serialization.Encoding.PEM)
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": hashlib.sha256(b"envelope").hexdigest(),
            },
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": _b64(signature), "verifier": _b64(pem)}],
        },
    }


@pytest.fixture(scope="module")
def forge() -> Forge:
    return Forge()


def forged(
    forge: Forge,
    *,
    leaf: LeafSpec | None = None,
    payload: bytes = b'{"_type": "https://in-toto.io/Statement/v1"}',
    payload_type: str = INTOTO,
    sign: Callable[[str, bytes], bytes] = pae,
    body: Callable[[dict[str, Any]], Any] | None = None,
    raw_body: bytes | None = None,
    encode: Callable[[dict[str, Any]], bytes] = rfc8785.dumps,
    trust_root: TrustRoot | None = None,
    **entry: Any,
) -> Case:
    """A forged, valid case with the given deviations."""
    cert = forge.leaf_der if leaf is None else forge.leaf(leaf)
    key = (leaf.key if leaf is not None else None) or forge.leaf_key
    if isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = key.sign(sign(payload_type, payload), padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(sign(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    content = dsse_body(payload, signature, cert)
    if body is not None:
        edited = body(content)
        content = content if edited is None else edited
    encoded = raw_body if raw_body is not None else encode(content)
    return Case(
        trust_root=trust_root or forge.trust_root,
        certificate=cert,
        entry=LogEntry.from_dict(forge.entry(encoded, **entry)),
        payload=payload,
        signature=signature,
        payload_type=payload_type,
    )


def test_forged_baseline(forge: Forge) -> None:
    assert_both_accept(forged(forge))


@pytest.mark.parametrize(
    ("size", "position"), [(s, p) for s in (1, 2, 3, 4, 5, 8, 9, 13) for p in range(s)]
)
def test_forged_tree_shapes(forge: Forge, size: int, position: int) -> None:
    assert_both_accept(forged(forge, size=size, position=position))


def _walk(obj: Any, path: str) -> tuple[Any, Any]:
    """The container holding ``path`` (dotted; digits index arrays) and the last key."""
    *parents, last = path.split(".")
    for part in parents:
        obj = obj[int(part)] if part.isdigit() else obj[part]
    return obj, int(last) if last.isdigit() else last


def _pop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(obj: dict[str, Any]) -> None:
        container, key = _walk(obj, path)
        container.pop(key)

    return edit


def _put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(obj: dict[str, Any]) -> None:
        container, key = _walk(obj, path)
        container[key] = value

    return edit


def _proposed(obj: dict[str, Any]) -> None:
    obj["spec"]["proposedContent"] = {"envelope": "{}", "verifiers": ["AA=="]}


def _seq(*edits: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def edit(obj: dict[str, Any]) -> None:
        for e in edits:
            e(obj)

    return edit


def _other_verifier(obj: dict[str, Any]) -> None:
    other = real_case("pypi-publish").certificate
    pem = x509.load_der_x509_certificate(other).public_bytes(serialization.Encoding.PEM)
    obj["spec"]["signatures"][0]["verifier"] = _b64(pem)


def _bad_checkpoint_first(forge: Forge, header: str, log_id: bytes) -> str:
    """Two signatures with the right hint: sigstore uses only the first, which is invalid."""
    return forge.checkpoint(
        header, [("a", forge.stranger, log_id[:4]), ("b", forge.rekor_key, log_id[:4])]
    )


def _foreign_first(forge: Forge, header: str, log_id: bytes) -> str:
    return forge.checkpoint(
        header, [("a", forge.stranger, b"abcd"), ("b", forge.rekor_key, log_id[:4])]
    )


def _only_foreign(forge: Forge, header: str, log_id: bytes) -> str:
    return forge.checkpoint(header, [("a", forge.rekor_key, b"abcd")])


def _resized(forge: Forge, header: str, log_id: bytes) -> str:
    _origin, size, root, _ = header.split("\n")
    return forge.checkpoint(
        f"other origin\n{int(size) + 5}\n{root}\nTimestamp: 1\n",
        [("x", forge.rekor_key, log_id[:4])],
    )


def _other_root(forge: Forge, header: str, log_id: bytes) -> str:
    other = _b64(hashlib.sha256(b"another tree").digest())
    return forge.checkpoint(f"{ORIGIN}\n7\n{other}\n", [("x", forge.rekor_key, log_id[:4])])


def _no_final_newline(forge: Forge, header: str, log_id: bytes) -> str:
    return forge.checkpoint(header, [("x", forge.rekor_key, log_id[:4])])[:-1]


def _two_blank_lines(forge: Forge, header: str, log_id: bytes) -> str:
    return forge.checkpoint(header, [("x", forge.rekor_key, log_id[:4])]) + "\n\n"


def _short_header(forge: Forge, header: str, log_id: bytes) -> str:
    origin, size, _root, _ = header.split("\n")
    return forge.checkpoint(f"{origin}\n{size}\n", [("x", forge.rekor_key, log_id[:4])])


def _bad_size(forge: Forge, header: str, log_id: bytes) -> str:
    origin, _size, root, _ = header.split("\n")
    return forge.checkpoint(f"{origin}\nseven\n{root}\n", [("x", forge.rekor_key, log_id[:4])])


def _leading_space(forge: Forge, header: str, log_id: bytes) -> str:
    return forge.checkpoint(" " + header, [("x", forge.rekor_key, log_id[:4])])


def _hint_only_match(forge: Forge) -> bytes:
    return _key_id(forge.rekor_key)[:4] + hashlib.sha256(b"x").digest()[:28]


ACCEPT = None

#: (id, forged() arguments as a function of the forge, expected prefix or ACCEPT)
FORGED: list[tuple[str, Callable[[Forge], dict[str, Any]], str | None]] = [
    # body shapes rekor_types accepts
    ("body-schema1", lambda f: {"body": _seq(_proposed, _pop("spec.envelopeHash"))}, ACCEPT),
    ("body-both-schemas", lambda f: {"body": _proposed}, ACCEPT),
    ("body-defaults", lambda f: {"body": _seq(_pop("kind"), _pop("apiVersion"))}, ACCEPT),
    ("body-api-0.0.2", lambda f: {"body": _put("apiVersion", "0.0.2")}, ACCEPT),
    (
        "body-extra-fields",
        lambda f: {
            "body": _seq(
                _put("x", 1),
                _put("spec.y", [None]),
                _put("spec.signatures.0.z", "w"),
                _put("spec.payloadHash.q", True),
            )
        },
        ACCEPT,
    ),
    ("body-null-optionals", lambda f: {"body": _put("spec.proposedContent", None)}, ACCEPT),
    # body inconsistencies
    (
        "body-payload-hash",
        lambda f: {"body": _put("spec.payloadHash.value", "00" * 32)},
        "log entry payload hash does not match bundle",
    ),
    (
        "body-payload-hash-upper",
        lambda f: {
            "body": lambda b: _put(
                "spec.payloadHash.value", b["spec"]["payloadHash"]["value"].upper()
            )(b)
        },
        "log entry payload hash does not match bundle",
    ),
    (
        "body-payload-hash-alg",
        lambda f: {"body": _put("spec.payloadHash.algorithm", "sha512")},
        "invalid DSSE log entry",
    ),
    (
        "body-no-payload-hash",
        lambda f: {"body": _pop("spec.payloadHash")},
        "invalid DSSE log entry",
    ),
    (
        "body-schema1-no-payload-hash",
        lambda f: {"body": _seq(_proposed, _pop("spec.payloadHash"))},
        "invalid DSSE log entry",
    ),
    (
        "body-other-verifier",
        lambda f: {"body": _other_verifier},
        "log entry signatures do not match bundle",
    ),
    (
        "body-two-signatures",
        lambda f: {"body": lambda b: b["spec"]["signatures"].append(b["spec"]["signatures"][0])},
        "log entry signatures do not match bundle",
    ),
    (
        "body-signature-changed",
        lambda f: {"body": lambda b: _put("spec.signatures.0.signature", _b64(b"x"))(b)},
        "log entry signatures do not match bundle",
    ),
    (
        "body-no-signatures",
        lambda f: {"body": _seq(_proposed, _pop("spec.signatures"))},
        "log entry signatures do not match bundle",
    ),
    (
        "body-empty-signatures",
        lambda f: {"body": _put("spec.signatures", [])},
        "invalid DSSE log entry",
    ),
    (
        "body-signature-number",
        lambda f: {"body": _put("spec.signatures.0.verifier", 5)},
        "invalid DSSE log entry",
    ),
    (
        "body-bad-envelope-hash",
        lambda f: {"body": _put("spec.envelopeHash", {"value": "x"})},
        "invalid DSSE log entry",
    ),
    (
        "body-bad-proposed",
        lambda f: {"body": _put("spec.proposedContent", {"envelope": "{}"})},
        "invalid DSSE log entry",
    ),
    ("body-kind", lambda f: {"body": _put("kind", "hashedrekord")}, "invalid DSSE log entry"),
    ("body-api-version", lambda f: {"body": _put("apiVersion", "one")}, "invalid DSSE log entry"),
    ("body-no-spec", lambda f: {"body": _pop("spec")}, "invalid DSSE log entry"),
    ("body-not-json", lambda f: {"raw_body": b"{not json"}, "invalid DSSE log entry"),
    ("body-array", lambda f: {"raw_body": b"[]"}, "invalid DSSE log entry"),
    ("body-lone-surrogate", lambda f: {"raw_body": b'{"x":"\\ud800"}'}, "invalid DSSE log entry"),
    # entry kinds
    (
        "kind-hashedrekord",
        lambda f: {"kind": "hashedrekord"},
        "Unsupported DSSE log entry type: hashedrekord/0.0.1",
    ),
    ("kind-intoto", lambda f: {"kind": "intoto"}, "Unsupported DSSE log entry type: intoto/0.0.1"),
    (
        "dsse-0.0.2",
        lambda f: {"version": "0.0.2"},
        "an integrated time with an inclusion promise is a Rekor v1 entry's",
    ),
    # certificate profile and SCT
    (
        "leaf-no-sct",
        lambda f: {"leaf": LeafSpec(sct="none")},
        "failed to verify SCT on signing certificate: Certificate does not contain",
    ),
    (
        "leaf-two-scts",
        lambda f: {"leaf": LeafSpec(sct="two")},
        "failed to verify SCT on signing certificate: Expected one certificate timestamp, found 2",
    ),
    (
        "leaf-sct-unknown-key",
        lambda f: {"leaf": LeafSpec(sct="unknown-key")},
        "failed to verify SCT on signing certificate: SCT verify failed: keyring: invalid",
    ),
    (
        "leaf-sct-issuer-hash",
        lambda f: {"leaf": LeafSpec(sct="wrong-issuer-hash")},
        "failed to verify SCT on signing certificate: SCT verify failed",
    ),
    (
        "leaf-sct-sha384",
        lambda f: {"leaf": LeafSpec(sct="sha384")},
        "failed to verify SCT on signing certificate: Found unexpected hash algorithm",
    ),
    ("leaf-sct-foreign-log-id", lambda f: {"leaf": LeafSpec(sct="foreign-log-id")}, ACCEPT),
    (
        "leaf-no-digital-signature",
        lambda f: {"leaf": LeafSpec(digital_signature=False)},
        "Key usage is not of type `digital signature`",
    ),
    (
        "leaf-eku-client-auth",
        lambda f: {"leaf": LeafSpec(eku=[ExtendedKeyUsageOID.CLIENT_AUTH])},
        "Extended usage does not contain `code signing`",
    ),
    (
        "leaf-no-eku",
        lambda f: {"leaf": LeafSpec(eku=None)},
        "Extended usage does not contain `code signing`",
    ),
    ("leaf-expired", lambda f: {"leaf": LeafSpec(not_before=T0 - 700, not_after=T0 - 100)}, CHAIN),
    (
        "leaf-not-yet-valid",
        lambda f: {"leaf": LeafSpec(not_before=T0 + 1, not_after=T0 + 600)},
        CHAIN,
    ),
    (
        "leaf-p384",
        lambda f: {"leaf": LeafSpec(key=ec.generate_private_key(ec.SECP384R1()))},
        ACCEPT,
    ),
    (
        "leaf-rsa",
        lambda f: {
            "leaf": LeafSpec(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
        },
        "DSSE: signing key is not an ECDSA key",
    ),
    # DSSE PAE: lengths in characters, like sigstore-python
    ("pae-non-ascii-type", lambda f: {"payload_type": "application/t\u00fcp"}, ACCEPT),
    (
        "pae-byte-length",
        lambda f: {
            "payload_type": "application/t\u00fcp",
            "sign": lambda t, p: b"DSSEv1 %d %s %d %s" % (len(t.encode()), t.encode(), len(p), p),
        },
        "DSSE: invalid signature",
    ),
    # checkpoint parsing and key selection
    (
        "checkpoint-first-hint-invalid",
        lambda f: {"checkpoint": _bad_checkpoint_first},
        LOG + "checkpoint: invalid signature",
    ),
    ("checkpoint-foreign-first", lambda f: {"checkpoint": _foreign_first}, ACCEPT),
    (
        "checkpoint-only-foreign-hint",
        lambda f: {"checkpoint": _only_foreign},
        LOG + "checkpoint: Signature not found for log ID",
    ),
    ("checkpoint-origin-size-ignored", lambda f: {"checkpoint": _resized}, ACCEPT),
    ("checkpoint-leading-space", lambda f: {"checkpoint": _leading_space}, ACCEPT),
    (
        "checkpoint-other-root",
        lambda f: {"checkpoint": _other_root},
        LOG + "Inclusion proof contains invalid root hash signature",
    ),
    (
        "checkpoint-no-final-newline",
        lambda f: {"checkpoint": _no_final_newline},
        LOG + "malformed Note: data section must end with newline",
    ),
    (
        "checkpoint-two-blank-lines",
        lambda f: {"checkpoint": _two_blank_lines},
        LOG + "note must contain one blank line",
    ),
    (
        "checkpoint-short-header",
        lambda f: {"checkpoint": _short_header},
        LOG + "malformed LogCheckpoint: too few items in header",
    ),
    (
        "checkpoint-bad-size",
        lambda f: {"checkpoint": _bad_size},
        LOG + "malformed LogCheckpoint: invalid log size",
    ),
    # log keys: the log ID is only a hint
    ("log-id-hint-only", lambda f: {"log_id": _hint_only_match(f)}, ACCEPT),
    # An unknown log ID (with a matching checkpoint hint) falls back to every key.
    ("log-id-unknown", lambda f: {"log_id": hashlib.sha256(b"nobody").digest()}, ACCEPT),
    ("set-other-index", lambda f: {"set_index": 999}, LOG + "SET: invalid inclusion promise"),
    ("set-by-ct-key", lambda f: {"set_key": f.ct_key}, LOG + "SET: invalid inclusion promise"),
    ("sharded-index", lambda f: {"log_index": 123456789, "position": 2}, ACCEPT),
    # trust roots
    (
        "root-ct-key-future",
        lambda f: {"trust_root": f.root_variant(ct_start="2999-01-01T00:00:00Z")},
        "CTFE keys not found in trusted root",
    ),
    (
        "root-rekor-key-future",
        lambda f: {"trust_root": f.root_variant(rekor_start="2999-01-01T00:00:00Z")},
        "Did not find any Rekor keys in trusted root",
    ),
    (
        "root-ca-future",
        lambda f: {"trust_root": f.root_variant(ca_start="2999-01-01T00:00:00Z")},
        "Fulcio certificates not found in trusted root",
    ),
    (
        "root-rekor-key-unusable",
        lambda f: {"trust_root": f.root_variant(rekor_details="PKIX_ED25519")},
        LOG + "checkpoint: invalid signature",
    ),
    (
        "root-no-tlogs",
        lambda f: {"trust_root": f.root_variant(tlogs=False)},
        "trusted root contains no transparency log instances",
    ),
]


@pytest.mark.parametrize(("case_id", "make", "expected"), FORGED, ids=[c[0] for c in FORGED])
def test_forged_differential(
    forge: Forge, case_id: str, make: Callable[[Forge], dict[str, Any]], expected: str | None
) -> None:
    case = forged(forge, **make(forge))
    if expected is ACCEPT:
        assert_both_accept(case)
    else:
        assert_both_reject(case, expected)


#: Oddities attestkit refuses although sigstore-python accepts them (stricter, never looser).
STRICTER: list[tuple[str, dict[str, Any]]] = [
    # pydantic's populate_by_name also reads snake_case field names.
    (
        "body-snake-case",
        {"body": lambda b: b["spec"].__setitem__("payload_hash", b["spec"].pop("payloadHash"))},
    ),
    # Python's json and pydantic both read NaN; attestkit refuses JSON constants.
    ("body-nan", {"encode": lambda b: rfc8785.dumps(b)[:-1] + b',"y":NaN}'}),
    # pydantic decodes a valid escaped surrogate pair; attestkit refuses all surrogate escapes.
    (
        "body-escaped-surrogate-pair",
        {"encode": lambda b: rfc8785.dumps(b)[:-1] + b',"y":"\\ud83d\\ude00"}'},
    ),
]


@pytest.mark.parametrize(("case_id", "args"), STRICTER, ids=[c[0] for c in STRICTER])
def test_forged_stricter_than_sigstore(forge: Forge, case_id: str, args: dict[str, Any]) -> None:
    case = forged(forge, **args)
    assert case.outcome(verify_dsse_with_sigstore) is None, "sigstore now refuses this too"
    error = case.outcome(verify_dsse)
    assert error is not None
    assert str(error).startswith("invalid DSSE log entry")


def test_forged_identity_called_once_with_leaf(forge: Forge) -> None:
    seen: list[x509.Certificate] = []
    case = replace(forged(forge), identity=seen.append)
    for engine in ENGINES:
        seen.clear()
        case.run(engine)
        assert [c.public_bytes(serialization.Encoding.DER) for c in seen] == [case.certificate]


def test_forged_policy_not_consulted_before_sct(forge: Forge) -> None:
    seen: list[x509.Certificate] = []
    case = replace(forged(forge, leaf=LeafSpec(sct="none")), identity=seen.append)
    for engine in ENGINES:
        with pytest.raises(VerificationError):
            case.run(engine)
    assert seen == []


@pytest.mark.parametrize(
    ("key_usage", "bc_critical"), [(False, True), (True, False)], ids=["no-ku", "bc-noncrit"]
)
def test_forged_issuer_must_be_a_ca(key_usage: bool, bc_critical: bool) -> None:
    """Both engines refuse an issuer that is not a proper CA.

    The chain builder (webpki rules) already refuses it, so the SCT step's own
    ``cert_is_ca`` test is unreachable end to end; it is tested directly.
    """
    from attestkit.sigstore.verify.chain import _cert_is_ca

    weak = Forge(root_key_usage=key_usage, root_bc_critical=bc_critical)
    assert not _cert_is_ca(weak.root)
    assert _cert_is_ca(Forge().root)
    assert_both_reject(forged(weak), CHAIN)


def test_forged_precertificate_signing_issuer() -> None:
    """An issuer with the CT precertificate-signing EKU: the SCT issuer is the next one up."""
    forge = Forge(root_eku=[ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY])
    assert_both_reject(
        forged(forge), "failed to verify SCT on signing certificate: SCT verify: no issuer"
    )


def test_validity_step_is_inclusive() -> None:
    """Step 6 on its own (end to end, the chain check at the same time always fails first)."""
    from attestkit.sigstore.verify.chain import _check_validity

    cert = x509.load_der_x509_certificate(real_case("pypi-publish").certificate)
    _check_validity(cert, cert.not_valid_before_utc)
    _check_validity(cert, cert.not_valid_after_utc)
    for time in (
        cert.not_valid_before_utc - timedelta(seconds=1),
        cert.not_valid_after_utc + timedelta(seconds=1),
    ):
        with pytest.raises(VerificationError, match=r"^invalid signing cert: expired at time"):
            _check_validity(cert, time)


def test_forged_time_out_of_range(forge: Forge) -> None:
    case = forged(forge).with_entry(_put("integratedTime", str(2**62)))
    assert_both_reject(case, TIME)


def test_forged_mutations_agree(forge: Forge) -> None:
    """A sweep of byte flips over a forged entry: the engines agree on every one."""
    base = forged(forge)
    for path in (
        "inclusionPromise.signedEntryTimestamp",
        "canonicalizedBody",
        "logId.keyId",
        "inclusionProof.rootHash",
    ):
        for index in range(0, 64, 5):
            assert_agree(base.with_entry(_flip_at(path, index)))


def test_trust_root_for_each_case_is_forge(forge: Forge) -> None:
    """Guard: the forged cases really use the forged root (the real roots reject them)."""
    case = forged(forge)
    for root in (TrustRoot.production(), TrustRoot.staging()):
        assert_both_reject(replace(case, trust_root=root), CHAIN)


@pytest.mark.parametrize("name", MUTATED)
def test_an_altered_certificate_is_called_not_valid(name: str) -> None:
    """One flipped byte in the certificate's signature: "not valid", no word of timestamps."""
    case = real_case(name)
    error = assert_both_reject(
        replace(case, certificate=flip(case.certificate, len(case.certificate) - 1)), INVALID
    )
    assert "timestamp" not in str(error)
