"""The ClientTrustConfig of a local instance, as sigstore-python 4.5 loads it.

Exact media types and no extra keys (sigstore-models rejects unknown keys):
trusted root ``application/vnd.dev.sigstore.trustedroot+json;version=0.1`` and
signing config ``application/vnd.dev.sigstore.signingconfig.v0.2+json``
(sigstore-python's ``--trust-config`` format).  By default only the Rekor v1 log
is advertised and no TSA, so signers write entries PyPI accepts today.  In Rekor v2
mode the signing config sends signers to the v2 log and the timestamp authority
(``majorApiVersion`` 2 and 1, as sigstore-python selects them), and the trusted
root lists both logs and the TSA's chain.
"""

from __future__ import annotations

import base64
from typing import Any

from attestkit.sigstore.local.keys import INTERMEDIATE_CN, KeyStore, key_id

__all__ = ["OPERATOR", "client_trust_config", "signing_config", "trusted_root"]

CLIENT_TRUST_CONFIG = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
OPERATOR = "attestkit.local"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _spki(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _valid_for(keys: KeyStore) -> dict[str, str]:
    return {"start": keys.valid_from.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _tsa(keys: KeyStore, url: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    der = serialization.Encoding.DER
    return {
        "subject": {"organization": keys.organization, "commonName": "attestkit-local-tsa"},
        "uri": f"{url}/api/v1/timestamp",
        "certChain": {
            "certificates": [
                {"rawBytes": _b64(keys.v2.tsa_cert.public_bytes(der))},
                {"rawBytes": _b64(keys.root_cert.public_bytes(der))},
            ]
        },
        "validFor": _valid_for(keys),
    }


def _log(keys: KeyStore, public_key: Any, url: str) -> dict[str, Any]:
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(_spki(public_key)),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": _valid_for(keys),
        },
        "logId": {"keyId": _b64(key_id(public_key))},
    }


def trusted_root(keys: KeyStore, url: str, *, rekor_v2: bool = False) -> dict[str, Any]:
    """The TrustedRoot: the Rekor and CT keys and the CA chain (intermediate, root); with
    ``rekor_v2``, also the v2 log's key and the timestamp authority."""
    from cryptography.hazmat.primitives import serialization

    der = serialization.Encoding.DER
    return {
        "mediaType": TRUSTED_ROOT,
        "tlogs": [
            _log(keys, keys.rekor_key.public_key(), url),
            *([_log(keys, keys.v2.rekor_key.public_key(), url)] if rekor_v2 else []),
        ],
        "certificateAuthorities": [
            {
                "subject": {"organization": keys.organization, "commonName": INTERMEDIATE_CN},
                "uri": url,
                "certChain": {
                    "certificates": [
                        {"rawBytes": _b64(keys.intermediate_cert.public_bytes(der))},
                        {"rawBytes": _b64(keys.root_cert.public_bytes(der))},
                    ]
                },
                "validFor": _valid_for(keys),
            }
        ],
        "ctlogs": [_log(keys, keys.ct_key.public_key(), url)],
        "timestampAuthorities": [_tsa(keys, url)] if rekor_v2 else [],
    }


def signing_config(
    keys: KeyStore, url: str, *, issuer: bool = True, rekor_v2: bool = False
) -> dict[str, Any]:
    """The SigningConfig v0.2: this instance's CA, OIDC issuer and Rekor log (v1, or v2
    with the timestamp authority).

    ``issuer=False`` (a private instance, which runs no issuer of its own)
    lists no OIDC URL: signers bring a token from the issuers it trusts.
    """

    def service(version: int = 1, path: str = "") -> dict[str, Any]:
        return {
            "url": url + path,
            "majorApiVersion": version,
            "validFor": _valid_for(keys),
            "operator": OPERATOR,
        }

    return {
        "mediaType": SIGNING_CONFIG,
        "caUrls": [service()],
        "oidcUrls": [service()] if issuer else [],
        "rekorTlogUrls": [service(2)] if rekor_v2 else [service()],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaUrls": [service(1, "/api/v1/timestamp")] if rekor_v2 else [],
        "tsaConfig": {"selector": "ANY"},
    }


def client_trust_config(
    keys: KeyStore, url: str, *, issuer: bool = True, rekor_v2: bool = False
) -> dict[str, Any]:
    """The ClientTrustConfig for ``sigstore --trust-config`` / ``ClientTrustConfig.from_json``.

    ``issuer`` says whether the instance runs its own OIDC issuer (development);
    ``rekor_v2`` whether it runs the v2 log and timestamp authority.
    """
    url = url.rstrip("/")
    return {
        "mediaType": CLIENT_TRUST_CONFIG,
        "trustedRoot": trusted_root(keys, url, rekor_v2=rekor_v2),
        "signingConfig": signing_config(keys, url, issuer=issuer, rekor_v2=rekor_v2),
    }
