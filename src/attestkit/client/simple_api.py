"""Reading any PEP 691 index: a project's files, their hashes and their provenance.

Project pages are fetched as JSON (``Accept: application/vnd.pypi.simple.v1+json``,
PEP 691); ``meta.api-version`` must have major version 1 (a higher major is
refused, as the Simple API specification requires).  A file's provenance comes
from its ``provenance`` key (PEP 740, API 1.3) or, when an index has none, from
the Integrity API path PyPI serves (``/integrity/<project>/<version>/<file>/provenance``).
Provenance URLs must be ``https://``; ``http://`` is accepted only on a loopback
host (a local index), never across a network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from attestkit.core.issuers import secure_url
from attestkit.errors import AttestkitError, InputError

__all__ = ["ACCEPT", "IndexFile", "IndexReadError", "ProjectPage", "SimpleClient", "secure_url"]

ACCEPT = "application/vnd.pypi.simple.v1+json"
#: Largest project page or provenance document read (PyPI's biggest pages are a few MB).
MAX_DOCUMENT = 64 * 1024 * 1024


class IndexReadError(AttestkitError):
    """The index could not be read, or answered something that is not a PEP 691 page."""


@dataclass(frozen=True)
class IndexFile:
    """One ``files[]`` entry of a project page."""

    filename: str
    url: str
    hashes: dict[str, str]
    provenance: str | None
    yanked: bool | str


@dataclass(frozen=True)
class ProjectPage:
    """A project page: its normalised name and files."""

    name: str
    url: str
    files: tuple[IndexFile, ...]
    api_version: str


class SimpleClient:
    """A PEP 691 client over one ``requests`` session (a connection pool shared by threads)."""

    def __init__(self, session: Any, *, timeout: float = 30.0) -> None:
        self.session = session
        self.timeout = timeout

    def _get_json(self, url: str, what: str, accept: str = ACCEPT) -> tuple[int, Any]:
        import requests

        try:
            response = self.session.get(url, headers={"Accept": accept}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise IndexReadError(f"cannot read {what} at {url}: {type(exc).__name__}") from None
        if response.status_code == 404:
            return 404, None
        if response.status_code != 200:
            raise IndexReadError(f"{url} answered {response.status_code} for {what}")
        if len(response.content) > MAX_DOCUMENT:
            raise IndexReadError(f"{what} at {url} is larger than {MAX_DOCUMENT} bytes")
        try:
            return 200, response.json()
        except ValueError:
            raise IndexReadError(f"{what} at {url} is not JSON") from None

    def project(self, index_url: str, name: str) -> ProjectPage | None:
        """The project page of ``name`` on ``index_url`` (a Simple API root), or None."""
        from packaging.utils import canonicalize_name

        normalized = canonicalize_name(name)
        url = urljoin(index_url.rstrip("/") + "/", f"{quote(normalized)}/")
        status, doc = self._get_json(url, f"the project page of {normalized}")
        if status == 404:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
            raise IndexReadError(f"{url} is not a PEP 691 project page (no files array)")
        version = str((doc.get("meta") or {}).get("api-version", "1.0"))
        if version.split(".", 1)[0] != "1":
            raise IndexReadError(f"{url} speaks Simple API {version}; only major version 1 is read")
        files = []
        for item in doc["files"]:
            if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
                continue
            raw_hashes = item.get("hashes")
            hashes: dict[str, Any] = raw_hashes if isinstance(raw_hashes, dict) else {}
            provenance = item.get("provenance")
            files.append(
                IndexFile(
                    filename=item["filename"],
                    url=urljoin(url, str(item.get("url", ""))),
                    hashes={str(k).lower(): str(v).lower() for k, v in hashes.items()},
                    provenance=provenance if isinstance(provenance, str) else None,
                    yanked=item.get("yanked", False) or False,
                )
            )
        return ProjectPage(str(doc.get("name", normalized)), url, tuple(files), version)

    def provenance(
        self, page: ProjectPage, file: IndexFile, version: str | None
    ) -> dict[str, Any] | None:
        """The file's provenance object, or None when the index has none for it."""
        url = file.provenance
        if url is None:
            if version is None:
                return None
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
            url = (
                f"{origin}/integrity/{quote(page.name)}/{quote(version)}/"
                f"{quote(file.filename)}/provenance"
            )
        if not secure_url(url):
            raise IndexReadError(
                f"provenance URL {url} is not https:// (http:// is accepted on loopback only)"
            )
        status, doc = self._get_json(url, f"the provenance of {file.filename}", accept="*/*")
        if status == 404:
            return None
        if not isinstance(doc, dict):
            raise InputError(f"the provenance of {file.filename} at {url} is not a JSON object")
        return doc


def download(
    session: Any,
    url: str,
    algorithms: Iterable[str],
    *,
    timeout: float,
    target: Path | None = None,
) -> dict[str, str]:
    """Stream ``url`` once: its hex digest for each of ``algorithms``.

    With ``target``, the bytes are also kept there, written to a temporary file
    and renamed into place only once complete (never a partial file).
    """
    import hashlib
    import os

    hashers = {alg: hashlib.new(alg) for alg in algorithms}
    temp = target.with_name(f".{target.name}.part-{os.getpid()}") if target else None
    out = None
    try:
        if temp is not None:
            temp.parent.mkdir(parents=True, exist_ok=True)
            out = temp.open("wb")
        with session.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise InputError(f"{url} answered {response.status_code}")
            for chunk in response.iter_content(1 << 20):
                for hasher in hashers.values():
                    hasher.update(chunk)
                if out is not None:
                    out.write(chunk)
        if out is not None and temp is not None and target is not None:
            out.flush()
            os.fsync(out.fileno())
            out.close()
            out = None
            temp.replace(target)
    finally:
        if out is not None:
            out.close()
        if temp is not None and temp.exists():
            temp.unlink()
    return {alg: hasher.hexdigest() for alg, hasher in hashers.items()}
