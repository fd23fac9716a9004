"""The local instance's RFC 3161 timestamp authority (``POST /api/v1/timestamp``).

Rekor v2 entries carry no signed entry timestamp: a signer asks a timestamp
authority (TSA) for an RFC 3161 timestamp over its signature, and verifiers take
the signing time from it.  :class:`TimestampAuthority` answers a DER
``TimeStampReq`` (parsed with rfc3161-client) with a DER ``TimeStampResp``: a
CMS ``SignedData`` (RFC 5652) over a ``TSTInfo`` (RFC 3161 §2.4.2), with the
signed attributes contentType, messageDigest and ESS signingCertificateV2
(RFC 5035), signed ECDSA-SHA256 by the TSA key, whose certificate (critical
EKU timeStamping only, as RFC 3161 §2.3 requires) is issued by the instance's
root CA and embedded in the response.

Why DER by hand: ``cryptography``'s PKCS#7 builder signs only ``id-data``
content, and a timestamp token's content type must be ``id-ct-TSTInfo``;
rfc3161-client parses and verifies tokens but does not issue them.  The writer
below covers exactly the DER this needs (definite lengths, SET OF sorted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from typing import TYPE_CHECKING, Final

from attestkit.errors import ServiceError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["TimestampAuthority", "TimestampRefused"]

#: Media types of RFC 3161 over HTTP (RFC 3161 §3.4).
QUERY_TYPE: Final = "application/timestamp-query"
REPLY_TYPE: Final = "application/timestamp-reply"

_SHA256: Final = "2.16.840.1.101.3.4.2.1"
_SHA384: Final = "2.16.840.1.101.3.4.2.2"
_SHA512: Final = "2.16.840.1.101.3.4.2.3"
_DIGEST_SIZES: Final = {_SHA256: 32, _SHA384: 48, _SHA512: 64}
_ECDSA_SHA256: Final = "1.2.840.10045.4.3.2"
_SIGNED_DATA: Final = "1.2.840.113549.1.7.2"
_TST_INFO: Final = "1.2.840.113549.1.9.16.1.4"
_CONTENT_TYPE: Final = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST: Final = "1.2.840.113549.1.9.4"
_SIGNING_TIME: Final = "1.2.840.113549.1.9.5"
_SIGNING_CERTIFICATE_V2: Final = "1.2.840.113549.1.9.16.2.47"
#: The TSA's policy: attestkit's arc under Sigstore's OID (development use).
POLICY: Final = "1.3.6.1.4.1.57264.2"


class TimestampRefused(ServiceError):  # noqa: N818 (a refusal, answered 400)
    """The timestamp request is malformed or asks for what this TSA does not do."""


# -- a minimal DER writer ---------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))  # DER: SET OF in sorted order


def _int(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return _tlv(0x02, value.to_bytes(length, "big", signed=True))


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _explicit(number: int, content: bytes) -> bytes:
    return _tlv(0xA0 | number, content)


def _algorithm(dotted: str) -> bytes:
    return _seq(_oid(dotted))


def _generalized_time(when: dt.datetime) -> bytes:
    text = when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    if when.microsecond:
        text += "." + f"{when.microsecond:06d}".rstrip("0")
    return _tlv(0x18, (text + "Z").encode())


def _utc_time(when: dt.datetime) -> bytes:
    return _tlv(0x17, when.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ").encode())


# -- the authority ----------------------------------------------------------------------


class TimestampAuthority:
    """Issues RFC 3161 timestamps with one key and certificate."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        from cryptography.hazmat.primitives import serialization

        self.key = key
        self.certificate = certificate
        self._cert_der = certificate.public_bytes(serialization.Encoding.DER)
        self._issuer_der = certificate.issuer.public_bytes()
        self._serials = threading.Lock()

    def respond(self, request: bytes, now: dt.datetime | None = None) -> bytes:
        """The DER ``TimeStampResp`` granting a timestamp for the DER ``request``."""
        from rfc3161_client._rust import parse_timestamp_request

        try:
            parsed = parse_timestamp_request(request)
        except ValueError as exc:
            raise TimestampRefused(f"malformed timestamp request: {exc}") from None
        imprint = parsed.message_imprint
        algorithm = imprint.hash_algorithm.dotted_string
        digest = bytes(imprint.message)
        if _DIGEST_SIZES.get(algorithm) != len(digest):
            raise TimestampRefused(
                f"unsupported message imprint: {algorithm} with {len(digest)} bytes"
                " (want SHA-256, SHA-384 or SHA-512)"
            )
        if parsed.policy is not None and parsed.policy.dotted_string != POLICY:
            raise TimestampRefused(f"unsupported policy {parsed.policy.dotted_string}")
        when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        tst_info = _seq(
            _int(1),
            _oid(POLICY),
            _seq(_algorithm(algorithm), _octets(digest)),
            _int(secrets.randbits(63) + 1),
            _generalized_time(when),
            *([_int(parsed.nonce)] if parsed.nonce is not None else []),
        )
        token = self._signed_data(tst_info, when, include_certificate=bool(parsed.cert_req))
        granted = _seq(_int(0))
        return _seq(granted, token)

    def _signed_data(
        self, tst_info: bytes, when: dt.datetime, *, include_certificate: bool
    ) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        attributes = [
            _seq(_oid(_CONTENT_TYPE), _set(_oid(_TST_INFO))),
            _seq(_oid(_MESSAGE_DIGEST), _set(_octets(hashlib.sha256(tst_info).digest()))),
            _seq(_oid(_SIGNING_TIME), _set(_utc_time(when))),
            _seq(
                _oid(_SIGNING_CERTIFICATE_V2),
                # SigningCertificateV2 { certs SEQ OF ESSCertIDv2 { certHash (SHA-256,
                # the default algorithm, so omitted) } }
                _set(_seq(_seq(_seq(_octets(hashlib.sha256(self._cert_der).digest()))))),
            ),
        ]
        signed_attributes = _set(*attributes)
        signature = self.key.sign(signed_attributes, ec.ECDSA(hashes.SHA256()))
        signer_info = _seq(
            _int(1),
            _seq(self._issuer_der, _int(self.certificate.serial_number)),
            _algorithm(_SHA256),
            _tlv(0xA0, signed_attributes[_header_length(signed_attributes) :]),  # [0] IMPLICIT
            _algorithm(_ECDSA_SHA256),
            _octets(signature),
        )
        signed_data = _seq(
            _int(3),
            _set(_algorithm(_SHA256)),
            _seq(_oid(_TST_INFO), _explicit(0, _octets(tst_info))),
            *([_tlv(0xA0, self._cert_der)] if include_certificate else []),
            _set(signer_info),
        )
        return _seq(_oid(_SIGNED_DATA), _explicit(0, signed_data))


def _header_length(der: bytes) -> int:
    """Bytes of tag and length before the content of one DER element."""
    return 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)


def tsa_certificate(
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate,
    organization: str,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """The TSA's certificate: critical EKU timeStamping (only), issued by the instance's root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, "attestkit-local-tsa"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA384())
    )
