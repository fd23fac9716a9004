"""Sigstore trust roots (``TrustedRoot``) for attestkit's own verification engine.

A :class:`TrustRoot` holds what :mod:`attestkit.sigstore.verify.engine` checks against:
the Fulcio CA certificates, the Rekor (transparency log) keys and the CT log
keys that sign SCTs.  It reads the production and staging roots attestkit
ships (:mod:`attestkit.sigstore.roots`, the files Sigstore publishes through
TUF), or any ``TrustedRoot`` / ``ClientTrustConfig`` JSON file.

Why hand-written: importing sigstore-python costs ~225 ms, more than the whole
CLI budget, so attestkit parses the trusted root itself.  The selection rules
mirror sigstore-python 4.5.1 (``sigstore/_internal/trust.py``, ``models.py``),
and the result is tested differentially against it:

* every certificate of every ``certificateAuthorities`` entry whose
  ``validFor.start`` is not in the future becomes a trust anchor
  (``validFor.end`` is ignored: expired CAs still verify old signatures);
* ``tlogs`` / ``ctlogs`` keys whose ``validFor.start`` is not in the future are
  kept, indexed by SHA-256 of their DER SubjectPublicKeyInfo (computed here,
  never read from ``logId``); keys sigstore cannot use (an unsupported
  ``keyDetails``, undecodable DER, or a key type that contradicts
  ``keyDetails``) are skipped, exactly like sigstore's ``Keyring``.

The structure is validated as strictly as sigstore-models does it (unknown
fields rejected, camelCase or snake_case names, the trusted-root media type
``...trustedroot+json;version=0.1`` only), and base64 strictly as everywhere in
attestkit.  Nothing is ever written to disk: the shipped roots are read in
place with ``importlib.resources``.

``cryptography`` is imported inside functions only, so importing this module
stays cheap.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from attestkit.core.encoding import b64decode, json_type, loads_json, read_bytes
from attestkit.errors import InputError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.hashes import HashAlgorithm
    from cryptography.x509.verification import Store

    from attestkit.sigstore.roots import Instance

    PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey
from attestkit.sigstore.schema import _fields, _list, _string, _time_range

__all__ = [
    "CLIENT_TRUST_CONFIG_MEDIA_TYPE",
    "PRODUCTION_TUF_URL",
    "STAGING_TUF_URL",
    "TRUSTED_ROOT_MEDIA_TYPE",
    "TimestampAuthority",
    "TrustRoot",
    "TrustedKey",
]

#: The only TrustedRoot media type sigstore-python 4.5.1 accepts.
TRUSTED_ROOT_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
#: The ClientTrustConfig media type (a TrustedRoot plus a SigningConfig).
CLIENT_TRUST_CONFIG_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
#: TUF repositories whose trusted roots sigstore-python embeds in its wheel.
PRODUCTION_TUF_URL: Final = "https://tuf-repo-cdn.sigstore.dev"
STAGING_TUF_URL: Final = "https://tuf-repo-cdn.sigstage.dev"

#: ``PublicKeyDetails`` values sigstore-models knows (anything else is a schema error).
_KNOWN_KEY_DETAILS: Final = frozenset(
    {
        "PKCS1_RSA_PKCS1V5",
        "PKCS1_RSA_PSS",
        "PKIX_RSA_PKCS1V5",
        "PKIX_RSA_PSS",
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        "PKIX_RSA_PKCS1V15_4096_SHA256",
        "PKIX_RSA_PSS_2048_SHA256",
        "PKIX_RSA_PSS_3072_SHA256",
        "PKIX_RSA_PSS_4096_SHA256",
        "PKIX_ECDSA_P256_HMAC_SHA_256",
        "PKIX_ECDSA_P256_SHA_256",
        "PKIX_ECDSA_P384_SHA_384",
        "PKIX_ECDSA_P521_SHA_512",
        "PKIX_ED25519",
        "PKIX_ED25519_PH",
        "PKIX_ECDSA_P384_SHA_256",
        "PKIX_ECDSA_P521_SHA_256",
        "LMS_SHA256",
        "LMOTS_SHA256",
        "ML_DSA_65",
        "ML_DSA_87",
    }
)
#: keyDetails sigstore's ``Key`` can verify with: RSA PKCS#1 v1.5 + SHA-256 ...
_RSA_SHA256_DETAILS: Final = frozenset(
    {
        "PKCS1_RSA_PKCS1V5",
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        "PKIX_RSA_PKCS1V15_4096_SHA256",
    }
)
#: ... ECDSA with the hash named here (the curve itself is not checked, as in sigstore) ...
_EC_DETAILS_HASH: Final = {
    "PKIX_ECDSA_P256_SHA_256": "sha256",
    "PKIX_ECDSA_P384_SHA_384": "sha384",
    "PKIX_ECDSA_P521_SHA_512": "sha512",
}
#: ... and pure Ed25519.
_ED25519_DETAILS: Final = "PKIX_ED25519"

_HASH_ALGORITHMS: Final = frozenset({"SHA2_256", "SHA2_384", "SHA2_512", "SHA3_256", "SHA3_384"})


@dataclass(frozen=True, slots=True, eq=False)
class TrustedKey:
    """One usable log key: the public key and the signature scheme its ``keyDetails`` names."""

    #: SHA-256 of the DER SubjectPublicKeyInfo (RFC 6962 key ID).
    key_id: bytes
    public_key: PublicKey
    key_details: str
    #: The hash the scheme uses; ``None`` for Ed25519.
    hash_algorithm: HashAlgorithm | None
    #: The log's ``baseUrl`` in the trusted root (where its entries can be looked up).
    base_url: str = ""
    #: The log's ``logId`` in the trusted root; for a Rekor v2 log it is not :attr:`key_id`.
    log_id: bytes = b""

    def verify(self, signature: bytes, data: bytes) -> None:
        """Verify ``signature`` over ``data``; raise ``cryptography``'s ``InvalidSignature``.

        Same scheme selection as sigstore's ``Key.verify``: RSA PKCS#1 v1.5,
        ECDSA with the ``keyDetails`` hash, or Ed25519.
        """
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

        key = self.public_key
        if isinstance(key, rsa.RSAPublicKey) and self.hash_algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), self.hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and self.hash_algorithm is not None:
            key.verify(signature, data, ec.ECDSA(self.hash_algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey) and self.hash_algorithm is None:
            key.verify(signature, data)
        else:  # pragma: no cover - construction makes this unreachable
            raise TypeError(f"unsupported key {type(key).__name__}")


@dataclass(frozen=True, eq=False)
class TimestampAuthority:
    """An RFC 3161 timestamp authority of a trusted root (``timestampAuthorities``)."""

    #: The chain, leaf (the TSA's signing certificate) first, root last.
    certificates: tuple[x509.Certificate, ...]
    #: Timestamps count only if their time lies in ``[valid_from, valid_until)``.
    valid_from: datetime
    valid_until: datetime | None


@dataclass(frozen=True, eq=False)
class TrustRoot:
    """The Sigstore roots of trust a verification checks against.

    Build one with :meth:`production`, :meth:`staging`, :meth:`from_file` or
    :meth:`from_json`; instances are immutable and safe to share.
    """

    #: ``"production"``, ``"staging"``, or the file (or source) it was read from.
    name: str
    #: Fulcio trust anchors: every certificate of every CA whose validity has started.
    fulcio_certs: list[x509.Certificate]
    #: Rekor keys by key ID (SHA-256 of DER SPKI), with the scheme to verify them with.
    rekor_keyring: Mapping[bytes, TrustedKey]
    #: CT log (SCT) keys by key ID, with the scheme to verify them with.
    ct_keyring: Mapping[bytes, TrustedKey]
    #: The TrustedRoot JSON text (for ``sigstore.models.TrustedRoot`` in the sigstore backend).
    trusted_root_json: str = field(repr=False)
    #: Whether the root lists RFC 3161 timestamp authorities.
    has_timestamp_authorities: bool
    #: The RFC 3161 timestamp authorities (certificate chains and validity).
    timestamp_authorities: tuple[TimestampAuthority, ...]
    #: Number of ``tlogs`` entries (sigstore refuses a root without any).
    tlog_count: int
    #: Number of ``ctlogs`` keys whose validity has started (before skipping unusable ones).
    ct_key_count: int
    #: Number of ``tlogs`` keys whose validity has started (before skipping unusable ones).
    rekor_key_count: int

    # -- constructors -----------------------------------------------------
    @classmethod
    def production(cls) -> TrustRoot:
        """The Sigstore public-good (production) root shipped in ``attestkit.sigstore.roots``."""
        return _embedded("production", "public-good")

    @classmethod
    def staging(cls) -> TrustRoot:
        """The Sigstore staging root shipped with attestkit (``sigstore/roots``)."""
        return _embedded("staging", "staging")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TrustRoot:
        """Read a ``ClientTrustConfig`` or ``TrustedRoot`` JSON file.

        Every problem is an :class:`~attestkit.errors.InputError` naming the file.
        """
        return cls.from_json(read_bytes(path), source=str(path))

    @classmethod
    def from_json(
        cls,
        data: str | bytes,
        *,
        source: str | None = None,
        now: datetime | None = None,
    ) -> TrustRoot:
        """Parse ``ClientTrustConfig`` or bare ``TrustedRoot`` JSON text.

        ``source`` names the input in errors and becomes :attr:`name`.  ``now``
        (default: the current time) decides which CAs and keys have started
        being valid.  Raises :class:`~attestkit.errors.InputError`.
        """
        name = source or "trusted root"
        try:
            return _parse(data, name, now or datetime.now(UTC))
        except InputError as exc:
            raise InputError(exc.reason, source=name) from None

    # -- derived views ------------------------------------------------------
    @cached_property
    def rekor_keys(self) -> Mapping[bytes, PublicKey]:
        """Rekor public keys by key ID (SHA-256 of DER SPKI)."""
        return {kid: key.public_key for kid, key in self.rekor_keyring.items()}

    @cached_property
    def ct_keys(self) -> Mapping[bytes, PublicKey]:
        """CT log public keys by key ID (SHA-256 of DER SPKI)."""
        return {kid: key.public_key for kid, key in self.ct_keyring.items()}

    @cached_property
    def development(self) -> bool:
        """Whether a CA of this root is an attestkit development instance's.

        Such an instance simulates identities (see :mod:`attestkit.serving.devmode`), so
        a production index never trusts its root.
        """
        from cryptography.x509.oid import NameOID

        from attestkit.core.constants import DEV_CA_ORGANIZATIONS

        return any(
            attribute.value in DEV_CA_ORGANIZATIONS
            for cert in self.fulcio_certs
            for attribute in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        )

    @cached_property
    def store(self) -> Store:
        """A ``cryptography`` verification ``Store`` of :attr:`fulcio_certs` (built once)."""
        from cryptography.x509.verification import Store

        return Store(self.fulcio_certs)


# -- embedded roots -----------------------------------------------------------


@functools.cache
def _embedded(name: str, instance: Instance) -> TrustRoot:
    from attestkit.sigstore.roots import read

    return TrustRoot.from_json(read(instance), source=name)


def _parse(data: str | bytes, name: str, now: datetime) -> TrustRoot:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    doc = loads_json(data, what="trust root")
    if not isinstance(doc, dict):
        raise InputError(f"trust root must be a JSON object, got {json_type(doc)}")
    media_type = doc.get("mediaType", doc.get("media_type"))
    if media_type == CLIENT_TRUST_CONFIG_MEDIA_TYPE:
        obj = _fields(doc, "ClientTrustConfig", {"mediaType", "trustedRoot", "signingConfig"})
        root = obj.get("trustedRoot")
        if not isinstance(root, dict):
            raise InputError("ClientTrustConfig: trustedRoot must be an object")
        if not isinstance(obj.get("signingConfig"), dict):
            raise InputError("ClientTrustConfig: signingConfig must be an object")
        root_json = json.dumps(root, ensure_ascii=False)
        what = "trustedRoot"
    elif isinstance(media_type, str) and "trustedroot" in media_type:
        root = doc
        root_json = data.decode("utf-8") if isinstance(data, bytes) else data
        what = "TrustedRoot"
    else:
        raise InputError(
            f"unsupported trust root media type {media_type!r}: expected "
            f"{TRUSTED_ROOT_MEDIA_TYPE!r} or {CLIENT_TRUST_CONFIG_MEDIA_TYPE!r}"
        )
    return _parse_trusted_root(root, what, name, root_json, now)


def _parse_trusted_root(
    doc: dict[str, Any], what: str, name: str, root_json: str, now: datetime
) -> TrustRoot:
    obj = _fields(
        doc,
        what,
        {"mediaType", "tlogs", "certificateAuthorities", "ctlogs", "timestampAuthorities"},
        required={"mediaType", "tlogs", "certificateAuthorities", "ctlogs"},
    )
    if obj["mediaType"] != TRUSTED_ROOT_MEDIA_TYPE:
        raise InputError(
            f"{what}: unsupported trusted root format {obj['mediaType']!r} "
            f"(sigstore-python 4.5 accepts only {TRUSTED_ROOT_MEDIA_TYPE!r})"
        )

    fulcio: list[x509.Certificate] = []
    for i, ca in enumerate(_list(obj, "certificateAuthorities", what)):
        certs, start, _ = _certificate_authority(ca, f"{what}.certificateAuthorities[{i}]")
        if now >= start:
            fulcio.extend(certs)

    tsas = (
        _list(obj, "timestampAuthorities", what)
        if obj.get("timestampAuthorities") is not None
        else []
    )
    authorities: list[TimestampAuthority] = []
    for i, tsa in enumerate(tsas):
        tw = f"{what}.timestampAuthorities[{i}]"
        certs, start, end = _certificate_authority(tsa, tw)
        authorities.append(TimestampAuthority(tuple(certs), start, end))

    tlogs = _list(obj, "tlogs", what)
    rekor, rekor_count = _keyring(tlogs, f"{what}.tlogs", now)
    ct, ct_count = _keyring(_list(obj, "ctlogs", what), f"{what}.ctlogs", now)
    return TrustRoot(
        name=name,
        fulcio_certs=fulcio,
        rekor_keyring=rekor,
        ct_keyring=ct,
        trusted_root_json=root_json,
        has_timestamp_authorities=bool(tsas),
        timestamp_authorities=tuple(authorities),
        tlog_count=len(tlogs),
        ct_key_count=ct_count,
        rekor_key_count=rekor_count,
    )


def _certificate_authority(
    value: object, what: str
) -> tuple[list[x509.Certificate], datetime, datetime | None]:
    from cryptography import x509

    raw_certs, start, end = _ca_structure(value, what)
    certs: list[x509.Certificate] = []
    for i, der in enumerate(raw_certs):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise InputError(f"{what}.certChain.certificates[{i}]: invalid X.509: {exc}") from None
    return certs, start, end


def _ca_structure(value: object, what: str) -> tuple[list[bytes], datetime, datetime | None]:
    """Validate a ``CertificateAuthority``; its certificates (DER) and validity range."""
    obj = _fields(
        value,
        what,
        {"subject", "uri", "certChain", "validFor", "operator"},
        required={"subject", "certChain", "validFor"},
    )
    subject = _fields(
        obj["subject"],
        f"{what}.subject",
        {"organization", "commonName"},
        required={"organization", "commonName"},
    )
    for key in ("organization", "commonName"):
        _string(subject[key], f"{what}.subject.{key}")
    for key in ("uri", "operator"):
        if obj.get(key) is not None:
            _string(obj[key], f"{what}.{key}")
    chain = _fields(
        obj["certChain"], f"{what}.certChain", {"certificates"}, required={"certificates"}
    )
    raw: list[bytes] = []
    for i, cert in enumerate(_list(chain, "certificates", f"{what}.certChain")):
        cw = f"{what}.certChain.certificates[{i}]"
        cert_obj = _fields(cert, cw, {"rawBytes"}, required={"rawBytes"})
        raw.append(b64decode(cert_obj["rawBytes"], what=f"{cw}.rawBytes"))
    if not raw:
        raise InputError(f"{what}: missing a certificate in Certificate Authority")
    start, end = _time_range(obj["validFor"], f"{what}.validFor")
    return raw, start, end


def _keyring(logs: list[Any], what: str, now: datetime) -> tuple[dict[bytes, TrustedKey], int]:
    """Mirror sigstore's ``_get_tlog_keys`` (VERIFY purpose) + ``Keyring``."""
    keyring: dict[bytes, TrustedKey] = {}
    candidates = 0
    for i, log in enumerate(logs):
        lw = f"{what}[{i}]"
        obj = _fields(
            log,
            lw,
            {"baseUrl", "hashAlgorithm", "publicKey", "logId", "checkpointKeyId", "operator"},
            required={"baseUrl", "hashAlgorithm", "publicKey", "logId"},
        )
        _string(obj["baseUrl"], f"{lw}.baseUrl")
        if obj["hashAlgorithm"] not in _HASH_ALGORITHMS:
            raise InputError(f"{lw}.hashAlgorithm: unknown value {obj['hashAlgorithm']!r}")
        for key in ("logId", "checkpointKeyId"):
            if key == "logId" or obj.get(key) is not None:
                ids = _fields(obj[key], f"{lw}.{key}", {"keyId"}, required={"keyId"})
                b64decode(ids["keyId"], what=f"{lw}.{key}.keyId")
        log_id = b64decode(
            _fields(obj["logId"], f"{lw}.logId", {"keyId"}, required={"keyId"})["keyId"],
            what=f"{lw}.logId.keyId",
        )
        if obj.get("operator") is not None:
            _string(obj["operator"], f"{lw}.operator")
        pk = _fields(
            obj["publicKey"],
            f"{lw}.publicKey",
            {"rawBytes", "keyDetails", "validFor"},
            required={"keyDetails"},
        )
        details = pk["keyDetails"]
        if details not in _KNOWN_KEY_DETAILS:
            raise InputError(f"{lw}.publicKey.keyDetails: unknown value {details!r}")
        raw = (
            b64decode(pk["rawBytes"], what=f"{lw}.publicKey.rawBytes")
            if pk.get("rawBytes") is not None
            else b""
        )
        if pk.get("validFor") is not None:
            start, _end = _time_range(pk["validFor"], f"{lw}.publicKey.validFor")
            if now < start:
                continue
        candidates += 1
        trusted = _load_key(raw, details)
        if trusted is not None:
            keyring[trusted.key_id] = replace(trusted, base_url=obj["baseUrl"], log_id=log_id)
    return keyring, candidates


def _load_key(raw: bytes, details: str) -> TrustedKey | None:
    """Build a :class:`TrustedKey` the way sigstore's ``Key`` does; ``None`` if it would skip it."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if not raw:
        return None
    expected: type[Any]
    hash_algorithm: HashAlgorithm | None
    if details in _RSA_SHA256_DETAILS:
        expected, hash_algorithm = rsa.RSAPublicKey, hashes.SHA256()
    elif details in _EC_DETAILS_HASH:
        expected = ec.EllipticCurvePublicKey
        algorithms: dict[str, HashAlgorithm] = {
            "sha256": hashes.SHA256(),
            "sha384": hashes.SHA384(),
            "sha512": hashes.SHA512(),
        }
        hash_algorithm = algorithms[_EC_DETAILS_HASH[details]]
    elif details == _ED25519_DETAILS:
        expected, hash_algorithm = ed25519.Ed25519PublicKey, None
    else:
        return None
    try:
        key = serialization.load_der_public_key(raw)
    except Exception:  # sigstore's load_der_public_key catches everything too
        return None
    if not isinstance(key, expected):
        return None
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TrustedKey(hashlib.sha256(spki).digest(), key, details, hash_algorithm)


# -- small strict schema helpers (sigstore-models: strict, extra="forbid") ----
