"""attestkit's own Sigstore verification engine for DSSE signatures with a Rekor v1 entry.

What it is for: verifying a PEP 740 attestation's signature (a DSSE envelope
over an in-toto statement, a Fulcio certificate and a Rekor v1 ``dsse`` log
entry) against a :class:`~attestkit.sigstore.trust.TrustRoot`, entirely offline.

Why it is hand-written: importing sigstore-python costs ~225 ms, and the CLI
must verify an attestation in well under 200 ms in total.  This module is built
directly on ``cryptography`` (the same primitives sigstore-python uses,
including ``PolicyBuilder`` with the same extension policies) and mirrors
sigstore-python 4.5.1 ``Verifier.verify_dsse`` check for check, in the same
order, with the same parsing rules for checkpoints, SCTs and Merkle proofs
(``verify/verifier.py``, ``_internal/sct.py``, ``_internal/merkle.py``,
``_internal/rekor/checkpoint.py``, ``models.py``).  It never accepts what
sigstore-python rejects; ``tests/sigstore/verify/test_engine.py`` checks that
differentially against :mod:`attestkit.sigstore.verify.backend`.  Deliberate
differences, all in the direction of refusing more: malformed inputs that make
sigstore-python crash with an unrelated exception are refused here with a
:class:`VerificationError`, and the Rekor body is parsed more strictly than
pydantic does (no snake_case field names, no ``NaN``-style constants, no
escaped UTF-16 surrogates), see :func:`_dsse_body`.

Checks, in order (the step numbers are sigstore's):

0. a verified time: ``integratedTime`` backed by an ``inclusionPromise``, for
   ``dsse``/``hashedrekord`` 0.0.1 only;
1. the certificate chains to a Fulcio anchor at that time;
2. the embedded SCT verifies against a CT log key;
3. KeyUsage ``digitalSignature``, EKU ``codeSigning``, then the caller's identity check;
4. the RFC 6962 inclusion proof and the signed checkpoint;
5. the signed entry timestamp (SET);
6. the time lies within the certificate's validity;
7. the DSSE signature (ECDSA with SHA-256 over the PAE);
8. the log entry body matches the payload, the signature and the certificate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.certificate_transparency import LogEntryType, SignedCertificateTimestamp
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
)
from cryptography.x509.verification import VerificationError as X509VerificationError

from attestkit.core.certificate import load_certificate
from attestkit.core.log_entry import LogEntry
from attestkit.errors import InputError, VerificationError
from attestkit.sigstore.trust import TrustedKey, TrustRoot

__all__ = [
    "VerifiedSignature",
    "leaf_hash",
    "node_hash",
    "pae",
    "verify_chain",
    "verify_checkpoint",
    "verify_dsse",
    "verify_inclusion",
    "verify_sct",
]

#: Log entry kinds whose ``integratedTime`` counts as a verified time (with a promise).
_TIMED_KINDS: Final = frozenset({"dsse", "hashedrekord"})
#: Signed-note signature lines, as sigstore parses them.
_NOTE_SIGNATURE: Final = re.compile("\u2014 (\\S+) (\\S+)\n")
#: ``apiVersion`` pattern of rekor_types' proposed entries (semver).
_SEMVER: Final = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
#: A JSON ``\\uD800``-``\\uDFFF`` escape (surrogates; see :func:`_dsse_body`).
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """The result of a successful verification."""

    #: The verified signing time (Rekor's integrated time), UTC.
    time: datetime
    #: The signing certificate, chained to the trust root and checked by the identity check.
    certificate: x509.Certificate
    #: The verified log entry.
    entry: LogEntry


def verify_dsse(
    trust_root: TrustRoot,
    certificate_der: bytes,
    entry: LogEntry,
    payload: bytes,
    payload_type: str,
    signature: bytes,
    check_identity: Callable[[x509.Certificate], None],
) -> VerifiedSignature:
    """Verify a DSSE signature, its Fulcio certificate and its Rekor v1 log entry.

    Mirrors sigstore-python 4.5.1 ``Verifier.verify_dsse`` (see the module
    docstring for the steps).  ``check_identity`` is called with the
    certificate once it is known to chain to the trust root, to carry its SCT
    and to be a code-signing certificate; whatever it raises propagates
    unchanged.  Every other failure raises
    :class:`~attestkit.errors.VerificationError` with a one-line message.
    """
    # What sigstore's ``Verifier.__init__`` and ``Bundle._verify`` refuse up front.
    if not trust_root.fulcio_certs:
        raise VerificationError("Fulcio certificates not found in trusted root")
    if not trust_root.tlog_count:
        raise VerificationError("trusted root contains no transparency log instances")
    try:
        cert = load_certificate(certificate_der, what="signing certificate")
    except InputError as exc:
        raise VerificationError(exc.reason) from None
    if entry.kind_version not in ("0.0.1", "0.0.2"):
        raise VerificationError(
            f"Expected log entry version 0.0.1 - 0.0.2, got {entry.kind_version}"
        )
    if entry.inclusion_proof is None:
        raise VerificationError(
            "log entry has no inclusion proof (a checkpointed proof is required)"
        )
    if entry.inclusion_promise is None:
        raise VerificationError(
            "not enough sources of verified time: the log entry has no inclusion promise"
        )

    # (0) Establish the time: integratedTime, bound by the inclusion promise.
    if not entry.integrated_time:
        raise VerificationError("not enough sources of verified time")
    if not (entry.kind in _TIMED_KINDS and entry.kind_version == "0.0.1"):
        raise VerificationError("Integrated time only supported for dsse/hashedrekord 0.0.1 types")
    try:
        time = datetime.fromtimestamp(entry.integrated_time, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise VerificationError(
            f"not enough sources of verified time: integrated time {entry.integrated_time} "
            "is out of range"
        ) from None

    # (1) + (2) The certificate chains to the Fulcio roots at that time, and its SCT.
    _verify_certificate(trust_root, cert, certificate_der, time)

    # (3) The Sigstore X.509 profile, then the caller's identity policy.
    _check_profile(cert)
    check_identity(cert)

    # (4) + (5) Inclusion proof, signed checkpoint and signed entry timestamp.
    if not trust_root.rekor_key_count:
        raise VerificationError("Did not find any Rekor keys in trusted root")
    try:
        _verify_log_entry(entry, trust_root.rekor_keyring)
    except VerificationError as exc:
        raise VerificationError(f"invalid log entry: {exc}") from None

    # (6) The established time lies within the certificate's validity.
    _check_validity(cert, time)

    # (7) The DSSE signature over the PAE.
    _verify_dsse_signature(cert, payload, payload_type, signature)

    # (8) The log entry body matches the envelope and the certificate.
    if entry.kind == "dsse" and entry.kind_version == "0.0.1":
        _check_dsse_body(entry.canonicalized_body, cert, payload, signature)
    else:
        # hashedrekord 0.0.2 (Rekor v2) needs a TSA time, so step 0 already refused it.
        raise VerificationError(
            f"Unsupported DSSE log entry type: {entry.kind}/{entry.kind_version}"
        )
    return VerifiedSignature(time=time, certificate=cert, entry=entry)


# -- (1) chain ------------------------------------------------------------------

#: Certificates already known to chain (with a valid SCT) to a trust root at a given
#: second.  One signing run shares one certificate across all its attestations, so
#: verifying a release re-checks the same (certificate, time) pair many times; the
#: checks are deterministic for the same bytes against an immutable trust root, and
#: only successes are remembered.
_CHECKED: weakref.WeakKeyDictionary[TrustRoot, dict[tuple[bytes, int], None]] = (
    weakref.WeakKeyDictionary()
)
_CHECKED_MAX = 256


def _verify_certificate(
    trust_root: TrustRoot, cert: x509.Certificate, der: bytes, time: datetime
) -> None:
    """Steps (1) and (2), skipped when this exact pair already passed them."""
    checked = _CHECKED.setdefault(trust_root, {})
    key = (der, int(time.timestamp()))
    if key in checked:
        return
    chain = verify_chain(trust_root, cert, time)
    if not trust_root.ct_key_count:
        raise VerificationError("CTFE keys not found in trusted root")
    try:
        verify_sct(cert, chain, trust_root.ct_keyring)
    except VerificationError as exc:
        raise VerificationError(f"failed to verify SCT on signing certificate: {exc}") from None
    if len(checked) >= _CHECKED_MAX:
        checked.clear()
    checked[key] = None


@cache
def _extension_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """webpki defaults with EKU relaxed to "may be present", exactly as sigstore builds them."""
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    return ca_policy, ee_policy


def verify_chain(
    trust_root: TrustRoot, cert: x509.Certificate, time: datetime
) -> list[x509.Certificate]:
    ca_policy, ee_policy = _extension_policies()
    try:
        verifier = (
            PolicyBuilder()
            .store(trust_root.store)
            .time(time)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        # The built chain starts with the leaf, which callers omit.
        return list(verifier.verify(cert, []).chain[1:])
    except (X509VerificationError, x509.UnsupportedGeneralNameType, ValueError, TypeError) as e:
        raise VerificationError(f"failed to build timestamp certificate chain: {e}") from None


# -- (2) SCT (sigstore/_internal/sct.py) ------------------------------------------


def verify_sct(
    cert: x509.Certificate, chain: list[x509.Certificate], ct_keyring: Mapping[bytes, TrustedKey]
) -> None:
    try:
        scts = cert.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        ).value
    except x509.ExtensionNotFound:
        raise VerificationError(
            "Certificate does not contain a signed certificate timestamp extension"
        ) from None
    if len(scts) != 1:
        raise VerificationError(f"Expected one certificate timestamp, found {len(scts)}")
    sct: SignedCertificateTimestamp = scts[0]

    issuer_key_id = None
    if sct.entry_type == LogEntryType.PRE_CERTIFICATE:
        try:
            issuer = chain[1] if _is_preissuer(chain[0]) else chain[0]
        except IndexError:
            raise VerificationError("SCT verify: no issuer certificate in the chain") from None
        try:
            issuer_pubkey = issuer.public_key()
        except (UnsupportedAlgorithm, ValueError):
            raise VerificationError("SCT verify: unsupported issuer public key") from None
        if not _cert_is_ca(issuer):
            raise VerificationError("SCT verify: Invalid issuer pubkey basicConstraint (not a CA)")
        if not isinstance(issuer_pubkey, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise VerificationError("SCT verify: invalid issuer pubkey format (not ECDSA or RSA)")
        issuer_key_id = hashlib.sha256(
            issuer_pubkey.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).digest()

    digitally_signed = _pack_digitally_signed(sct, cert, issuer_key_id)

    if not isinstance(sct.signature_hash_algorithm, hashes.SHA256):
        raise VerificationError(
            "Found unexpected hash algorithm in SCT: only SHA256 is supported "
            f"(got {sct.signature_hash_algorithm.name})"
        )
    try:
        _keyring_verify(ct_keyring, sct.log_id, sct.signature, digitally_signed)
    except VerificationError as exc:
        raise VerificationError(f"SCT verify failed: {exc}") from None


def _is_preissuer(issuer: x509.Certificate) -> bool:
    try:
        eku = issuer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY in eku


def _cert_is_ca(cert: x509.Certificate) -> bool:
    """sigstore's ``_cert_is_ca``: ``cert_is_ca`` with its errors read as "not a CA"."""
    if cert.version != x509.Version.v3:
        return False
    try:
        bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    except x509.ExtensionNotFound:
        return False
    if not bc.critical:
        return False
    try:
        ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    except x509.ExtensionNotFound:
        return False
    ca = bool(getattr(bc.value, "ca", False))
    key_cert_sign = bool(getattr(ku.value, "key_cert_sign", False))
    return ca and key_cert_sign


def _pack_digitally_signed(
    sct: SignedCertificateTimestamp, cert: x509.Certificate, issuer_key_id: bytes | None
) -> bytes:
    """The RFC 6962 ``digitally-signed`` struct an SCT signs, packed as sigstore packs it."""
    fields: list[Any] = []
    if sct.entry_type == LogEntryType.X509_CERTIFICATE:
        pack_format = "!BBB{cert_der_len}s"
        cert_der = cert.public_bytes(serialization.Encoding.DER)
    elif sct.entry_type == LogEntryType.PRE_CERTIFICATE:
        if not issuer_key_id or len(issuer_key_id) != 32:
            raise VerificationError("API misuse: issuer key ID missing")
        pack_format = "!32sBBB{cert_der_len}s"
        try:
            cert_der = cert.tbs_precertificate_bytes
        except ValueError as exc:
            raise VerificationError(f"cannot rebuild the precertificate: {exc}") from None
        fields.append(issuer_key_id)
    else:
        raise VerificationError(f"unknown SCT log entry type: {sct.entry_type!r}")

    if len(cert_der) >= 1 << 24:
        raise VerificationError(f"Unexpectedly large certificate length: {len(cert_der)}")
    length = len(cert_der).to_bytes(3, "big")
    fields.extend((length[0], length[1], length[2], cert_der))
    signed_entry = struct.pack(pack_format.format(cert_der_len=len(cert_der)), *fields)

    # Milliseconds computed exactly as sigstore does (through a float).
    timestamp = sct.timestamp.replace(tzinfo=UTC)
    try:
        return struct.pack(
            f"!BBQH{len(signed_entry)}sH{len(sct.extension_bytes)}s",
            sct.version.value,
            0,  # signature_type: certificate_timestamp
            int(timestamp.timestamp() * 1000),
            sct.entry_type.value,
            signed_entry,
            len(sct.extension_bytes),
            sct.extension_bytes,
        )
    except (struct.error, OverflowError) as exc:
        raise VerificationError(f"cannot encode the SCT: {exc}") from None


# -- (3) certificate profile ------------------------------------------------------


def _check_profile(cert: x509.Certificate) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise VerificationError("Key usage is not of type `digital signature`") from None
    if not usage.digital_signature:
        raise VerificationError("Key usage is not of type `digital signature`")
    try:
        extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise VerificationError("Extended usage does not contain `code signing`") from None
    if ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise VerificationError("Extended usage does not contain `code signing`")


def _check_validity(cert: x509.Certificate, time: datetime) -> None:
    """Step 6; redundant with the chain check at ``time``, kept as sigstore keeps it."""
    if not (cert.not_valid_before_utc <= time <= cert.not_valid_after_utc):
        raise VerificationError(
            f"invalid signing cert: expired at time of signing, time via transparency "
            f"service {time.isoformat()}"
        )


# -- keyrings (sigstore/_internal/trust.py Keyring.verify) ----------------------


def _keyring_verify(
    keyring: Mapping[bytes, TrustedKey], key_id: bytes, signature: bytes, data: bytes
) -> None:
    """Verify with the key named by ``key_id``, or with every key if none is named so.

    ``key_id`` is an unauthenticated hint.  Only ``InvalidSignature`` moves on
    to the next candidate; any other failure rejects at once, as in sigstore.
    """
    key = keyring.get(key_id)
    candidates = [key] if key is not None else list(keyring.values())
    for candidate in candidates:
        try:
            candidate.verify(signature, data)
        except InvalidSignature:
            continue
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise VerificationError("keyring: invalid signature") from None
        return
    raise VerificationError("keyring: invalid signature")


# -- (4) + (5) log entry (models.py TransparencyLogEntry._verify) ------------------


def _verify_log_entry(entry: LogEntry, keyring: Mapping[bytes, TrustedKey]) -> None:
    proof = entry.inclusion_proof
    if proof is None:  # checked by the caller; kept for direct use
        raise VerificationError("entry must contain inclusion proof, with checkpoint")
    verify_inclusion(
        proof.log_index,
        proof.tree_size,
        leaf_hash(entry.canonicalized_body),
        proof.hashes,
        proof.root_hash,
    )
    verify_checkpoint(proof.checkpoint, entry.log_id, proof.root_hash, keyring)
    if entry.inclusion_promise is not None and entry.integrated_time:
        _verify_set(entry, entry.inclusion_promise, keyring)


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify an RFC 6962 inclusion proof of ``leaf`` (a leaf hash) at ``index`` of ``size``.

    The algorithm and length check of sigstore's ``merkle.py`` (after
    Trillian), plus sigstore-models' ``logIndex < treeSize`` rule.  Raises
    :class:`~attestkit.errors.VerificationError`.
    """
    if index < 0 or size <= index:
        raise VerificationError(f"logIndex {index} must be less than treeSize {size}")
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    if len(proof) != inner + border:
        raise VerificationError(
            f"inclusion proof has wrong size: expected {inner + border}, got {len(proof)}"
        )
    seed = leaf
    for i, h in enumerate(proof[:inner]):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    for h in proof[inner:]:
        seed = node_hash(h, seed)
    if seed != root:
        raise VerificationError(
            f"inclusion proof contains invalid root hash: expected {root.hex()}, "
            f"calculated {seed.hex()}"
        )


def verify_checkpoint(
    text: str, log_id: bytes, root_hash: bytes, keyring: Mapping[bytes, TrustedKey]
) -> None:
    """Verify a Rekor checkpoint (a signed note) and that it commits to ``root_hash``.

    Parsing follows sigstore's ``checkpoint.py`` exactly: one blank line, the
    signature lines ``— name base64``, a header of at least origin, size and
    root hash; the signature used is the first whose 4-byte hint equals
    ``log_id[:4]``.  Origin and size are not compared (sigstore does not).
    """
    # SignedNote.from_text
    separator = "\n\n"
    if text.count(separator) != 1:
        raise VerificationError(
            "note must contain one blank line, delineating the text from the signature block"
        )
    split = text.index(separator)
    header = text[: split + 1]
    data = text[split + len(separator) :]
    if not data:
        raise VerificationError("malformed Note: must contain at least one signature")
    if data[-1] != "\n":
        raise VerificationError("malformed Note: data section must end with newline")
    signatures: list[tuple[bytes, bytes]] = []
    for _name, sig_text in _NOTE_SIGNATURE.findall(data):
        try:
            raw = base64.b64decode(sig_text)
        except (binascii.Error, ValueError):
            raise VerificationError("malformed Note: signature is not base64") from None
        if len(raw) < 5:
            raise VerificationError("malformed Note: signature contains too few bytes")
        signatures.append((raw[:4], raw[4:]))

    # LogCheckpoint.from_text
    lines = header.strip().split("\n")
    if len(lines) < 3:
        raise VerificationError("malformed LogCheckpoint: too few items in header")
    if not lines[0]:
        raise VerificationError("malformed LogCheckpoint: empty origin")
    try:
        int(lines[1])
    except ValueError:
        raise VerificationError("malformed LogCheckpoint: invalid log size") from None
    try:
        checkpoint_hash = base64.b64decode(lines[2])
    except (binascii.Error, ValueError):
        raise VerificationError("malformed LogCheckpoint: invalid root hash") from None

    # SignedNote.verify
    try:
        note = header.encode()
    except UnicodeEncodeError:
        raise VerificationError("malformed Note: text is not encodable as UTF-8") from None
    for hint, signature in signatures:
        if hint == log_id[:4]:
            try:
                _keyring_verify(keyring, log_id, signature, note)
            except VerificationError as exc:
                raise VerificationError(f"checkpoint: invalid signature: {exc}") from None
            break
    else:
        raise VerificationError(f"checkpoint: Signature not found for log ID {log_id.hex()}")

    if checkpoint_hash != root_hash:
        raise VerificationError(
            "Inclusion proof contains invalid root hash signature: "
            f"expected {checkpoint_hash.hex()} got {root_hash.hex()}"
        )


def _verify_set(entry: LogEntry, promise: bytes, keyring: Mapping[bytes, TrustedKey]) -> None:
    payload: dict[str, str | int] = {
        "body": base64.b64encode(entry.canonicalized_body).decode(),
        "integratedTime": entry.integrated_time,
        "logID": entry.log_id.hex(),
        "logIndex": entry.log_index,
    }
    try:
        canonical = rfc8785.dumps(payload)
    except rfc8785.CanonicalizationError as exc:
        raise VerificationError(f"SET: invalid inclusion promise: {exc}") from None
    try:
        _keyring_verify(keyring, entry.log_id, promise, canonical)
    except VerificationError as exc:
        raise VerificationError(f"SET: invalid inclusion promise: {exc}") from None


# -- (7) DSSE signature (sigstore/dsse) ------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, byte for byte as sigstore-python builds it.

    Note: like sigstore-python, the type's length is its length in characters.
    """
    return f"DSSEv1 {len(payload_type)} {payload_type} ".encode() + b" ".join(
        [str(len(payload)).encode(), payload]
    )


def _verify_dsse_signature(
    cert: x509.Certificate, payload: bytes, payload_type: str, signature: bytes
) -> None:
    if not signature:
        raise VerificationError("DSSE: envelope signature must be non-empty")
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        raise VerificationError("DSSE: unsupported signing key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise VerificationError("DSSE: signing key is not an ECDSA key")
    try:
        message = pae(payload_type, payload)
    except UnicodeEncodeError:
        raise VerificationError("DSSE: payload type is not encodable as UTF-8") from None
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VerificationError("DSSE: invalid signature") from None


# -- (8) body consistency (verifier.py _validate_dsse_v001_entry_body) ------------


def _check_dsse_body(body: bytes, cert: x509.Certificate, payload: bytes, signature: bytes) -> None:
    spec = _dsse_body(body)
    payload_hash = spec.get("payloadHash")
    if payload_hash is None:
        raise VerificationError("invalid DSSE log entry: no payloadHash")
    # The algorithm was validated as "sha256" by _dsse_body.
    if hashlib.sha256(payload).hexdigest() != payload_hash["value"]:
        raise VerificationError("log entry payload hash does not match bundle")
    expected = [
        {
            "signature": base64.b64encode(signature).decode(),
            "verifier": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode(),
        }
    ]
    actual = spec.get("signatures")
    if (
        actual is None
        or [{"signature": s["signature"], "verifier": s["verifier"]} for s in actual] != expected
    ):
        raise VerificationError("log entry signatures do not match bundle")


def _dsse_body(body: bytes) -> dict[str, Any]:
    """Parse a dsse 0.0.1 body as ``rekor_types.Dsse`` would, or stricter; return its spec.

    rekor_types (pydantic) validates ``kind`` (default "dsse"), ``apiVersion``
    (semver, default "0.0.1") and ``spec`` as one of two schemas: with a valid
    ``proposedContent``, or with ``signatures``, ``envelopeHash`` and
    ``payloadHash``; extra fields are ignored.  Stricter here: snake_case
    spellings, JSON constants such as ``NaN`` and escaped surrogates are
    refused rather than second-guessing how pydantic would resolve them.
    """

    def bad(reason: str) -> VerificationError:
        return VerificationError(f"invalid DSSE log entry: {reason}")

    if _SURROGATE_ESCAPE.search(body):
        raise bad("escaped UTF-16 surrogate in the body")
    try:
        obj = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise bad("body is not a JSON object")
    if "api_version" in obj:
        raise bad("ambiguous field 'api_version'")
    if obj.get("kind", "dsse") != "dsse":
        raise bad(f"kind is {obj.get('kind')!r}, not 'dsse'")
    api_version = obj.get("apiVersion", "0.0.1")
    if not isinstance(api_version, str) or not _SEMVER.match(api_version):
        raise bad("apiVersion is not a version string")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise bad("spec is not an object")
    for snake in ("proposed_content", "envelope_hash", "payload_hash"):
        if snake in spec:
            raise bad(f"ambiguous field {snake!r}")

    proposed = spec.get("proposedContent")
    if proposed is not None:
        if not isinstance(proposed, dict) or not isinstance(proposed.get("envelope"), str):
            raise bad("proposedContent.envelope must be a string")
        verifiers = proposed.get("verifiers")
        if (
            not isinstance(verifiers, list)
            or not verifiers
            or not all(isinstance(v, str) for v in verifiers)
        ):
            raise bad("proposedContent.verifiers must be a non-empty array of strings")
    signatures = spec.get("signatures")
    if signatures is not None:
        if not isinstance(signatures, list) or not signatures:
            raise bad("signatures must be a non-empty array")
        for sig in signatures:
            if not (
                isinstance(sig, dict)
                and isinstance(sig.get("signature"), str)
                and isinstance(sig.get("verifier"), str)
            ):
                raise bad("each signature needs string signature and verifier")
    for key in ("envelopeHash", "payloadHash"):
        value = spec.get(key)
        if value is not None and not (
            isinstance(value, dict)
            and value.get("algorithm") == "sha256"
            and isinstance(value.get("value"), str)
        ):
            raise bad(f"{key} must be a sha256 hash with a string value")
    complete = signatures is not None and all(
        spec.get(k) is not None for k in ("envelopeHash", "payloadHash")
    )
    if proposed is None and not complete:
        raise bad("spec matches neither DSSE v0.0.1 schema")
    return spec


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")
