"""One upload as the pipeline carries it: what the request established, stage by stage.

The handler builds an :class:`Upload` once the request is authenticated and
its file received; validation reads it, attestation verification adds the
provenance (:func:`dataclasses.replace`), and the recorder writes it.  No
stage takes more than the upload and the index.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packaging.metadata import Metadata, RawMetadata

    from attestkit.index.upload.auth import Identity
    from attestkit.index.upload.metadata import UploadForm
    from attestkit.index.upload.validate import StoredFile, Urls

__all__ = ["Upload"]


@dataclass(frozen=True)
class Upload:
    """An authenticated upload of one file, with everything later stages need."""

    identity: Identity
    #: When the request arrived (token expiry and the release window are judged then).
    arrival: dt.datetime
    urls: Urls
    form: UploadForm
    meta: Metadata
    raw: RawMetadata
    filename: str
    #: The project's id, or None when this upload creates it.
    project_id: int | None
    project_name: str
    normalized: str
    stored: StoredFile
    #: The ``attestations`` form field as sent (stored verbatim beside the provenance).
    attestations_text: str | None
    #: A wheel's ``METADATA`` (served as PEP 658 metadata), None for an sdist.
    metadata_bytes: bytes | None = None
    #: The provenance object built from verified attestations, if any were sent.
    provenance: dict[str, Any] | None = None
