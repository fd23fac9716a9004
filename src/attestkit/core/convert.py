"""Convert Sigstore bundles to PEP 740 attestations and back, without losing anything silently.

A Sigstore bundle (media types 0.1, 0.2 and 0.3) and a PEP 740 attestation
carry the same signature, certificate and log entry in different shapes.
pypi-attestations converts between them lossily (defects D6, D8, D9 in ``docs/defects.md``): it
drops the DSSE ``payloadType``, extra chain certificates, ``keyid`` and RFC 3161
timestamps without a word, so a non-in-toto bundle becomes an in-toto
attestation and a Rekor v2 bundle becomes an attestation that can never verify.

This module applies sigstore-python 4.5.1's load-time rules to the bundle and
then attestkit's conversion rules:

* anything that would change the meaning of the signature (payload type,
  statement shape, predicate type) is refused unless ``raw=True``;
* a conversion that would leave no verifiable signing time is refused; RFC 3161
  timestamps are kept (in the proposed ``verification_material.timestamps``
  field) only with ``keep_timestamps=True``;
* material that is dropped harmlessly (chain certificates after the leaf, a
  DSSE ``keyid``, timestamps next to an inclusion promise) is reported in
  :attr:`Conversion.notes`.

Errors: malformed input (not JSON, wrong types, unknown fields, bad base64,
an unparsable certificate) raises :class:`~attestkit.errors.InputError`; a
well-formed bundle or attestation that cannot be converted raises
:class:`~attestkit.errors.ConversionError`.  Both carry a one-line reason.

Neither sigstore nor pydantic is imported; ``cryptography`` is imported only
when a certificate is parsed.

>>> from attestkit.core.encoding import read_bytes
>>> conv = attestation_from_bundle(
...     read_bytes("tests/data/rfc8785-0.1.2-py3-none-any.whl.sigstore"))
>>> conv.attestation.statement.subjects[0].name, conv.notes
('rfc8785-0.1.2-py3-none-any.whl', ())
>>> bundle_from_attestation(conv.attestation)["mediaType"]
'application/vnd.dev.sigstore.bundle.v0.3+json'

Why one module over 500 lines: both directions share the strict field readers
and the leaf-certificate checks; each direction alone is about 250 lines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attestkit.core.certificate import load_certificate
from attestkit.core.constants import (
    ACCEPTED_PREDICATE_TYPES,
    BUNDLE_MEDIA_TYPES,
    BUNDLE_V01,
    BUNDLE_V02,
    BUNDLE_V03,
    BUNDLE_V03_ALT,
    INTOTO_PAYLOAD_TYPE,
    PUBLISH_PREDICATE_V1,
    SLSA_PREDICATE_V1,
)
from attestkit.core.encoding import b64decode, b64encode, json_type, loads_json
from attestkit.core.log_entry import LogEntry
from attestkit.core.models import Attestation, Envelope, VerificationMaterial
from attestkit.core.statement import Statement
from attestkit.errors import ConversionError, InputError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

__all__ = [
    "Conversion",
    "attestation_from_bundle",
    "bundle_from_attestation",
    "bundle_to_json",
]

#: Log entry versions sigstore-python 4.5.1 accepts (``IncompatibleEntry`` otherwise).
_ENTRY_VERSIONS = ("0.0.1", "0.0.2")
_CHAIN_MEDIA_TYPES = frozenset({BUNDLE_V01, BUNDLE_V02})
_MEDIA_TYPES_TEXT = ", ".join(repr(m) for m in (BUNDLE_V01, BUNDLE_V02, BUNDLE_V03, BUNDLE_V03_ALT))
_ACCEPTED_PREDICATES_TEXT = f"{PUBLISH_PREDICATE_V1!r} or {SLSA_PREDICATE_V1!r}"
_RAW_HINT = "use raw=True (--raw) to convert anyway"


@dataclass(frozen=True)
class Conversion:
    """The result of :func:`attestation_from_bundle`.

    ``notes`` are human-readable lines, one per piece of bundle material that
    the attestation does not carry (empty when nothing was dropped).
    """

    attestation: Attestation
    notes: tuple[str, ...]


# -- bundle -> attestation ---------------------------------------------------


def attestation_from_bundle(
    bundle: str | bytes | dict[str, Any],
    *,
    keep_timestamps: bool = False,
    raw: bool = False,
) -> Conversion:
    """Convert a Sigstore DSSE bundle (JSON text, bytes or decoded dict) to an attestation.

    ``keep_timestamps`` emits the bundle's RFC 3161 timestamps in the proposed
    ``verification_material.timestamps`` field; without it, a bundle whose only
    time source is those timestamps (a Rekor v2 entry) is refused.  ``raw``
    converts payloads that are not PEP 740 statements (another ``payloadType``,
    an unparsable statement, several subjects, another predicate type); the
    deviations are listed in the notes.

    Raises :class:`InputError` for malformed input and :class:`ConversionError`
    for a bundle that cannot become an attestation.

    >>> from attestkit.core.encoding import read_bytes
    >>> data = read_bytes("tests/data/rfc8785-0.1.2-py3-none-any.whl.sigstore")
    >>> att = attestation_from_bundle(data).attestation
    >>> att.statement.predicate_type
    'https://docs.pypi.org/attestations/publish/v1'
    """
    notes: list[str] = []
    if isinstance(bundle, str | bytes):
        bundle = loads_json(bundle, what="bundle")
    top = _fields(
        bundle,
        ("mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope"),
        "bundle",
    )

    if "mediaType" not in top:
        raise InputError("bundle: missing mediaType")
    media_type = top["mediaType"]
    if not isinstance(media_type, str):
        raise InputError(f"bundle.mediaType must be a string, got {json_type(media_type)}")
    if media_type not in BUNDLE_MEDIA_TYPES:
        raise ConversionError(
            f"unsupported bundle media type {media_type!r} (expected one of {_MEDIA_TYPES_TEXT})"
        )

    if "verificationMaterial" not in top:
        raise InputError("bundle: missing verificationMaterial")
    material = _fields(
        top["verificationMaterial"],
        (
            "publicKey",
            "x509CertificateChain",
            "certificate",
            "tlogEntries",
            "timestampVerificationData",
        ),
        "bundle.verificationMaterial",
    )
    certificate = _bundle_certificate(material, media_type, notes)
    entry = _bundle_log_entry(material)
    timestamps = _bundle_timestamps(material)

    # Signed time: sigstore's load-time rules, then PEP 740's lack of a timestamp field.
    if media_type == BUNDLE_V01 and entry.inclusion_promise is None:
        raise ConversionError(
            "bundle must contain an inclusion promise (required for bundle version 0.1)"
        )
    if entry.inclusion_promise is None and not timestamps:
        raise ConversionError(
            "bundle must contain an inclusion promise or signed timestamp(s): "
            "it has no verifiable signing time"
        )
    if timestamps and not keep_timestamps:
        if entry.inclusion_promise is None:
            raise ConversionError(
                "the log entry has no inclusion promise (a Rekor v2 entry?), so the bundle's "
                f"only time source is {_count(len(timestamps), 'RFC 3161 timestamp')}; PEP 740 "
                "attestations carry no RFC 3161 timestamps yet, so the converted attestation "
                "could never verify; use --keep-timestamps (keep_timestamps=True) to emit them "
                "in the proposed verification_material.timestamps field"
            )
        notes.append(
            f"dropped {_count(len(timestamps), 'RFC 3161 timestamp')} (PEP 740 has no field "
            "for them yet; the inclusion promise supplies the signing time; "
            "--keep-timestamps keeps them)"
        )
        timestamps = ()

    payload, signature = _bundle_envelope(top, raw, notes)

    return Conversion(
        Attestation(
            VerificationMaterial(certificate, (entry.to_dict(),), timestamps),
            Envelope(payload, signature),
        ),
        tuple(notes),
    )


def _bundle_certificate(material: dict[str, Any], media_type: str, notes: list[str]) -> bytes:
    what = "bundle.verificationMaterial"
    present = [k for k in ("publicKey", "x509CertificateChain", "certificate") if k in material]
    if len(present) > 1:
        raise InputError(
            f"{what}: exactly one of publicKey, x509CertificateChain or certificate may be set, "
            f"got {' and '.join(present)}"
        )
    if present == ["publicKey"]:
        raise ConversionError(
            "bundle is signed with a public key, not a certificate; "
            "PEP 740 attestations need a Fulcio signing certificate"
        )

    if media_type not in _CHAIN_MEDIA_TYPES:
        if "certificate" not in material:
            raise ConversionError(
                f"expected certificate in bundle ({what}.certificate is required "
                f"for media type {media_type!r})"
            )
        der = _raw_bytes(material["certificate"], f"{what}.certificate")
        load_certificate(der, what=f"{what}.certificate")
        return der

    if "x509CertificateChain" not in material:
        raise ConversionError(
            f"expected certificate chain in bundle ({what}.x509CertificateChain is required "
            f"for media type {media_type!r})"
        )
    chain_what = f"{what}.x509CertificateChain"
    chain = _fields(material["x509CertificateChain"], ("certificates",), chain_what)
    certs = chain.get("certificates")
    if not isinstance(certs, list):
        raise InputError(f"{chain_what}.certificates must be an array, got {json_type(certs)}")
    if not certs:
        raise ConversionError("expected non-empty certificate chain in bundle")
    ders = [_raw_bytes(c, f"{chain_what}.certificates[{i}]") for i, c in enumerate(certs)]
    parsed = [
        load_certificate(d, what=f"{chain_what}.certificates[{i}]") for i, d in enumerate(ders)
    ]
    problem = _leaf_problem(parsed[0])
    if problem:
        raise ConversionError(
            f"the first certificate of the chain is not a signing leaf: {problem}"
        )
    if len(ders) > 1:
        notes.append(
            f"dropped {_count(len(ders) - 1, 'chain certificate')} after the leaf "
            "(a PEP 740 attestation carries the leaf only; the trust root supplies the chain)"
        )
    return ders[0]


def _bundle_log_entry(material: dict[str, Any]) -> LogEntry:
    what = "bundle.verificationMaterial.tlogEntries"
    entries = material.get("tlogEntries")
    if not isinstance(entries, list):
        raise InputError(f"{what} must be an array, got {json_type(entries)}")
    if len(entries) != 1:
        raise ConversionError(
            f"expected exactly one transparency log entry in bundle, got {len(entries)}"
        )
    return _log_entry(entries[0], f"{what}[0]")


def _bundle_timestamps(material: dict[str, Any]) -> tuple[bytes, ...]:
    what = "bundle.verificationMaterial.timestampVerificationData"
    if "timestampVerificationData" not in material:
        return ()
    data = _fields(material["timestampVerificationData"], ("rfc3161Timestamps",), what)
    tokens = data.get("rfc3161Timestamps", [])
    if tokens is None:
        return ()
    if not isinstance(tokens, list):
        raise InputError(f"{what}.rfc3161Timestamps must be an array, got {json_type(tokens)}")
    out: list[bytes] = []
    for i, token in enumerate(tokens):
        item_what = f"{what}.rfc3161Timestamps[{i}]"
        item = _fields(token, ("signedTimestamp",), item_what)
        if "signedTimestamp" not in item:
            raise InputError(f"{item_what}: missing signedTimestamp")
        der = b64decode(item["signedTimestamp"], what=f"{item_what}.signedTimestamp")
        if not _is_der_sequence(der):
            raise InputError(
                f"{item_what}.signedTimestamp is not a DER-encoded RFC 3161 TimeStampResp"
            )
        out.append(der)
    return tuple(out)


def _bundle_envelope(top: dict[str, Any], raw: bool, notes: list[str]) -> tuple[bytes, bytes]:
    if "dsseEnvelope" in top and "messageSignature" in top:
        raise InputError("bundle: exactly one of messageSignature or dsseEnvelope may be set")
    if "dsseEnvelope" not in top:
        if "messageSignature" in top:
            raise ConversionError(
                "bundle does not contain a DSSE envelope (it signs a plain message; "
                "re-sign with DSSE, e.g. actions/attest or attestkit sign)"
            )
        raise InputError("bundle: missing dsseEnvelope")

    what = "bundle.dsseEnvelope"
    env = _fields(top["dsseEnvelope"], ("payload", "payloadType", "signatures"), what)
    for key in ("payload", "payloadType", "signatures"):
        if key not in env:
            raise InputError(f"{what}: missing {key}")
    payload = b64decode(env["payload"], what=f"{what}.payload")
    payload_type = env["payloadType"]
    if not isinstance(payload_type, str):
        raise InputError(f"{what}.payloadType must be a string, got {json_type(payload_type)}")
    signatures = env["signatures"]
    if not isinstance(signatures, list):
        raise InputError(f"{what}.signatures must be an array, got {json_type(signatures)}")
    if len(signatures) != 1:
        raise ConversionError(f"expected exactly one signature, got {len(signatures)}")
    sig_what = f"{what}.signatures[0]"
    sig_obj = _fields(signatures[0], ("sig", "keyid"), sig_what)
    if "sig" not in sig_obj:
        raise InputError(f"{sig_what}: missing sig")
    signature = b64decode(sig_obj["sig"], what=f"{sig_what}.sig")
    keyid = sig_obj.get("keyid")
    if keyid is not None and not isinstance(keyid, str):
        raise InputError(f"{sig_what}.keyid must be a string, got {json_type(keyid)}")
    if keyid:
        notes.append(f"dropped keyid {keyid!r} from the DSSE signature")

    if payload_type != INTOTO_PAYLOAD_TYPE:
        if not raw:
            raise ConversionError(
                f"DSSE payloadType is {payload_type!r}, not {INTOTO_PAYLOAD_TYPE!r}; an "
                "attestation implies the in-toto type, so the payload would verify as an "
                f"in-toto statement the signer never made; {_RAW_HINT}"
            )
        notes.append(
            f"raw: payloadType {payload_type!r} is not carried; the attestation implies "
            f"{INTOTO_PAYLOAD_TYPE!r}, so its signature will not verify"
        )
    _check_statement(payload, raw, notes)
    return payload, signature


def _check_statement(payload: bytes, raw: bool, notes: list[str]) -> None:
    problem: str | None
    try:
        statement = Statement.from_bytes(payload)
    except InputError as exc:
        problem = f"DSSE payload is not an in-toto statement ({exc.reason})"
    else:
        if len(statement.subjects) != 1:
            problem = (
                f"statement has {len(statement.subjects)} subjects; "
                "PEP 740 requires exactly one (the distribution file)"
            )
            if not raw:
                # Not a conversion that failed: PyPI can never take this bundle.  What
                # works: one attestation per file.
                raise InputError(
                    f"{problem}, so PyPI cannot take this bundle. Attest each file on its own"
                    " (one actions/attest step per file, `subject-path: dist/NAME`), or sign"
                    " with `attestkit sign dist/*`, which writes one attestation per file"
                )
        elif statement.predicate_type not in ACCEPTED_PREDICATE_TYPES:
            problem = (
                f"statement predicateType {statement.predicate_type!r} is not one PyPI "
                f"accepts ({_ACCEPTED_PREDICATES_TEXT})"
            )
        else:
            problem = None
    if problem is None:
        return
    if not raw:
        raise ConversionError(f"{problem}; {_RAW_HINT}")
    notes.append(f"raw: {problem}")


# -- attestation -> bundle ---------------------------------------------------


def bundle_from_attestation(
    attestation: Attestation, *, media_type: str = BUNDLE_V03
) -> dict[str, Any]:
    """Build a Sigstore bundle (a JSON-ready dict) from an attestation.

    The default is a v0.3 bundle, as signers write; ``media_type`` may also be
    the alternate 0.3 spelling, 0.2 or 0.1 (which carry the leaf in a one-element
    ``x509CertificateChain``).  The DSSE payload type is the in-toto type PEP 740
    implies, and the attestation's timestamps become ``rfc3161Timestamps``.
    Key order and shape are what ``sigstore.models.Bundle.from_json`` accepts.

    Raises :class:`ConversionError` when the attestation cannot make a bundle
    sigstore would load: several transparency entries (a bundle holds exactly
    one; none is dropped silently), a bad certificate or entry, or no signed time.

    >>> att = Attestation.from_file(
    ...     "tests/data/rfc8785-0.1.2-py3-none-any.whl.publish.attestation")
    >>> bundle = bundle_from_attestation(att, media_type=BUNDLE_V02)
    >>> len(bundle["verificationMaterial"]["x509CertificateChain"]["certificates"])
    1
    """
    if media_type not in BUNDLE_MEDIA_TYPES:
        raise ConversionError(
            f"unsupported bundle media type {media_type!r} (expected one of {_MEDIA_TYPES_TEXT})"
        )
    vm = attestation.verification_material
    if len(vm.transparency_entries) != 1:
        raise ConversionError(
            f"attestation has {len(vm.transparency_entries)} transparency entries, but a "
            "Sigstore bundle holds exactly one; refusing to drop any"
        )
    try:
        cert = load_certificate(vm.certificate, what="certificate")
        if media_type in _CHAIN_MEDIA_TYPES:
            problem = _leaf_problem(cert)
            if problem:
                raise ConversionError(
                    f"the certificate is not a signing leaf, as a {media_type!r} bundle "
                    f"requires: {problem}"
                )
        entry = _log_entry(vm.transparency_entries[0], "transparency_entries[0]")
    except InputError as exc:
        raise ConversionError(exc.reason) from None
    if media_type == BUNDLE_V01 and entry.inclusion_promise is None:
        raise ConversionError(
            "the transparency entry has no inclusion promise, which a version 0.1 bundle requires"
        )
    if entry.inclusion_promise is None and not vm.timestamps:
        raise ConversionError(
            "the transparency entry has no inclusion promise and the attestation has no "
            "timestamps: the bundle would have no verifiable signing time"
        )

    cert_b64 = b64encode(vm.certificate)
    material: dict[str, Any]
    if media_type in _CHAIN_MEDIA_TYPES:
        material = {"x509CertificateChain": {"certificates": [{"rawBytes": cert_b64}]}}
    else:
        material = {"certificate": {"rawBytes": cert_b64}}
    material["tlogEntries"] = [entry.to_dict()]
    material["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": b64encode(t)} for t in vm.timestamps]
    }
    return {
        "mediaType": media_type,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": b64encode(attestation.envelope.statement),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": b64encode(attestation.envelope.signature)}],
        },
    }


def bundle_to_json(bundle: dict[str, Any]) -> str:
    """Serialise a bundle compactly, as sigstore-python's ``Bundle.to_json`` does.

    >>> bundle_to_json({"mediaType": BUNDLE_V03})
    '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}'
    """
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False)


# -- helpers -----------------------------------------------------------------

_UPPER = re.compile(r"([A-Z])")


def _snake(name: str) -> str:
    return _UPPER.sub(lambda m: "_" + m.group(1).lower(), name)


def _fields(value: object, names: tuple[str, ...], what: str) -> dict[str, Any]:
    """Check a protobuf-JSON object: known fields only (camelCase or proto names), nulls dropped.

    sigstore-models (pydantic, ``extra="forbid"``, ``validate_by_name``) accepts
    both spellings and rejects anything else; a ``null`` optional field is unset.
    """
    if not isinstance(value, dict):
        raise InputError(f"{what} must be an object, got {json_type(value)}")
    allowed = {n: n for n in names} | {_snake(n): n for n in names}
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, item in value.items():
        canonical = allowed.get(key)
        if canonical is None:
            raise InputError(f"{what}: unknown field {key!r}")
        if canonical in seen:
            raise InputError(f"{what}: field {canonical!r} given twice")
        seen.add(canonical)
        if item is not None:
            out[canonical] = item
    return out


def _raw_bytes(value: object, what: str) -> bytes:
    obj = _fields(value, ("rawBytes",), what)
    if "rawBytes" not in obj:
        raise InputError(f"{what}: missing rawBytes")
    return b64decode(obj["rawBytes"], what=f"{what}.rawBytes")


def _log_entry(value: object, what: str) -> LogEntry:
    """Parse one entry with sigstore-python's load-time requirements on top of LogEntry's."""
    if isinstance(value, dict):
        proof = value.get("inclusionProof", value.get("inclusion_proof"))
        if proof is None:
            raise ConversionError(
                "transparency log entry has no inclusion proof "
                "(sigstore requires one, with a checkpoint)"
            )
        if isinstance(proof, dict) and proof.get("checkpoint") is None:
            raise ConversionError("expected checkpoint in inclusion proof")
    entry = LogEntry.from_dict(value, what=what)
    assert entry.inclusion_proof is not None  # checked above
    if entry.kind_version not in _ENTRY_VERSIONS:
        raise ConversionError(
            f"transparency log entry version {entry.kind_version!r} is not supported "
            f"(expected {' or '.join(_ENTRY_VERSIONS)})"
        )
    proof_ = entry.inclusion_proof
    if proof_.tree_size <= proof_.log_index:
        raise InputError(
            f"{what}.inclusionProof: logIndex {proof_.log_index} must be less than "
            f"treeSize {proof_.tree_size}"
        )
    return entry


def _leaf_problem(cert: Certificate) -> str | None:
    """Why ``cert`` is not a Sigstore signing leaf (sigstore's ``cert_is_leaf``), or None."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    if cert.version != x509.Version.v3:
        return f"X.509 version {cert.version.name}, expected v3"
    exts = cert.extensions
    try:
        if exts.get_extension_for_class(x509.BasicConstraints).value.ca:
            return "it is a CA certificate"
    except x509.ExtensionNotFound:
        pass
    try:
        if not exts.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return "its key usage lacks digitalSignature"
    except x509.ExtensionNotFound:
        return "it has no key usage extension"
    try:
        eku = exts.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "it has no extended key usage extension"
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        return "its extended key usage lacks codeSigning"
    return None


def _is_der_sequence(der: bytes) -> bool:
    """True if ``der`` is one definite-length DER SEQUENCE spanning all of it.

    A cheap shape check for RFC 3161 responses; their signature and contents
    are checked at verification time.
    """
    if len(der) < 2 or der[0] != 0x30:
        return False
    length = der[1]
    offset = 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(der) < 2 + n:
            return False
        length = int.from_bytes(der[2 : 2 + n], "big")
        offset += n
    return len(der) == offset + length


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
