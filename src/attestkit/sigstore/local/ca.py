"""The certificate authority of a local Sigstore instance (Fulcio v2 ``signingCert``).

:meth:`CertificateAuthority.signing_cert` implements ``POST /api/v2/signingCert``
(Fulcio's ``POST /api/v2/signingCert``): it verifies the bearer OIDC token
(:func:`attestkit.sigstore.local.oidc.verify_token`, audience ``sigstore``) and
the CSR's self-signature (proof of possession), then issues a 10-minute leaf
for the CSR's EC key with Fulcio's profile (§4.2):

* empty subject, random positive serial (159 bits);
* critical KeyUsage digitalSignature, EKU codeSigning, SKI, AKI = issuer SKI;
* one critical SAN: a URI for CI issuers, an rfc822Name for email issuers;
* Fulcio extensions ``1.3.6.1.4.1.57264.1.N``: ``.1`` (raw issuer), ``.2``-``.6``
  (raw, GitHub only) and ``.8`` onwards (DER UTF8String), rendered from the
  token's claims with the per-provider templates of Fulcio's
  ``config/identity/config.yaml`` (§4.3), emitted in OID order when non-empty;
* exactly one embedded SCT, signed by the instance's CT key over the
  precertificate TBS (§4.4).

Like Fulcio (``missingkey=error``), a template fails when the token lacks a
claim it names, except claims with a provider default (``url``,
``environment``) and CircleCI's ``index``-style lookups, which render empty.
Errors are :class:`CAError` with the HTTP status the server answers with.
"""

from __future__ import annotations

import datetime as dt
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attestkit.core.constants import (
    CIRCLECI_ISSUER,
)
from attestkit.core.providers import PROVIDERS
from attestkit.core.providers.base import FulcioProfile
from attestkit.sigstore.local.oidc import DEFAULT_AUDIENCE, TokenError, verify_token

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestkit.core.issuers import OidcIssuer
    from attestkit.sigstore.local.keys import KeyStore
    from attestkit.sigstore.local.oidc import KeySource
from attestkit.sigstore.local.request import (
    CAError,
    LeafIdentity,
    _bearer,
    _csr_public_key,
    _pkr_public_key,
    _proof_subject,
)
from attestkit.sigstore.local.templates import _apply, _Lookup, _MissingClaimError

__all__ = [
    "ISSUER_TYPES",
    "LEAF_LIFETIME",
    "CAError",
    "CertificateAuthority",
    "LeafIdentity",
    "der_utf8string",
]

#: How long an issued leaf is valid (Fulcio: 10 minutes).
LEAF_LIFETIME = dt.timedelta(minutes=10)


_FULCIO_ARC = "1.3.6.1.4.1.57264.1."
_SCT_LIST_OID = "1.3.6.1.4.1.11129.2.4.2"
#: OIDs ``.1``-``.6`` hold bare UTF-8; ``.8`` and later a DER UTF8String.
_RAW_OIDS = range(1, 7)


# -- DER helpers ----------------------------------------------------------------


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_utf8string(value: str) -> bytes:
    """Encode ``value`` as a DER UTF8String TLV (tag 0x0C), as Fulcio writes ``.8`` onwards."""
    data = value.encode("utf-8")
    return b"\x0c" + _der_length(len(data)) + data


def _der_octet_string(data: bytes) -> bytes:
    return b"\x04" + _der_length(len(data)) + data


# -- claim templates (Fulcio config/identity/config.yaml) --------------------------


#: Fulcio issuer type -> the provider's certificate profile (``core/providers/<kind>.py``).
_PROFILES: Mapping[str, FulcioProfile] = {
    p.fulcio_type: p.profile for p in PROVIDERS.values() if p.profile is not None
}
#: Issuer -> Fulcio issuer type.  Trusted issuers not listed here are email issuers.
ISSUER_TYPES: Mapping[str, str] = {
    p.issuer: p.fulcio_type for p in PROVIDERS.values() if p.issuer and p.fulcio_type
}
#: Provider kind (of a configured issuer) -> Fulcio issuer type.
KIND_TYPES: Mapping[str, str] = {
    **{p.kind: p.fulcio_type for p in PROVIDERS.values() if p.fulcio_type},
    "email": "email",
}


# -- the CA ---------------------------------------------------------------------


class CertificateAuthority:
    """A Fulcio-compatible CA over a :class:`KeyStore`'s intermediate and CT keys.

    ``trusted_issuers`` maps each issuer string the CA accepts to the RSA keys
    that verify its tokens (the local instance: its OIDC key for the CI issuer
    strings and for its own URL).  ``issuer_types`` maps issuers to Fulcio
    issuer types (``github-workflow``, ``gitlab-pipeline``, ``circleci-job``,
    ``buildkite-job``, ``email``); default :data:`ISSUER_TYPES`, and any other
    trusted issuer (CircleCI's per-org ``https://oidc.circleci.com/org/<id>``
    excepted) is an email issuer.  ``clock`` returns the Unix time.
    """

    def __init__(
        self,
        keys: KeyStore,
        trusted_issuers: Mapping[str, KeySource],
        *,
        issuer_types: Mapping[str, str] | None = None,
        forge_urls: Mapping[str, str] | None = None,
        lifetime: dt.timedelta = LEAF_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.trusted_issuers = dict(trusted_issuers)
        self.issuer_types = dict(ISSUER_TYPES if issuer_types is None else issuer_types)
        #: Issuer -> the forge's web URL (``url`` in Fulcio's templates), for
        #: self-managed GitLab and GitHub Enterprise Server issuers.
        self.forge_urls = dict(forge_urls or {})
        self.lifetime = lifetime
        self._clock = clock

    @classmethod
    def private(
        cls,
        keys: KeyStore,
        issuers: Sequence[OidcIssuer],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> CertificateAuthority:
        """A CA that trusts exactly ``issuers`` (keys by OpenID discovery), nothing simulated.

        Each issuer's ``kind`` (``github``, ``gitlab``, ``google``,
        ``circleci``, ``buildkite`` or ``email``) selects the certificate
        profile; a GitHub or GitLab issuer that is not github.com's or
        gitlab.com's is a self-hosted forge (see :func:`attestkit.oidc.jwks.forge_url`).
        Keys are cached; a token naming an unknown ``kid`` refreshes them (a
        rotation), at most once a minute (``monotonic`` paces it; tests replace it).
        """
        from attestkit.core.issuers import forge_url
        from attestkit.oidc.jwks import JwksCache

        trusted: dict[str, KeySource] = {}
        types: dict[str, str] = {}
        forges: dict[str, str] = {}
        for issuer in issuers:
            if issuer.kind not in KIND_TYPES:
                raise ValueError(
                    f"issuer {issuer.iss!r}: unsupported kind {issuer.kind!r}"
                    f" (one of {', '.join(KIND_TYPES)})"
                )
            trusted[issuer.iss] = JwksCache(issuer, clock=monotonic)
            types[issuer.iss] = KIND_TYPES[issuer.kind]
            if issuer.kind in ("github", "gitlab"):
                forges[issuer.iss] = forge_url(issuer.kind, issuer.iss)
        return cls(keys, trusted, issuer_types=types, forge_urls=forges, **options)

    # -- the endpoint -----------------------------------------------------------

    def signing_cert(self, request_json: object, authorization: str | None) -> dict[str, Any]:
        """``POST /api/v2/signingCert``: verify the token and CSR, return the chain with SCT.

        ``request_json`` is the parsed body: ``{"certificateSigningRequest":
        b64(PEM CSR)}`` (sigstore-python), or ``{"credentials":
        {"oidcIdentityToken": jwt}, "publicKeyRequest": {"publicKey":
        {"algorithm", "content": PEM}, "proofOfPossession": b64(signature over
        the identity)}}``.  The token comes from ``authorization``
        (``Bearer <jwt>``), else from ``credentials``.  Returns
        ``{"signedCertificateEmbeddedSct": {"chain": {"certificates": [leaf,
        intermediate, root]}}}`` as PEM strings; raises :class:`CAError`.
        """
        if not isinstance(request_json, dict):
            raise CAError(400, "request body must be a JSON object")
        token = _bearer(authorization)
        credentials = request_json.get("credentials")
        if token is None and isinstance(credentials, dict):
            candidate = credentials.get("oidcIdentityToken")
            if isinstance(candidate, str) and candidate:
                token = candidate
        if token is None:
            raise CAError(401, "missing OIDC identity token (Authorization: Bearer <jwt>)")
        try:
            claims = verify_token(
                token, self.trusted_issuers, audience=DEFAULT_AUDIENCE, now=self._clock()
            )
        except TokenError as exc:
            status = 503 if exc.status == 503 else 401
            raise CAError(status, f"invalid identity token: {exc.message}") from None
        identity = self.identity(claims)

        if "certificateSigningRequest" in request_json:
            public_key = _csr_public_key(request_json["certificateSigningRequest"])
        elif "publicKeyRequest" in request_json:
            public_key = _pkr_public_key(
                request_json["publicKeyRequest"], _proof_subject(claims, identity)
            )
        else:
            raise CAError(400, "request has neither certificateSigningRequest nor publicKeyRequest")
        chain = self.issue(identity, public_key)
        from cryptography.hazmat.primitives.serialization import Encoding

        pems = [c.public_bytes(Encoding.PEM).decode("ascii") for c in chain]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}

    def trust_bundle(self) -> dict[str, Any]:
        """``GET /api/v2/trustBundle``: ``{"chains": [{"certificates": [intermediate, root]}]}``."""
        from cryptography.hazmat.primitives.serialization import Encoding

        certs = [self.keys.intermediate_cert, self.keys.root_cert]
        return {
            "chains": [{"certificates": [c.public_bytes(Encoding.PEM).decode() for c in certs]}]
        }

    # -- identity -----------------------------------------------------------------

    def issuer_type(self, issuer: str) -> str:
        """The Fulcio issuer type of ``issuer`` (``email`` unless known as a CI issuer)."""
        if issuer in self.issuer_types:
            return self.issuer_types[issuer]
        if issuer.startswith(CIRCLECI_ISSUER + "/org/"):
            return "circleci-job"
        return "email"

    def identity(self, claims: Mapping[str, Any]) -> LeafIdentity:
        """Render the SAN and Fulcio extensions for verified ``claims``; 400 on a missing claim."""
        issuer = str(claims["iss"])
        kind = self.issuer_type(issuer)
        if kind == "email":
            email = claims.get("email")
            if not isinstance(email, str) or not email:
                raise CAError(400, f"token from email issuer {issuer!r} has no 'email' claim")
            if claims.get("email_verified") is not True:
                raise CAError(401, f"token email {email!r} is not verified (email_verified)")
            return LeafIdentity(san=email, email=True, extensions={1: issuer, 8: issuer})
        profile = _PROFILES.get(kind)
        if profile is None:
            raise CAError(400, f"issuer {issuer!r} has unsupported type {kind!r}")
        defaults = dict(profile.defaults)
        if issuer in self.forge_urls:
            defaults["url"] = self.forge_urls[issuer]
        lookup = _Lookup(claims, defaults)
        try:
            san = _apply(profile.san, lookup)
            rendered = {n: _apply(t, lookup) for n, t in profile.extensions.items()}
        except _MissingClaimError as exc:
            raise CAError(
                400,
                f"token is missing claim {exc.name!r} required by the"
                f" {profile.name} certificate profile",
            ) from None
        extensions = {1: issuer, 8: issuer}
        extensions.update({n: v for n, v in rendered.items() if v})
        return LeafIdentity(san=san, email=False, extensions=dict(sorted(extensions.items())))

    # -- issuance -----------------------------------------------------------------

    def issue(
        self, identity: LeafIdentity, public_key: ec.EllipticCurvePublicKey
    ) -> list[x509.Certificate]:
        """Issue the leaf for ``public_key`` with an embedded SCT; return [leaf, inter, root]."""
        from cryptography import x509
        from cryptography.x509.oid import ExtendedKeyUsageOID

        intermediate = self.keys.intermediate_cert
        now_s = self._clock()
        not_before = dt.datetime.fromtimestamp(int(now_s), dt.UTC)
        try:
            ski = intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.keys.intermediate_key.public_key()
            )
        san: x509.GeneralName
        try:
            san = (
                x509.RFC822Name(identity.san)
                if identity.email
                else (x509.UniformResourceIdentifier(identity.san))
            )
        except ValueError as exc:
            raise CAError(
                400, f"cannot put identity {identity.san!r} in a certificate: {exc}"
            ) from None
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(intermediate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + self.lifetime)
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
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(aki, critical=False)
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        )
        for number, value in identity.extensions.items():
            raw = value.encode("utf-8") if number in _RAW_OIDS else der_utf8string(value)
            builder = builder.add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{_FULCIO_ARC}{number}"), raw),
                critical=False,
            )

        def build(sct_list: bytes) -> x509.Certificate:
            ext = x509.UnrecognizedExtension(
                x509.ObjectIdentifier(_SCT_LIST_OID), _der_octet_string(sct_list)
            )
            return builder.add_extension(ext, critical=False).sign(
                self.keys.intermediate_key, _ca_hash(self.keys.intermediate_key)
            )

        precert = build(b"\x00\x00")  # placeholder: an empty SCT list
        tbs = precert.tbs_precertificate_bytes
        sct = self._sct(tbs, int(now_s * 1000))
        leaf = build(struct.pack("!H", len(sct) + 2) + struct.pack("!H", len(sct)) + sct)
        if leaf.tbs_precertificate_bytes != tbs:  # pragma: no cover - a bug, never input
            raise AssertionError("precertificate TBS changed when the SCT was embedded")
        return [leaf, intermediate, self.keys.root_cert]

    def _sct(self, tbs: bytes, timestamp_ms: int) -> bytes:
        """An RFC 6962 v1 SCT over a precertificate entry, signed with the CT key."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        from attestkit.sigstore.local.keys import key_id

        issuer_key_hash = key_id(self.keys.intermediate_key.public_key())
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp_ms, 1)
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack("!H", 0)  # no extensions
        )
        signature = self.keys.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return (
            b"\x00"
            + self.keys.ct_log_id
            + struct.pack("!QH", timestamp_ms, 0)
            + bytes([4, 3])  # sha256, ecdsa
            + struct.pack("!H", len(signature))
            + signature
        )


# -- request parsing -------------------------------------------------------------


def _ca_hash(key: ec.EllipticCurvePrivateKey) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key.curve, ec.SECP384R1):
        return hashes.SHA384()
    if isinstance(key.curve, ec.SECP521R1):
        return hashes.SHA512()
    return hashes.SHA256()
