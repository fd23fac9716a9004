"""Rekor clients: submit a DSSE envelope, get a protobuf-JSON log entry back.

Rekor v1: ``POST {rekor}/api/v1/log/entries`` with a ``dsse`` v0.0.1 proposed
entry (Rekor's ``pkg/types/dsse``); the ``{uuid: entry}`` answer is turned into
the ``TransparencyLogEntry`` layout PEP 740 attestations carry (inclusion proof,
checkpoint, SET, canonicalized body).

Rekor v2: ``POST {rekor}/api/v2/log/entries`` with a ``hashedRekordRequestV002``
over the envelope's PAE digest (rekor-tiles' ``CLIENTS.md``; sigstore-python's
``RekorV2Client._build_dsse_request``); the answer already is a
``TransparencyLogEntry``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from attestkit.core.encoding import b64encode
from attestkit.core.log_entry import LogEntry
from attestkit.errors import InputError
from attestkit.sigstore.http import HttpClient, transport_reason
from attestkit.sigstore.services import SigningError

__all__ = ["entry_from_response", "submit_dsse", "submit_dsse_v2"]


def submit_dsse(
    http: HttpClient, rekor_url: str, envelope: str, verifier_pem: str, name: str
) -> LogEntry:
    """Log ``envelope`` (compact DSSE JSON) signed by the certificate ``verifier_pem``."""
    proposed: dict[str, Any] = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope, "verifiers": [verifier_pem]}},
    }
    return entry_from_response(_post(http, rekor_url, "/api/v1/log/entries", proposed, name))


def _post(http: HttpClient, rekor_url: str, path: str, body: object, name: str) -> bytes:
    """POST an entry to the log; its answer, or a one-line :class:`SigningError`."""
    from urllib3.exceptions import HTTPError

    try:
        response = http.post_json(f"{rekor_url}{path}", body, {"Accept": "application/json"})
    except HTTPError as exc:
        raise SigningError(
            f"cannot reach the transparency log at {rekor_url}: {transport_reason(exc)}"
        ) from None
    if response.status // 100 != 2:
        raise SigningError(
            f"the transparency log refused the entry for {name}"
            f" ({response.status}): {response.message()}"
        )
    return response.content


def submit_dsse_v2(
    http: HttpClient,
    rekor_url: str,
    pae_digest: bytes,
    signature: bytes,
    cert_der: bytes,
    name: str,
) -> LogEntry:
    """Log a DSSE signature on a Rekor v2 log (a hashedrekord 0.0.2 over the PAE digest)."""
    request = {
        "hashedRekordRequestV002": {
            "digest": b64encode(pae_digest),
            "signature": {
                "content": b64encode(signature),
                "verifier": {
                    "x509Certificate": {"rawBytes": b64encode(cert_der)},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                },
            },
        }
    }
    content = _post(http, rekor_url, "/api/v2/log/entries", request, name)
    try:
        return LogEntry.from_dict(json.loads(content))
    except (ValueError, InputError) as exc:
        detail = exc.reason if isinstance(exc, InputError) else type(exc).__name__
        raise SigningError(f"the transparency log's response is malformed ({detail})") from None


def entry_from_response(content: bytes) -> LogEntry:
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
