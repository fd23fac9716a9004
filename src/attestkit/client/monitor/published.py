"""What a project has published: the log entries of its files' attestations (PEP 740).

For each watched project on each watched index, the monitor reads the Simple API
page and every file's provenance (the Integrity API), and collects the leaf hash
of every transparency-log entry its attestations carry.  A log entry of a
watched identity whose leaf hash is among them is a published release; one that
is not, once its grace period has passed, was signed by the identity but never
published.  The leaf hash identifies an entry whatever log or index it is read
from (it covers the canonical body the log stores).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from attestkit.client.monitor.tree import leaf_hash

__all__ = ["published_leaves"]


def published_leaves(session: Any, indexes: Iterable[str], projects: Iterable[str]) -> set[bytes]:
    """Leaf hashes of every log entry in the provenance of the projects' files."""
    from attestkit.client.simple_api import SimpleClient

    client = SimpleClient(session)
    leaves: set[bytes] = set()
    for index in indexes:
        for project in projects:
            page = client.project(index, project)
            if page is None:
                continue
            for file in page.files:
                if file.provenance is None:
                    continue
                provenance = client.provenance(page, file, None)
                leaves.update(_leaves(provenance))
    return leaves


def _leaves(provenance: Any) -> Iterable[bytes]:
    if not isinstance(provenance, dict):
        return
    for bundle in provenance.get("attestation_bundles") or []:
        for attestation in (bundle or {}).get("attestations") or []:
            material = (attestation or {}).get("verification_material") or {}
            for entry in material.get("transparency_entries") or []:
                body = (entry or {}).get("canonicalizedBody")
                if isinstance(body, str):
                    try:
                        yield leaf_hash(base64.b64decode(body))
                    except (binascii.Error, ValueError):
                        continue
