"""Read a Fulcio signing certificate: SANs, issuer, CI claims and validity.

Fulcio records the OIDC identity of the signer in X.509 extensions under
``1.3.6.1.4.1.57264.1.N``: ``.1``-``.6`` hold bare UTF-8, ``.8`` and later a DER
UTF8String (see :mod:`attestkit.core.constants`).  :class:`CertificateClaims` decodes
them once into plain strings so policies and ``inspect`` read named fields.

``cryptography`` is imported lazily: ``attestkit --help`` never pays for it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from attestkit.core.constants import (
    FULCIO_DER_OIDS,
    FULCIO_OID_PREFIX,
    FULCIO_OTHERNAME_OID,
    FULCIO_RAW_OIDS,
)
from attestkit.errors import InputError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

__all__ = ["CertificateClaims", "der_utf8string", "load_certificate"]


def load_certificate(der: bytes, *, what: str = "certificate") -> Certificate:
    """Parse a DER X.509 certificate; raise :class:`InputError` on anything else."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        # Force parsing of the extensions now, so malformed ones fail here.
        _ = cert.extensions
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise InputError(f"invalid X.509 {what}: {exc}") from None
    return cert


def der_utf8string(value: bytes) -> str:
    """Decode a DER ``UTF8String`` TLV (tag 0x0C), as Fulcio writes ``.8`` and later.

    Written by hand because ``cryptography`` exposes unknown extensions as raw
    bytes and has no public DER decoder; this is the whole grammar needed.
    """
    if len(value) < 2 or value[0] != 0x0C:
        raise ValueError("not a DER UTF8String")
    length = value[1]
    offset = 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(value) < 2 + n:
            raise ValueError("bad DER length")
        length = int.from_bytes(value[2 : 2 + n], "big")
        if length < 128 or value[2] == 0:
            raise ValueError("non-minimal DER length")
        offset = 2 + n
    if len(value) != offset + length:
        raise ValueError("DER length does not match content")
    return value[offset:].decode("utf-8")


@dataclass(frozen=True, slots=True)
class CertificateClaims:
    """The identity a Fulcio certificate asserts, decoded into strings."""

    sans: tuple[str, ...]
    #: Named Fulcio claims present in the certificate (see ``constants.FULCIO_*_OIDS``).
    claims: dict[str, str]
    not_before: datetime
    not_after: datetime
    serial: int
    issuer_dn: str
    fingerprint: str
    #: OIDs (dotted) whose values could not be decoded.
    undecodable: tuple[str, ...] = field(default=())
    #: The organization (O=) of the issuing CA, if it names one.
    issuer_organization: str | None = None

    @classmethod
    def from_certificate(cls, cert: Certificate) -> CertificateClaims:
        """Decode the SANs and Fulcio extensions of ``cert``."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        sans: list[str] = []
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            san = None
        if san is not None:
            for name in san:
                if isinstance(name, x509.UniformResourceIdentifier | x509.RFC822Name):
                    sans.append(name.value)
                elif isinstance(name, x509.OtherName) and (
                    name.type_id.dotted_string == FULCIO_OTHERNAME_OID
                ):
                    try:
                        sans.append(der_utf8string(name.value))
                    except (ValueError, UnicodeDecodeError):
                        sans.append(name.value.hex())
                else:
                    sans.append(str(getattr(name, "value", name)))
        claims: dict[str, str] = {}
        bad: list[str] = []
        for ext in cert.extensions:
            dotted = ext.oid.dotted_string
            if not dotted.startswith(FULCIO_OID_PREFIX):
                continue
            try:
                number = int(dotted[len(FULCIO_OID_PREFIX) :])
            except ValueError:
                continue
            raw = getattr(ext.value, "value", None)
            if not isinstance(raw, bytes):
                continue
            try:
                if number in FULCIO_RAW_OIDS:
                    claims[FULCIO_RAW_OIDS[number]] = raw.decode("utf-8")
                elif number in FULCIO_DER_OIDS:
                    claims[FULCIO_DER_OIDS[number]] = der_utf8string(raw)
            except (ValueError, UnicodeDecodeError):
                bad.append(dotted)
        from cryptography.x509.oid import NameOID

        organizations = cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        organization = organizations[0].value if organizations else None
        return cls(
            sans=tuple(sans),
            claims=claims,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            serial=cert.serial_number,
            issuer_dn=cert.issuer.rfc4514_string(),
            fingerprint=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
            undecodable=tuple(bad),
            issuer_organization=organization if isinstance(organization, str) else None,
        )

    @classmethod
    def from_der(cls, der: bytes) -> CertificateClaims:
        """Parse DER bytes and decode the claims."""
        return cls.from_certificate(load_certificate(der))

    @property
    def issuer(self) -> str | None:
        """The OIDC issuer: ``.8`` (v2) if present, else ``.1`` (v1)."""
        return self.claims.get("issuer") or self.claims.get("issuer_v1")

    @property
    def simulated(self) -> bool:
        """Whether an attestkit *development* instance issued this certificate.

        Its identity is simulated: the instance's own key signed the OIDC token,
        whatever issuer it names.  Meaningful once the chain has been verified
        (anyone can write any issuer name into an unverified certificate).
        """
        from attestkit.core.constants import DEV_CA_ORGANIZATIONS

        return self.issuer_organization in DEV_CA_ORGANIZATIONS

    @property
    def identity(self) -> str | None:
        """The first SAN (Fulcio issues exactly one)."""
        return self.sans[0] if self.sans else None

    def summary(self) -> str:
        """One line naming the signer, e.g. ``GitHub o/r workflow release.yml @ refs/tags/v1``."""
        from attestkit.core.constants import CIRCLECI_ISSUER, GITHUB_ISSUER, GITLAB_ISSUER

        c = self.claims
        repo = c.get("source_repository_uri", "")
        config = c.get("build_config_uri", "")
        ref = c.get("source_repository_ref") or c.get("source_repository_digest") or "?"
        if self.issuer == GITHUB_ISSUER and "/.github/workflows/" in config:
            workflow = config.split("/.github/workflows/", 1)[1].rsplit("@", 1)[0]
            name = repo.removeprefix("https://github.com/")
            return f"GitHub {name} workflow {workflow} @ {ref}"
        if self.issuer == GITLAB_ISSUER and "//" in config.removeprefix("https://"):
            path = config.removeprefix("https://").split("//", 1)[1].rsplit("@", 1)[0]
            name = repo.removeprefix("https://gitlab.com/")
            return f"GitLab {name} workflow {path} @ {ref}"
        if self.issuer == CIRCLECI_ISSUER:
            return f"CircleCI {c.get('build_signer_uri', '?')}"
        return f"{self.identity} (issuer {self.issuer})"
