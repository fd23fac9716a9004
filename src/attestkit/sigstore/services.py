"""One Sigstore instance's services for signing: CA, Rekor log, TSA, OIDC issuer, trust root.

A SigningConfig (v0.2, inside a ClientTrustConfig or shipped for the public
instances) lists services with API versions and validity windows; the first
valid one with a supported version is used, in the order sigstore-python picks.

The Rekor log: a Rekor v1 log when the config offers one, because PyPI accepts
only Rekor v1 attestations today; otherwise (an instance that offers only a
Rekor v2 log, such as ``attestkit sigstore serve --rekor-v2``) the v2 log, with
the config's timestamp authority, which a v2 entry needs for its signing time.
``rekor_version`` asks for one version explicitly.  (sigstore-python 4.5 takes
the highest version an operator offers, so on staging it picks v2.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from attestkit.core.encoding import json_type, loads_json
from attestkit.errors import AttestkitError, InputError
from attestkit.sigstore.trust import TrustRoot

if TYPE_CHECKING:
    from attestkit.sigstore.roots import Instance
from attestkit.sigstore.http import DEFAULT_TIMEOUT, USER_AGENT, transport_reason

__all__ = ["SigningError", "SigningServices"]


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
    #: The Rekor API version of ``rekor_url`` (1 or 2).
    rekor_version: int = 1
    #: The RFC 3161 timestamp authority (needed with a Rekor v2 log).
    tsa_url: str | None = None
    #: The SigningConfig these were selected from (for :meth:`with_rekor_version`).
    signing_config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def production(cls) -> SigningServices:
        """Sigstore's public-good instance (configuration shipped with attestkit)."""
        return cls._embedded("production", "public-good", TrustRoot.production())

    @classmethod
    def staging(cls) -> SigningServices:
        """Sigstore's staging instance."""
        return cls._embedded("staging", "staging", TrustRoot.staging())

    @classmethod
    def _embedded(cls, name: str, instance: Instance, root: TrustRoot) -> SigningServices:
        from attestkit.sigstore.roots import read

        config = loads_json(read(instance, "signing_config.v0.2.json"), what="signing config")
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
                f"cannot reach the local instance at {url}: {transport_reason(exc)}"
            ) from None
        if response.status_code != 200:
            raise SigningError(
                f"{config_url} answered {response.status_code}; is an attestkit instance running?"
            )
        return cls.from_trust_config(response.content, source=config_url)

    def with_rekor_version(self, version: int | None) -> SigningServices:
        """These services with the Rekor log of API ``version`` (None: the default choice)."""
        return self._from_signing_config(self.name, self.signing_config, self.trust_root, version)

    @classmethod
    def _from_signing_config(
        cls, name: str, config: object, root: TrustRoot, rekor_version: int | None = None
    ) -> SigningServices:
        if not isinstance(config, dict):
            raise InputError(f"signingConfig must be an object, got {json_type(config)}")
        ca = select_service(config, "caUrls", {1})
        oidc = select_service(config, "oidcUrls", {1}, required=False)
        if ca is None:
            raise InputError("signing config has no valid certificate authority (caUrls)")
        rekor, version = None, rekor_version
        for candidate in (rekor_version,) if rekor_version else (1, 2):
            rekor = select_service(config, "rekorTlogUrls", {candidate})
            if rekor is not None:
                version = candidate
                break
        if rekor is None:
            wanted = f"Rekor v{rekor_version}" if rekor_version else "Rekor (v1 or v2)"
            raise InputError(f"signing config has no valid {wanted} log (rekorTlogUrls)")
        tsa = select_service(config, "tsaUrls", {1}, required=False)
        if version == 2 and tsa is None:
            raise InputError(
                "signing config selects a Rekor v2 log but lists no valid timestamp authority"
                " (tsaUrls): a v2 entry's signing time comes only from a timestamp"
            )
        return cls(
            name,
            ca.rstrip("/"),
            rekor.rstrip("/"),
            oidc,
            root,
            rekor_version=version or 1,
            tsa_url=tsa if version == 2 else None,
            signing_config=config,
        )


def select_service(
    config: dict[str, Any], key: str, versions: set[int], *, required: bool = True
) -> str | None:
    """The first service valid now with a supported API version (sigstore's selection order)."""
    from attestkit.sigstore.schema import parse_timestamp

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
