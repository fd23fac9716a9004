"""Reading an upstream PEP 691 index for the mirror: pages, provenance, files, metadata.

Everything upstream says is untrusted input, so this module reads it with
bounds and keeps only what it can check:

* a project page is fetched as JSON (PEP 691) with ``If-None-Match`` (the
  ETag of the last read), at most :data:`MAX_PAGE` bytes; its ``meta.api-version``
  must have major version 1;
* each ``files[]`` entry keeps only the keys the mirror re-serves, each of the
  type the Simple API specification gives it; an entry without a SHA-256, with a
  filename that is not a plain name, or with a URL that is not ``https://``
  (``http://`` on loopback) is dropped;
* files and core metadata are streamed to the file store through a temporary
  file and kept only when their SHA-256 is the one the page announced.

Network failures and upstream 5xx answers raise :class:`UpstreamUnavailable`
(the mirror then serves what it has, or answers 503); anything else unexpected
is :class:`UpstreamRefused` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from attestkit.core.encoding import loads_json
from attestkit.core.issuers import secure_url
from attestkit.errors import AttestkitError, InputError

__all__ = [
    "MAX_PAGE",
    "NOT_MODIFIED",
    "DigestMismatch",
    "Upstream",
    "UpstreamPage",
    "UpstreamRefused",
    "UpstreamUnavailable",
]

ACCEPT = "application/vnd.pypi.simple.v1+json"
#: Largest project page read (PyPI's largest are a few MB).
MAX_PAGE = 64 * 1024 * 1024
#: Largest provenance object or core metadata file read.
MAX_DOCUMENT = 8 * 1024 * 1024
#: What :meth:`Upstream.page` returns when the page did not change since ``etag``.
NOT_MODIFIED = "not modified"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UpstreamUnavailable(AttestkitError):  # noqa: N818 - a state, not a programming error
    """Upstream cannot be reached or answered 5xx: transient."""


class UpstreamRefused(AttestkitError):  # noqa: N818
    """Upstream answered something the mirror will not use (4xx, not a page, too large)."""


class DigestMismatch(UpstreamRefused):
    """Upstream served bytes whose SHA-256 is not the one its page announced."""


@dataclass(frozen=True)
class UpstreamPage:
    """A project page as read from upstream, reduced to what the mirror serves."""

    url: str
    etag: str | None
    #: ``project-status``, ``versions`` and ``api-version`` of the page.
    project: dict[str, Any]
    #: The checked ``files[]`` entries (absolute ``url`` and ``provenance`` URLs).
    files: tuple[dict[str, Any], ...]


def plain_filename(name: object) -> bool:
    """A distribution filename that is safe as a path component and a URL segment."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 255
        and not name.startswith(".")
        and not any(c in name for c in "/\\\x00")
        and name.isprintable()
    )


def _entry(item: object, page_url: str) -> dict[str, Any] | None:
    """One ``files[]`` entry with only checked keys, or None if it cannot be served."""
    if not isinstance(item, dict) or not plain_filename(item.get("filename")):
        return None
    raw_hashes = item.get("hashes")
    if not isinstance(raw_hashes, dict):
        return None
    hashes = {
        str(k).lower(): str(v).lower()
        for k, v in raw_hashes.items()
        if isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{16,128}", v)
    }
    if not _SHA256.match(hashes.get("sha256", "")):
        return None  # attestations name a SHA-256: a file without one cannot be checked
    url = urljoin(page_url, str(item.get("url", "")))
    if not secure_url(url):
        return None
    entry: dict[str, Any] = {"filename": item["filename"], "url": url, "hashes": hashes}
    requires = item.get("requires-python")
    entry["requires-python"] = requires if isinstance(requires, str) else None
    size = item.get("size")
    entry["size"] = size if isinstance(size, int) and not isinstance(size, bool) else None
    uploaded = item.get("upload-time")
    entry["upload-time"] = uploaded if isinstance(uploaded, str) else None
    yanked = item.get("yanked", False)
    entry["yanked"] = yanked if isinstance(yanked, bool | str) else bool(yanked)
    metadata = item.get("core-metadata", item.get("data-dist-info-metadata", False))
    if isinstance(metadata, dict):
        digest = str(metadata.get("sha256", "")).lower()
        entry["core-metadata"] = {"sha256": digest} if _SHA256.match(digest) else False
    else:
        entry["core-metadata"] = False  # no digest to check served metadata against
    provenance = item.get("provenance")
    entry["provenance"] = (
        urljoin(page_url, provenance) if isinstance(provenance, str) and provenance else None
    )
    return entry


class Upstream:
    """HTTP access to upstream indexes over one pooled ``requests`` session."""

    def __init__(self, *, timeout: float = 30.0, max_file: int = 100 * 1024 * 1024) -> None:
        import requests

        self.timeout = timeout
        self.max_file = max_file
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=32)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = "attestkit-mirror"

    def _get(self, url: str, what: str, **headers: str) -> Any:
        import requests

        try:
            response = self.session.get(
                url, headers=headers, timeout=self.timeout, stream=True, allow_redirects=True
            )
        except requests.RequestException as exc:
            raise UpstreamUnavailable(
                f"cannot read {what} at {url}: {type(exc).__name__}"
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            response.close()
            raise UpstreamUnavailable(f"{url} answered {response.status_code} for {what}")
        if not secure_url(response.url):
            response.close()
            raise UpstreamRefused(f"{url} redirected to {response.url}, which is not https://")
        return response

    def _read(self, response: Any, limit: int, what: str) -> bytes:
        import requests

        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise UpstreamRefused(f"{what} at {response.url} is larger than {limit} bytes")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise UpstreamUnavailable(f"reading {what}: {type(exc).__name__}") from None
        finally:
            response.close()
        return b"".join(chunks)

    def _json(self, response: Any, limit: int, what: str, url: str) -> Any:
        """The response's body (at most ``limit`` bytes) as JSON; UpstreamRefused otherwise."""
        body = self._read(response, limit, what)
        try:
            return loads_json(body, what=f"{what} at {url}")
        except InputError as exc:
            raise UpstreamRefused(exc.reason) from None

    def page(self, root: str, normalized: str, etag: str | None) -> UpstreamPage | str | None:
        """The page of ``normalized`` on ``root``; :data:`NOT_MODIFIED`; or None (404)."""
        url = urljoin(root, f"{quote(normalized)}/")
        what = f"the project page of {normalized}"
        headers = {"Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        response = self._get(url, what, **headers)
        if response.status_code == 304:
            response.close()
            return NOT_MODIFIED
        if response.status_code in (404, 410):
            response.close()
            return None
        if response.status_code != 200:
            response.close()
            raise UpstreamRefused(f"{url} answered {response.status_code} for {what}")
        if not response.headers.get("Content-Type", "").startswith(ACCEPT):
            response.close()
            raise UpstreamRefused(f"{url} did not answer a PEP 691 JSON page for {what}")
        doc = self._json(response, MAX_PAGE, what, url)
        if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
            raise UpstreamRefused(f"{url} is not a PEP 691 project page (no files array)")
        raw_meta = doc.get("meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        api_version = str(meta.get("api-version", "1.0"))
        if api_version.split(".", 1)[0] != "1":
            raise UpstreamRefused(f"{url} speaks Simple API {api_version}; only 1.x is read")
        status = doc.get("project-status", meta.get("project-status"))
        if isinstance(status, dict) and isinstance(status.get("status"), str):
            project_status = {
                k: v for k, v in status.items() if k in ("status", "reason") and isinstance(v, str)
            }
        else:
            project_status = {"status": "active"}
        versions = doc.get("versions")
        project = {
            "api-version": api_version,
            "project-status": project_status,
            "versions": [v for v in versions if isinstance(v, str)]
            if isinstance(versions, list)
            else None,
        }
        files = tuple(e for e in (_entry(item, url) for item in doc["files"]) if e is not None)
        return UpstreamPage(url, response.headers.get("ETag"), project, files)

    def provenance(self, url: str, filename: str) -> dict[str, Any] | None:
        """The provenance object at ``url``, or None when upstream has none (404)."""
        what = f"the provenance of {filename}"
        if not secure_url(url):
            raise UpstreamRefused(f"provenance URL {url} is not https://")
        response = self._get(url, what, Accept="application/vnd.pypi.integrity.v1+json")
        if response.status_code == 404:
            response.close()
            return None
        if response.status_code != 200:
            response.close()
            raise UpstreamRefused(f"{url} answered {response.status_code} for {what}")
        doc = self._json(response, MAX_DOCUMENT, what, url)
        if not isinstance(doc, dict):
            raise UpstreamRefused(f"{what} at {url} is not a JSON object")
        return doc

    def fetch(self, url: str, sha256: str, target: Path, *, limit: int | None = None) -> None:
        """Stream ``url`` to ``target`` if its SHA-256 is ``sha256`` (atomic; nothing otherwise).

        :class:`UpstreamRefused` names the digest upstream served instead.
        """
        import requests

        limit = self.max_file if limit is None else limit
        name = target.name
        response = self._get(url, name)
        if response.status_code != 200:
            response.close()
            raise UpstreamRefused(f"{url} answered {response.status_code} for {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{name}.{os.getpid()}.{id(response)}.part")
        hasher = hashlib.sha256()
        size = 0
        try:
            with temp.open("wb") as out:
                try:
                    for chunk in response.iter_content(1 << 20):
                        size += len(chunk)
                        if size > limit:
                            raise UpstreamRefused(f"{name} upstream is larger than {limit} bytes")
                        hasher.update(chunk)
                        out.write(chunk)
                except requests.RequestException as exc:
                    raise UpstreamUnavailable(f"reading {name}: {type(exc).__name__}") from None
                out.flush()
                os.fsync(out.fileno())
            served = hasher.hexdigest()
            if served != sha256:
                raise DigestMismatch(
                    f"upstream served other bytes for {name}: sha256 {served[:16]}…,"
                    f" the page announced {sha256[:16]}…"
                )
            temp.replace(target)
        finally:
            response.close()
            temp.unlink(missing_ok=True)
