"""``verify index``: check files on an index (or local copies) by provenance, like ``verify pypi``.

A SPEC is ``pypi:FILENAME`` (a file of the index), an ``https://`` file URL,
``NAME==VERSION`` (every file of that release) or a local file (checked
against the index it came from).  A file on the index is downloaded once and
hashed, and its bytes must match the hashes the index publishes; the
SHA-256 of what was downloaded (or of the local file) is what the attestations
must name.  ``--output DIR`` keeps the verified files (written atomically), so
they can be installed with ``pip install --no-index --find-links DIR``.  Then
the files go through the same checker as a lock file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from attestkit.core.locks import Lock, LockedFile
from attestkit.errors import AttestkitError, InputError

__all__ = ["Spec", "parse_spec", "resolve_specs"]


@dataclass(frozen=True)
class Spec:
    """What one SPEC names."""

    text: str
    project: str
    version: str | None
    filename: str | None = None
    local: Path | None = None


def parse_spec(text: str) -> Spec:
    """Parse ``pypi:FILE``, a file URL, ``NAME==VERSION`` or a local path."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    from attestkit.core.distribution import is_distribution_filename, parse_filename

    if text.startswith("pypi:"):
        filename = text.removeprefix("pypi:")
    elif text.startswith(("https://", "http://")):
        filename = unquote(urlsplit(text).path.rpartition("/")[2])
    elif "==" in text and not Path(text).exists():
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise InputError(f"{text!r} is not NAME==VERSION: {exc}") from None
        exact = [s.version for s in req.specifier if s.operator in ("==", "===")]
        if not exact:
            raise InputError(f"{text!r} needs an exact version (NAME==VERSION)")
        return Spec(text, canonicalize_name(req.name), exact[0])
    else:
        path = Path(text)
        if not path.is_file():
            raise InputError(
                f"{text}: no such file (a SPEC is pypi:FILE, a URL, NAME==VERSION or a file)"
            )
        parsed = parse_filename(path.name)
        return Spec(text, parsed.name, str(parsed.version), path.name, path)
    if not is_distribution_filename(filename):
        raise InputError(
            f"{text}: a SPEC names a wheel (*.whl) or a source distribution (*.zip, *.tar.gz)"
        )
    parsed = parse_filename(filename)
    return Spec(text, parsed.name, str(parsed.version), filename)


#: The digests taken of a file, to compare with what the index publishes.
_ALGORITHMS = ("sha256", "sha512")


def _hash_file(path: Path) -> dict[str, str]:
    hashers = {alg: hashlib.new(alg) for alg in _ALGORITHMS}
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {alg: hasher.hexdigest() for alg, hasher in hashers.items()}


def _download(session: Any, url: str, target: Path | None, timeout: float) -> dict[str, str]:
    """Fetch ``url`` over a secure origin, hashing it; keep it as ``target`` if given."""
    from attestkit.client.simple_api import download, secure_url

    if not secure_url(url):
        raise InputError(f"{url}: files are fetched over https:// only (http:// on loopback)")
    return download(session, url, _ALGORITHMS, timeout=timeout, target=target)


def resolve_specs(
    specs: Sequence[Spec],
    index_url: str,
    *,
    session: Any,
    output: Path | None = None,
    timeout: float = 30.0,
) -> Lock:
    """The files the SPECs name, each pinned by the SHA-256 of its actual bytes."""
    from attestkit.client.simple_api import SimpleClient

    client = SimpleClient(session, timeout=timeout)
    lock = Lock(source="(command line)", format="index", indexes=[index_url])
    pages: dict[str, Any] = {}
    for spec in specs:
        if spec.project not in pages:
            pages[spec.project] = client.project(index_url, spec.project)
        page = pages[spec.project]
        if page is None:
            raise InputError(f"{spec.text}: project {spec.project} is not on {index_url}")
        if spec.filename is not None:
            files = [f for f in page.files if f.filename == spec.filename]
            if not files:
                raise InputError(f"{spec.text}: {spec.filename} is not on {index_url}")
        else:
            from attestkit.core.distribution import parse_filename

            files = []
            for f in page.files:
                try:
                    if str(parse_filename(f.filename).version) == spec.version:
                        files.append(f)
                except AttestkitError:
                    continue
            if not files:
                raise InputError(
                    f"{spec.text}: no file of {spec.project} {spec.version} on {index_url}"
                )
        for f in files:
            if spec.local is not None:
                digests = _hash_file(spec.local)
            else:
                target = output / f.filename if output is not None else None
                digests = _download(session, f.url, target, timeout)
            common = [alg for alg in f.hashes if alg in digests]
            if any(f.hashes[alg] != digests[alg] for alg in common):
                what = "the local file" if spec.local else "the downloaded file"
                raise InputError(
                    f"{spec.text}: {what} does not match the hash the index publishes"
                    f" for {f.filename}"
                )
            lock.files.append(
                LockedFile(
                    project=spec.project,
                    version=spec.version,
                    filename=f.filename,
                    hashes={"sha256": (digests["sha256"],)},
                    index=index_url,
                    where=spec.text,
                )
            )
    return lock
