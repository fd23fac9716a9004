"""Certificate checks of the engine: the chain to a Fulcio CA, the embedded SCT, the leaf profile.

Steps (1)-(3) of sigstore-python 4.5.1's ``Verifier`` (``sigstore/verify/verifier.py``,
``sigstore/_internal/sct.py``), on ``cryptography``'s X.509 policy builder."""

from __future__ import annotations

import hashlib
import struct
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

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

from attestkit.errors import VerificationError
from attestkit.sigstore.trust import TrustedKey, TrustRoot
from attestkit.sigstore.verify.keyring import keyring_verify

__all__ = ["verify_chain", "verify_sct"]

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


_CHAIN_ERRORS = (X509VerificationError, x509.UnsupportedGeneralNameType, ValueError, TypeError)


def _build(trust_root: TrustRoot, cert: x509.Certificate, time: datetime) -> list[x509.Certificate]:
    ca_policy, ee_policy = _extension_policies()
    verifier = (
        PolicyBuilder()
        .store(trust_root.store)
        .time(time)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    # The built chain starts with the leaf, which callers omit.
    return list(verifier.verify(cert, []).chain[1:])


def verify_chain(
    trust_root: TrustRoot, cert: x509.Certificate, time: datetime
) -> list[x509.Certificate]:
    """The chain from ``cert`` (excluded) to a Fulcio root of ``trust_root``, valid at ``time``."""
    try:
        return _build(trust_root, cert, time)
    except _CHAIN_ERRORS as e:
        raise VerificationError(_chain_failure(trust_root, cert, time, e)) from None


def _chain_failure(
    trust_root: TrustRoot, cert: x509.Certificate, time: datetime, error: Exception
) -> str:
    """Why the certificate did not chain, in the user's terms (computed only on failure).

    One that chains under the other embedded root (production or staging) was
    verified against the wrong one, which is said.  One whose issuer is one of the
    root's CAs (same key identifier) but whose signature does not verify under it
    was altered.  (Production's and staging's intermediates share a name, so the
    name alone would not tell.)
    """
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (
        f"the signing certificate does not chain to a Fulcio root of {trust_root.name}"
        f" at {when}: {error}"
    )
    other = {"production": "staging", "staging": "production"}.get(trust_root.name)
    if other is not None:
        alternative = TrustRoot.staging() if other == "staging" else TrustRoot.production()
        try:
            _build(alternative, cert, time)
        except _CHAIN_ERRORS:
            pass
        else:
            flag = "--staging" if other == "staging" else "the default (production) root"
            return f"{text}; it does chain to Sigstore's {other} instance: verify with {flag}"
    issuer_key = _key_identifier(cert, x509.AuthorityKeyIdentifier)
    for ca in trust_root.fulcio_certs:
        if issuer_key is None or issuer_key != _key_identifier(ca, x509.SubjectKeyIdentifier):
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            return (
                "the signing certificate is not valid: its signature does not verify under"
                f" its issuer {cert.issuer.rfc4514_string()} ({error})"
            )
    return text


def _key_identifier(
    cert: x509.Certificate,
    kind: type[x509.AuthorityKeyIdentifier] | type[x509.SubjectKeyIdentifier],
) -> bytes | None:
    """A certificate's authority (issuer's) or subject key identifier, if it has one."""
    try:
        value = cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return value.digest


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
        keyring_verify(ct_keyring, sct.log_id, sct.signature, digitally_signed)
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
