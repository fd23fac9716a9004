"""Persisted keys and CA certificates of a local Sigstore instance.

On first start, :meth:`KeyStore.open` creates every key (OIDC RSA-2048 signing
key, P-384 root and intermediate CA, P-256 CT-log and Rekor keys) and the CA
certificates in a temporary directory, then renames it into place, so a crash
never leaves a half-created key set.  Later starts load the same files.
Private keys are stored as PKCS#8 PEM files readable only by their owner.

Certificate profile (Fulcio's ``docs/certificate-specification.md``): the root is
self-signed with critical BasicConstraints CA:TRUE and critical KeyUsage
keyCertSign/cRLSign; the intermediate adds pathlen 0 and EKU codeSigning.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from attestkit.core.constants import DEV_CA_ORGANIZATION

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["KeyStore", "V2Keys", "key_id"]

ROOT_CN = "attestkit-local"
INTERMEDIATE_CN = "attestkit-local-intermediate"
#: How far back validity starts, so that a freshly created instance is valid "now".
_BACKDATE = dt.timedelta(hours=1)
_CA_LIFETIME = dt.timedelta(days=3650)


def key_id(public_key: object) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo: Sigstore's key and log id."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


@dataclass(frozen=True)
class KeyStore:
    """The keys of one instance, loaded from ``<data_dir>/keys``."""

    directory: Path
    created: dt.datetime
    tree_id: int
    #: Secret that authorizes minting tokens through the CI token endpoints.
    runner_token: str
    oidc_key: rsa.RSAPrivateKey
    oidc_kid: str
    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate_cert: x509.Certificate
    ct_key: ec.EllipticCurvePrivateKey
    rekor_key: ec.EllipticCurvePrivateKey

    @functools.cached_property
    def v2(self) -> V2Keys:
        """The Rekor v2 log's key and the timestamp authority's key and certificate.

        Created on first use (instances made before Rekor v2 support have none),
        atomically: a directory renamed into place, so concurrent nodes sharing
        the keys directory end up with one set.
        """
        return V2Keys.open(self)

    @property
    def valid_from(self) -> dt.datetime:
        """Start of validity of every key and certificate (in the past, UTC)."""
        return self.created - _BACKDATE

    @property
    def rekor_log_id(self) -> bytes:
        """The Rekor log id: SHA-256 of the log key's SPKI."""
        return key_id(self.rekor_key.public_key())

    @property
    def ct_log_id(self) -> bytes:
        """The CT log id: SHA-256 of the CT key's SPKI."""
        return key_id(self.ct_key.public_key())

    @property
    def organization(self) -> str:
        """The organization (O=) the CA certificates name: who runs this instance.

        :data:`~attestkit.core.constants.DEV_CA_ORGANIZATION` marks a development
        instance, whose identities are simulated.
        """
        from cryptography.x509.oid import NameOID

        names = self.intermediate_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(names[0].value) if names else ""

    @classmethod
    def open(
        cls, data_dir: str | os.PathLike[str], *, organization: str = DEV_CA_ORGANIZATION
    ) -> KeyStore:
        """Load the keys under ``data_dir``, creating them (atomically) on first use.

        ``organization`` names the CA in the certificates created on first use
        (later opens keep what was created); the default marks a development
        instance.
        """
        base = Path(data_dir)
        base.mkdir(parents=True, exist_ok=True)
        directory = base / "keys"
        if not directory.is_dir():
            tmp = Path(tempfile.mkdtemp(prefix=".keys-", dir=base))
            try:
                _generate(tmp, organization)
                try:
                    tmp.rename(directory)
                except OSError:
                    if not directory.is_dir():  # lost a race to another process: fine
                        raise
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp)
        return cls._load(directory)

    @classmethod
    def create(cls, directory: str | os.PathLike[str], *, organization: str) -> KeyStore:
        """Create a new key set in ``directory`` (which must not exist yet), atomically.

        For a scaled-out instance: every node loads the same directory
        (``keys_dir``), so every node signs with the same CA, log and issuer keys.
        """
        target = Path(directory)
        if target.exists():
            raise FileExistsError(f"{target} already exists: keys are never overwritten")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            _generate(tmp, organization)
            tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return cls._load(target)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> KeyStore:
        """Load an existing key set (``keys_dir``); FileNotFoundError or ValueError if unusable."""
        target = Path(directory)
        if not (target / "instance.json").is_file():
            raise FileNotFoundError(
                f"{target} holds no instance keys (create them with `attestkit sigstore keys"
                f" init {target}`)"
            )
        try:
            return cls._load(target)
        except (OSError, ValueError, KeyError, AssertionError) as exc:
            raise ValueError(f"{target}: the instance keys cannot be loaded: {exc}") from None

    @classmethod
    def _load(cls, directory: Path) -> KeyStore:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        meta = json.loads((directory / "instance.json").read_text())

        def private(name: str) -> object:
            return serialization.load_pem_private_key((directory / name).read_bytes(), None)

        oidc = private("oidc.pem")
        root = private("ca-root.pem")
        inter = private("ca-intermediate.pem")
        ct = private("ct.pem")
        rekor = private("rekor.pem")
        assert isinstance(oidc, rsa.RSAPrivateKey)
        for k in (root, inter, ct, rekor):
            assert isinstance(k, ec.EllipticCurvePrivateKey)
        return cls(
            directory=directory,
            created=dt.datetime.fromisoformat(meta["created"]),
            tree_id=int(meta["tree_id"]),
            runner_token=meta["runner_token"],
            oidc_key=oidc,
            oidc_kid=meta["oidc_kid"],
            root_key=root,  # type: ignore[arg-type]
            root_cert=x509.load_pem_x509_certificate((directory / "ca-root.crt").read_bytes()),
            intermediate_key=inter,  # type: ignore[arg-type]
            intermediate_cert=x509.load_pem_x509_certificate(
                (directory / "ca-intermediate.crt").read_bytes()
            ),
            ct_key=ct,  # type: ignore[arg-type]
            rekor_key=rekor,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class V2Keys:
    """``<keys>/v2/``: the Rekor v2 log's P-256 key and the TSA's key and certificate."""

    rekor_key: ec.EllipticCurvePrivateKey
    tsa_key: ec.EllipticCurvePrivateKey
    tsa_cert: x509.Certificate

    @property
    def rekor_log_id(self) -> bytes:
        """The v2 log's id: SHA-256 of its key's SPKI."""
        return key_id(self.rekor_key.public_key())

    @classmethod
    def open(cls, keys: KeyStore) -> V2Keys:
        """Load ``<keys>/v2``, creating it first if absent."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        directory = keys.directory / "v2"
        if not directory.is_dir():
            tmp = Path(tempfile.mkdtemp(prefix=".v2-", dir=keys.directory))
            try:
                _generate_v2(tmp, keys)
                try:
                    tmp.rename(directory)
                except OSError:
                    if not directory.is_dir():
                        raise
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp)
        rekor = serialization.load_pem_private_key((directory / "rekor.pem").read_bytes(), None)
        tsa = serialization.load_pem_private_key((directory / "tsa.pem").read_bytes(), None)
        assert isinstance(rekor, ec.EllipticCurvePrivateKey)
        assert isinstance(tsa, ec.EllipticCurvePrivateKey)
        cert = x509.load_pem_x509_certificate((directory / "tsa.crt").read_bytes())
        return cls(rekor, tsa, cert)


def _generate_v2(directory: Path, keys: KeyStore) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestkit.sigstore.local.tsa import tsa_certificate

    rekor = ec.generate_private_key(ec.SECP256R1())
    tsa = ec.generate_private_key(ec.SECP256R1())
    cert = tsa_certificate(
        tsa,
        keys.root_key,
        keys.root_cert,
        keys.organization,
        keys.root_cert.not_valid_before_utc,
        keys.root_cert.not_valid_after_utc,
    )
    for name, key in (("rekor.pem", rekor), ("tsa.pem", tsa)):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(directory / name, pem, 0o600)
    _write(directory / "tsa.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _fsync_directory(directory)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _generate(directory: Path, organization: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    oidc = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = ec.generate_private_key(ec.SECP384R1())
    inter = ec.generate_private_key(ec.SECP384R1())
    ct = ec.generate_private_key(ec.SECP256R1())
    rekor = ec.generate_private_key(ec.SECP256R1())
    root_cert = _ca_cert(root, root, None, organization, ROOT_CN, now, path_length=1)
    inter_cert = _ca_cert(inter, root, root_cert, organization, INTERMEDIATE_CN, now, path_length=0)

    def write(name: str, data: bytes, mode: int) -> None:
        path = directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    for name, key in (
        ("oidc.pem", oidc),
        ("ca-root.pem", root),
        ("ca-intermediate.pem", inter),
        ("ct.pem", ct),
        ("rekor.pem", rekor),
    ):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write(name, pem, 0o600)
    write("ca-root.crt", root_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    write("ca-intermediate.crt", inter_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    meta = {
        "created": now.isoformat(),
        # Rekor tree ids are positive int64s; keep it below 2**63.
        "tree_id": secrets.randbelow(2**62) + 1,
        "runner_token": secrets.token_urlsafe(32),
        "oidc_kid": key_id(oidc.public_key()).hex()[:16],
    }
    write("instance.json", json.dumps(meta, indent=2).encode(), 0o600)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _ca_cert(
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_cert: x509.Certificate | None,
    organization: str,
    common_name: str,
    now: dt.datetime,
    *,
    path_length: int,
) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    return builder.sign(issuer_key, hashes.SHA384())
