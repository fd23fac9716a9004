"""Which log entries a watched identity signed: the certificates in an entry's body.

Every kind a Sigstore signature is logged as names its certificate: ``dsse``
0.0.1 (``signatures[].verifier``, base64 PEM), ``hashedrekord`` 0.0.1
(``signature.publicKey.content``, base64 PEM), ``hashedrekord`` 0.0.2 and
``dsse`` 0.0.2 (``verifier.x509Certificate.rawBytes``, base64 DER) and
``intoto`` 0.0.2 (``envelope.signatures[].publicKey``, base64 PEM).  Parsing a
certificate costs far more than hashing an entry, so each watched identity
first looks for a byte string its certificates must contain (the repository URL
or the SAN, which Fulcio writes verbatim into the SAN extension); only entries
that contain it are parsed and checked with the identity's full policy (issuer,
workflow, ...), the same policies ``attestkit verify`` uses.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from attestkit.core.policy import Policy
from attestkit.errors import AttestkitError

__all__ = ["WatchedIdentity", "certificates"]


@dataclass(frozen=True)
class WatchedIdentity:
    """An identity to watch: a cheap byte needle, then the full policy."""

    policy: Policy
    #: Bytes every certificate of this identity contains (b"" when there is none to use).
    needle: bytes
    #: The projects this identity publishes (on the watched indexes).
    projects: tuple[str, ...] = ()

    def describe(self) -> str:
        """The identity, for reports."""
        return self.policy.describe()

    def matches(self, der: bytes) -> bool:
        """Whether the certificate ``der`` satisfies the policy."""
        from attestkit.core.certificate import CertificateClaims, load_certificate

        if self.needle and self.needle not in der:
            return False
        try:
            claims = CertificateClaims.from_certificate(load_certificate(der))
            self.policy.check(claims)
        except (AttestkitError, ValueError):
            return False
        return True


#: Base64 values of the keys that hold certificates, in canonical (unescaped) JSON.
_VALUES = re.compile(rb'"(content|verifier|publicKey|rawBytes)":"([A-Za-z0-9+/=]+)"')


def certificates(body: bytes) -> Iterator[bytes]:
    """The DER certificates an entry body names (nothing for unknown kinds).

    Fast path: the log's canonical JSON has no escapes, so one regular expression
    finds every candidate value (a superset of the certificate fields: the full
    policy check comes after); a body with any escape is parsed as JSON instead,
    so an escaped field can never hide a certificate.
    """
    if b"\\" in body:
        yield from _parsed(body)
        return
    for key, value in _VALUES.findall(body):
        if key == b"rawBytes":
            yield from _der(value.decode())
        else:
            yield from _pem(value.decode())


def _parsed(body: bytes) -> Iterator[bytes]:
    """:func:`certificates` by walking the parsed JSON of each kind."""
    try:
        entry = json.loads(body)
    except ValueError:
        return
    spec = entry.get("spec") if isinstance(entry, dict) else None
    if not isinstance(spec, dict):
        return
    kind = entry.get("kind")
    if kind == "dsse" and isinstance(spec.get("signatures"), list):
        for sig in spec["signatures"]:
            yield from _pem(_get(sig, "verifier"))
    elif kind == "hashedrekord" and "hashedRekordV002" in spec:
        verifier = _get(_get(_get(spec, "hashedRekordV002"), "signature"), "verifier")
        yield from _der(_get(_get(verifier, "x509Certificate"), "rawBytes"))
    elif kind == "hashedrekord":
        yield from _pem(_get(_get(_get(spec, "signature"), "publicKey"), "content"))
    elif kind == "dsse" and "dsseV002" in spec:
        for sig in _get(spec, "dsseV002").get("signatures") or []:
            verifier = _get(sig, "verifier")
            yield from _der(_get(_get(verifier, "x509Certificate"), "rawBytes"))
    elif kind == "intoto":
        envelope = _get(_get(spec, "content"), "envelope")
        for sig in envelope.get("signatures") or []:
            yield from _pem(_get(sig, "publicKey"))


def _get(obj: Any, key: str) -> Any:
    return obj.get(key, {}) if isinstance(obj, dict) else {}


def _der(value: Any) -> Iterator[bytes]:
    if isinstance(value, str):
        try:
            yield base64.b64decode(value)
        except (binascii.Error, ValueError):
            return


def _pem(value: Any) -> Iterator[bytes]:
    """base64(PEM) to DER (the PEM body is base64 again; its line breaks are skipped)."""
    begin = b"-----BEGIN CERTIFICATE-----"
    for pem in _der(value):
        if not pem.startswith(begin):
            continue
        end = pem.find(b"-----END", len(begin))
        try:
            yield base64.b64decode(pem[len(begin) : end if end > 0 else None])
        except (binascii.Error, ValueError):
            continue
