"""Sign distributions into PEP 740 attestations on any Sigstore instance.

The flow, per run: one ephemeral P-256 key and **one** Fulcio certificate
(its SCT and chain checked against the trust root, as sigstore-python does),
then, per file, a DSSE envelope over a one-subject in-toto statement, logged to
a Rekor **v1** log concurrently with the other files.  Each result becomes an
:class:`~attestkit.core.models.Attestation` directly and is verified with attestkit's
verifier against the signing identity before anything is returned.

Why not sigstore-python's ``Signer``: it builds pydantic bundle models for
every file and submits serially in pypi-attestations' loop; this lean client
(``requests`` + ``cryptography``, the same wire protocol) is what makes signing
100 files several times faster.  The tests check its output with
sigstore-python's verifier and pypi-attestations.

Rekor v1 only: a PEP 740 attestation has no field for RFC 3161 timestamps yet,
so a Rekor v2 entry (no integrated time, no SET) could never verify.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.core.constants import INTOTO_PAYLOAD_TYPE, PUBLISH_PREDICATE_V1
from attestkit.core.distribution import Distribution
from attestkit.core.encoding import b64encode, json_type, loads_json
from attestkit.core.log_entry import LogEntry
from attestkit.core.models import Attestation, Envelope, VerificationMaterial
from attestkit.core.statement import build_statement
from attestkit.errors import AttestkitError, InputError
from attestkit.sigstore.trust import TrustRoot

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "PlanError",
    "SignedFile",
    "SigningError",
    "SigningServices",
    "SigningSession",
    "sign",
    "slsa_predicate",
]

#: Default timeout (seconds) for every request (pypi-attestations sets none: D15 in
#: docs/defects.md).
DEFAULT_TIMEOUT = 30.0
USER_AGENT = "attestkit"


class SigningError(AttestkitError):
    """Signing failed: a service refused or could not be reached, or a result did not verify."""


@dataclass(frozen=True)
class SigningServices:
    """One Sigstore instance: CA, Rekor v1 log, OIDC issuer and trust root."""

    name: str
    ca_url: str
    rekor_url: str
    oidc_url: str | None
    trust_root: TrustRoot

    @classmethod
    def production(cls) -> SigningServices:
        """Sigstore's public-good instance (configuration shipped in the sigstore wheel)."""
        from attestkit.sigstore.trust import PRODUCTION_TUF_URL

        return cls._embedded("production", PRODUCTION_TUF_URL, TrustRoot.production())

    @classmethod
    def staging(cls) -> SigningServices:
        """Sigstore's staging instance."""
        from attestkit.sigstore.trust import STAGING_TUF_URL

        return cls._embedded("staging", STAGING_TUF_URL, TrustRoot.staging())

    @classmethod
    def _embedded(cls, name: str, url: str, root: TrustRoot) -> SigningServices:
        from attestkit.sigstore.trust import embedded_path

        path = embedded_path(url, "signing_config.v0.2.json")
        try:
            config = loads_json(path.read_bytes(), what="signing config")
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
        return cls._from_signing_config(name, config, root)

    @classmethod
    def from_trust_config(cls, data: str | bytes, *, source: str) -> SigningServices:
        """From a ClientTrustConfig JSON document (e.g. ``attestkit sigstore trust-config``)."""
        try:
            doc = loads_json(data, what="trust config")
            if not isinstance(doc, dict) or not isinstance(doc.get("signingConfig"), dict):
                raise InputError(
                    "not a ClientTrustConfig with a signingConfig (a bare trusted root"
                    " can verify but not sign)"
                )
            root = TrustRoot.from_json(data, source=source)
            return cls._from_signing_config(source, doc["signingConfig"], root)
        except InputError as exc:
            raise exc.with_source(source) from None

    @classmethod
    def from_file(cls, path: str) -> SigningServices:
        """From a ClientTrustConfig file."""
        from attestkit.core.encoding import read_bytes

        return cls.from_trust_config(read_bytes(path), source=path)

    @classmethod
    def from_local(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> SigningServices:
        """From a running ``attestkit serve`` / ``attestkit sigstore serve`` at ``url``."""
        import requests

        config_url = url.rstrip("/") + "/trust-config.json"
        try:
            response = requests.get(config_url, timeout=timeout, headers={"User-Agent": USER_AGENT})
        except requests.RequestException as exc:
            raise SigningError(
                f"cannot reach the local instance at {url}: {_reason(exc)}"
            ) from None
        if response.status_code != 200:
            raise SigningError(
                f"{config_url} answered {response.status_code}; is an attestkit instance running?"
            )
        return cls.from_trust_config(response.content, source=config_url)

    @classmethod
    def _from_signing_config(cls, name: str, config: object, root: TrustRoot) -> SigningServices:
        if not isinstance(config, dict):
            raise InputError(f"signingConfig must be an object, got {json_type(config)}")
        ca = _select(config, "caUrls", {1})
        rekor = _select(config, "rekorTlogUrls", {1})
        oidc = _select(config, "oidcUrls", {1}, required=False)
        if ca is None:
            raise InputError("signing config has no valid certificate authority (caUrls)")
        if rekor is None:
            raise InputError(
                "signing config has no valid Rekor v1 log; PEP 740 attestations need one"
                " (they cannot carry the RFC 3161 timestamps a Rekor v2 entry relies on)"
            )
        return cls(name, ca.rstrip("/"), rekor.rstrip("/"), oidc, root)


def _select(
    config: dict[str, Any], key: str, versions: set[int], *, required: bool = True
) -> str | None:
    """The first service valid now with a supported API version (sigstore's selection order)."""
    from attestkit.sigstore.trust import parse_timestamp

    services = config.get(key, [])
    if not isinstance(services, list):
        raise InputError(f"signingConfig.{key} must be an array")
    now = datetime.now(UTC)
    for i, service in enumerate(services):
        what = f"signingConfig.{key}[{i}]"
        if not isinstance(service, dict) or not isinstance(service.get("url"), str):
            raise InputError(f"{what} must be an object with a url")
        if service.get("majorApiVersion") not in versions:
            continue
        valid = service.get("validFor")
        if isinstance(valid, dict):
            start = parse_timestamp(valid.get("start"), f"{what}.validFor.start")
            end = valid.get("end")
            if start > now or (
                end is not None and parse_timestamp(end, f"{what}.validFor.end") < now
            ):
                continue
        return str(service["url"])
    return None


class _Http:
    """A thread-safe keep-alive HTTP client for the signing hot path (urllib3).

    Proxy (``HTTPS_PROXY``/``NO_PROXY``...) and CA-bundle settings
    (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else certifi) are read from the
    environment once, the way requests reads them.  urllib3 directly costs
    about half of requests' per-call overhead, which matters when a run logs
    hundreds of entries.
    """

    def __init__(self, urls: Sequence[str], *, timeout: float, connections: int) -> None:
        from urllib.parse import urlsplit

        import certifi
        import urllib3
        from requests.utils import get_environ_proxies

        proxy = None
        for url in urls:
            proxies = get_environ_proxies(url)
            proxy = proxy or proxies.get(urlsplit(url).scheme) or proxies.get("all")
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        options: dict[str, Any] = {
            "maxsize": max(1, connections),
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": ca or certifi.where(),
            "timeout": urllib3.Timeout(total=timeout),
            "retries": False,
            "headers": {"User-Agent": USER_AGENT},
        }
        self.pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def post_json(self, url: str, body: object, headers: dict[str, str] | None = None) -> _Reply:
        """POST ``body`` as JSON; transport failures raise :class:`OSError`-like urllib3 errors."""
        response = self.pool.request(
            "POST",
            url,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        return _Reply(response.status, response.data)


@dataclass(frozen=True)
class _Reply:
    status: int
    content: bytes

    def message(self) -> str:
        """The server's error message (Sigstore JSON ``message``), or the body's start."""
        try:
            body = json.loads(self.content)
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                return str(body["message"])
        except ValueError:
            pass
        return " ".join(self.content.decode("utf-8", "replace").split())[:200]


def _reason(exc: BaseException) -> str:
    """A short one-line reason for a requests or urllib3 transport exception."""
    import requests
    from urllib3.exceptions import NewConnectionError, ProtocolError, TimeoutError

    if isinstance(exc, NewConnectionError | ProtocolError | requests.ConnectionError) and not (
        isinstance(exc, requests.Timeout)
    ):
        return "connection refused or host unreachable"
    if isinstance(exc, TimeoutError | requests.Timeout):
        return "timed out"
    return " ".join(str(exc).split())[:200]


@dataclass(frozen=True)
class SignedStatement:
    """What one file's signing produced."""

    dist: Distribution
    predicate_type: str
    attestation: Attestation


class SigningSession:
    """One identity token, one key, one certificate; signs many statements concurrently."""

    def __init__(
        self,
        services: SigningServices,
        identity_token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        workers: int = 8,
    ) -> None:
        self.services = services
        self.identity_token = identity_token
        self.timeout = timeout
        self.workers = max(1, workers)
        self._http: _Http | None = None
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._cert: x509.Certificate | None = None
        self._cert_der = b""
        self._verifier_pem = ""

    # -- HTTP -----------------------------------------------------------------
    def _client(self) -> _Http:
        if self._http is None:
            self._http = _Http(
                [self.services.ca_url, self.services.rekor_url],
                timeout=self.timeout,
                connections=self.workers,
            )
        return self._http

    # -- certificate ------------------------------------------------------------
    def certificate(self) -> x509.Certificate:
        """Request (once) and check the signing certificate."""
        if self._cert is not None:
            if datetime.now(UTC) > self._cert.not_valid_after_utc:
                raise SigningError("the signing certificate expired during the run; sign again")
            return self._cert
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from urllib3.exceptions import HTTPError

        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        body: dict[str, Any] = {
            "certificateSigningRequest": b64encode(csr.public_bytes(serialization.Encoding.PEM))
        }
        url = f"{self.services.ca_url}/api/v2/signingCert"
        try:
            response = self._client().post_json(
                url,
                body,
                {
                    "Authorization": f"Bearer {self.identity_token}",
                    "Accept": "application/pem-certificate-chain",
                },
            )
        except HTTPError as exc:
            raise SigningError(
                f"cannot reach the certificate authority at {self.services.ca_url}: {_reason(exc)}"
            ) from None
        if response.status // 100 != 2:
            raise SigningError(
                f"the certificate authority refused the request ({response.status}):"
                f" {response.message()}"
            )
        try:
            reply = json.loads(response.content)
            chain_pem = reply["signedCertificateEmbeddedSct"]["chain"]["certificates"]
            chain = [x509.load_pem_x509_certificate(c.encode()) for c in chain_pem]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SigningError(
                "the certificate authority's response has no certificate chain"
            ) from None
        if len(chain) < 2:
            raise SigningError("the certificate authority returned no issuer certificate")
        cert = chain[0]
        if cert.public_key() != key.public_key():
            raise SigningError("the certificate authority certified a different key")
        self._check_certificate(cert)
        self._key = key
        self._cert = cert
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self._verifier_pem = b64encode(cert.public_bytes(serialization.Encoding.PEM))
        return cert

    def _check_certificate(self, cert: x509.Certificate) -> None:
        """The chain and SCT checks sigstore-python's signer makes, against our trust root."""
        from attestkit.errors import VerificationError
        from attestkit.sigstore.verify.engine import verify_chain, verify_sct

        root = self.services.trust_root
        try:
            chain = verify_chain(root, cert, datetime.now(UTC))
            verify_sct(cert, chain, root.ct_keyring)
        except VerificationError as exc:
            raise SigningError(
                f"the certificate from {self.services.ca_url} does not verify against the"
                f" {root.name} trust root: {exc.reason}"
            ) from None

    # -- signing ------------------------------------------------------------------
    def sign(
        self,
        dist: Distribution,
        predicate_type: str = PUBLISH_PREDICATE_V1,
        predicate: dict[str, Any] | None = None,
    ) -> Attestation:
        """Sign one statement about ``dist`` and log it; returns the attestation."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from urllib3.exceptions import HTTPError

        from attestkit.sigstore.verify.engine import pae

        self.certificate()
        assert self._key is not None
        payload = build_statement(dist.name, dist.digest, predicate_type, predicate)
        signature = self._key.sign(pae(INTOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
        envelope = json.dumps(
            {
                "payload": b64encode(payload),
                "payloadType": INTOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": b64encode(signature)}],
            },
            separators=(",", ":"),
        )
        proposed: dict[str, Any] = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {"envelope": envelope, "verifiers": [self._verifier_pem]}},
        }
        url = f"{self.services.rekor_url}/api/v1/log/entries"
        try:
            response = self._client().post_json(url, proposed, {"Accept": "application/json"})
        except HTTPError as exc:
            raise SigningError(
                f"cannot reach the transparency log at {self.services.rekor_url}: {_reason(exc)}"
            ) from None
        if response.status // 100 != 2:
            raise SigningError(
                f"the transparency log refused the entry for {dist.name}"
                f" ({response.status}): {response.message()}"
            )
        entry = _entry_from_response(response.content)
        return Attestation(
            VerificationMaterial(self._cert_der, (entry.to_dict(),)),
            Envelope(payload, signature),
        )

    def sign_many(
        self,
        items: Sequence[tuple[Distribution, str, dict[str, Any] | None]],
        *,
        on_done: Callable[[int], None] | None = None,
        check: Callable[[Distribution, Attestation], None] | None = None,
    ) -> list[Attestation]:
        """Sign ``(dist, predicate_type, predicate)`` items concurrently, results in order.

        ``check`` runs on each result in its worker, so verification overlaps
        the other files' requests.  The first failure cancels what has not
        started and is raised.
        """
        self.certificate()
        results: list[Attestation | None] = [None] * len(items)

        def one(dist: Distribution, ptype: str, predicate: dict[str, Any] | None) -> Attestation:
            attestation = self.sign(dist, ptype, predicate)
            if check is not None:
                check(dist, attestation)
            return attestation

        if len(items) <= 1 or self.workers == 1:
            for i, (dist, ptype, predicate) in enumerate(items):
                results[i] = one(dist, ptype, predicate)
                if on_done:
                    on_done(i)
        else:
            from concurrent.futures import as_completed

            pool = ThreadPoolExecutor(max_workers=min(self.workers, len(items)))
            futures = {
                pool.submit(one, dist, ptype, predicate): i
                for i, (dist, ptype, predicate) in enumerate(items)
            }
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    results[i] = future.result()
                    if on_done:
                        on_done(i)
            finally:
                # Never block on a hung request when failing or interrupted.
                pool.shutdown(wait=False, cancel_futures=True)
        return [r for r in results if r is not None]

    @property
    def identity(self) -> tuple[str, str]:
        """``(SAN, issuer)`` of the signing certificate."""
        from attestkit.core.certificate import CertificateClaims

        claims = CertificateClaims.from_certificate(self.certificate())
        return (claims.identity or "", claims.claims.get("issuer_v1") or claims.issuer or "")


def _entry_from_response(content: bytes) -> LogEntry:
    """Turn a Rekor v1 ``{uuid: entry}`` response into a protobuf-JSON :class:`LogEntry`."""
    try:
        obj = json.loads(content)
        ((_, raw),) = obj.items()
        body = base64.b64decode(raw["body"], validate=True)
        kind = json.loads(body)
        proof = raw["verification"]["inclusionProof"]
        entry = {
            "logIndex": str(int(raw["logIndex"])),
            "logId": {"keyId": b64encode(bytes.fromhex(raw["logID"]))},
            "kindVersion": {"kind": kind["kind"], "version": kind["apiVersion"]},
            "integratedTime": str(int(raw["integratedTime"])),
            "inclusionPromise": {
                "signedEntryTimestamp": raw["verification"]["signedEntryTimestamp"]
            },
            "inclusionProof": {
                "logIndex": str(int(proof["logIndex"])),
                "rootHash": b64encode(bytes.fromhex(proof["rootHash"])),
                "treeSize": str(int(proof["treeSize"])),
                "hashes": [b64encode(bytes.fromhex(h)) for h in proof["hashes"]],
                "checkpoint": {"envelope": proof["checkpoint"]},
            },
            "canonicalizedBody": raw["body"],
        }
        return LogEntry.from_dict(entry)
    except (ValueError, KeyError, TypeError, AttributeError, InputError) as exc:
        detail = exc.reason if isinstance(exc, InputError) else type(exc).__name__
        raise SigningError(f"the transparency log's response is malformed ({detail})") from None


# -- signing files ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedFile:
    """The outcome for one distribution."""

    dist: Path
    written: tuple[Path, ...]
    #: Existing attestations kept because they verify for this file and identity.
    kept: tuple[Path, ...]
    log_indexes: tuple[int, ...]


class PlanError(InputError):
    """One or more inputs cannot be signed; nothing was contacted or written."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")


@dataclass
class _Job:
    path: Path
    dist: Distribution
    outputs: list[tuple[str, dict[str, Any] | None, Path]]  # (predicate type, predicate, file)
    keep: list[tuple[Path, Attestation]]


def slsa_predicate(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an SLSA v1 predicate: a bare predicate object, or a statement carrying one."""
    from attestkit.core.constants import SLSA_PREDICATE_V1
    from attestkit.core.encoding import read_json

    obj = read_json(path)
    if not isinstance(obj, dict):
        raise InputError("SLSA provenance must be a JSON object", source=str(path))
    if "predicateType" in obj and "_type" in obj:
        if obj["predicateType"] != SLSA_PREDICATE_V1:
            raise InputError(
                f"statement has predicateType {obj['predicateType']!r}, expected"
                f" {SLSA_PREDICATE_V1!r}",
                source=str(path),
            )
        predicate = obj.get("predicate")
        if not isinstance(predicate, dict):
            raise InputError("statement has no predicate object", source=str(path))
        return predicate
    return obj


def plan(
    dists: Sequence[str | os.PathLike[str]],
    *,
    slsa: dict[str, Any] | None = None,
    overwrite: bool = False,
    skip_verified: bool = False,
) -> list[_Job]:
    """Check every input before any network call; raise :class:`PlanError` listing all problems."""
    from attestkit.core.constants import SLSA_PREDICATE_V1

    jobs: list[_Job] = []
    errors: list[InputError] = []
    seen: set[Path] = set()
    for raw in dists:
        path = Path(raw)
        try:
            dist = Distribution.from_file(path)
        except InputError as exc:
            errors.append(exc.with_source(str(path)))  # type: ignore[arg-type]
            continue
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        wanted: list[tuple[str, dict[str, Any] | None, Path]] = [
            (PUBLISH_PREDICATE_V1, None, path.with_name(f"{path.name}.publish.attestation"))
        ]
        if slsa is not None:
            wanted.append(
                (SLSA_PREDICATE_V1, slsa, path.with_name(f"{path.name}.slsa.attestation"))
            )
        job = _Job(path, dist, [], [])
        for ptype, predicate, out in wanted:
            if out.exists() and not overwrite:
                if not skip_verified:
                    errors.append(
                        InputError(
                            f"{out.name} already exists (use --overwrite to replace it, or"
                            " --skip-verified to keep it if it verifies)",
                            source=str(path),
                        )
                    )
                    continue
                try:
                    job.keep.append((out, Attestation.from_file(out)))
                except InputError as exc:
                    errors.append(
                        InputError(
                            f"existing {out.name} is not a valid attestation ({exc.reason});"
                            " use --overwrite",
                            source=str(path),
                        )
                    )
                continue
            job.outputs.append((ptype, predicate, out))
        jobs.append(job)
    if errors:
        raise PlanError(errors)
    return jobs


def sign(
    dists: Sequence[str | os.PathLike[str]],
    *,
    identity_token: str | None = None,
    services: SigningServices | Callable[[], SigningServices] | None = None,
    slsa_provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
    skip_verified: bool = False,
    interactive: bool | None = False,
    workers: int = 8,
    timeout: float = DEFAULT_TIMEOUT,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[SignedFile]:
    """Sign distribution files into ``<dist>.publish.attestation`` (and ``.slsa.attestation``).

    All inputs are checked first (``services`` may be a callable, resolved only
    after that, so a bad input never costs a network call); then one certificate
    is requested, every
    statement is signed and logged, and every result is verified.  Files are
    written only when all of that succeeded, atomically: on any failure nothing
    is written.

    >>> sign(["dist/pkg-1.0.tar.gz"], identity_token=jwt,  # doctest: +SKIP
    ...      services=SigningServices.from_local("http://127.0.0.1:8080"))
    """
    from attestkit.client.identity import find_identity_token
    from attestkit.core.policy import Identity
    from attestkit.sigstore.verify.attestation import Verifier

    jobs = plan(dists, slsa=slsa_provenance, overwrite=overwrite, skip_verified=skip_verified)
    # Resolved only now: fetching a trust config may be the first network call.
    if services is None:
        services = SigningServices.production()
    elif not isinstance(services, SigningServices):
        services = services()
    token, _ = find_identity_token(
        identity_token, interactive=interactive, oidc_url=services.oidc_url
    )
    session = SigningSession(services, token, timeout=timeout, workers=workers)
    session.certificate()
    san, issuer = session.identity
    identity = Identity(san, issuer)
    verifier = Verifier(services.trust_root)

    for job in jobs:
        for out, existing in job.keep:
            try:
                verifier.verify(existing, identity, job.dist)
            except AttestkitError as exc:
                raise SigningError(
                    f"{job.path}: existing {out.name} does not verify for {san}: {exc.reason}"
                    " (use --overwrite to replace it)"
                ) from None

    items = [(job, ptype, predicate, out) for job in jobs for ptype, predicate, out in job.outputs]
    done = 0

    def progress(_: int) -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, len(items))

    def check(dist: Distribution, att: Attestation) -> None:
        try:
            verifier.verify(att, identity, dist)
        except AttestkitError as exc:
            raise SigningError(
                f"{dist.name}: the new attestation does not verify ({exc.reason}); nothing written"
            ) from None

    attestations = session.sign_many(
        [(job.dist, ptype, predicate) for job, ptype, predicate, _ in items],
        on_done=progress,
        check=check,
    )

    _write_all(
        [
            (out, att.to_json().encode())
            for (_, _, _, out), att in zip(items, attestations, strict=True)
        ]
    )
    by_job: dict[Path, list[tuple[Path, Attestation]]] = {}
    for (job, _, _, out), att in zip(items, attestations, strict=True):
        by_job.setdefault(job.path, []).append((out, att))
    results = []
    for job in jobs:
        written = by_job.get(job.path, [])
        results.append(
            SignedFile(
                job.path,
                tuple(out for out, _ in written),
                tuple(out for out, _ in job.keep),
                tuple(
                    LogEntry.from_dict(att.verification_material.transparency_entries[0]).log_index
                    for _, att in written
                ),
            )
        )
    return results


def _exclusive_temp(target: Path) -> tuple[Path, int]:
    """Create ``.<name>.<pid>.<n>.tmp`` beside ``target`` exclusively (cheaper than mkstemp)."""
    for n in range(1000):
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{n}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
    raise SigningError(f"cannot create a temporary file beside {target}")


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    """Write every file or none: all temporary files first, then the renames."""
    temps: list[tuple[Path, Path]] = []
    try:
        for target, data in files:
            tmp, fd = _exclusive_temp(target)
            temps.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fdatasync(handle.fileno())
        for tmp, target in temps:
            tmp.replace(target)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
