"""A distribution to upload: its checked inputs, core metadata, digests and attestations.

:func:`plan` expands the command line's arguments, sets aside sidecar files,
reads each distribution's core metadata (wheel ``METADATA`` / sdist
``PKG-INFO``, parsed with :mod:`packaging.metadata`) into the form fields
twine sends, hashes the file once (SHA-256 and BLAKE2b-256, kept on the
:class:`PlannedUpload`) and checks that every attestation beside it
(``<dist>.<kind>.attestation``) parses and names this very file (equivalent
name, equal SHA-256).  Nothing here touches the network.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from attestkit.errors import AttestkitError, InputError

__all__ = ["PlannedUpload", "UploadInputError", "plan", "with_attestations"]

#: Sidecar files that may be given among the inputs next to their distribution.
_SIDECAR_SUFFIXES = (".attestation", ".sigstore", ".sigstore.json", ".provenance", ".asc")

#: twine's mapping of ``RawMetadata`` keys to form fields, in twine's order.
_METADATA_FIELDS = {
    "metadata_version": "metadata_version",
    "name": "name",
    "version": "version",
    "platforms": "platform",
    "summary": "summary",
    "description": "description",
    "keywords": "keywords",
    "home_page": "home_page",
    "author": "author",
    "author_email": "author_email",
    "license": "license",
    "supported_platforms": "supported_platform",
    "download_url": "download_url",
    "classifiers": "classifiers",
    "requires": "requires",
    "provides": "provides",
    "obsoletes": "obsoletes",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_python": "requires_python",
    "requires_external": "requires_external",
    "project_urls": "project_urls",
    "description_content_type": "description_content_type",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_expression": "license_expression",
    "license_files": "license_file",
}


class UploadInputError(AttestkitError):
    """Inputs that cannot be uploaded; ``errors`` lists every problem (nothing was sent)."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors) if self.errors else "invalid inputs")


@dataclass(frozen=True)
class PlannedUpload:
    """One distribution, checked and ready to send.

    ``sha256`` and ``blake2_256`` are the file's digests, computed once by
    :func:`plan` (also in ``fields``); :func:`with_attestations` reuses them.
    """

    path: Path
    fields: list[tuple[str, str]]
    attestations: list[Path] = field(default_factory=list)
    sha256: str = ""
    blake2_256: str = ""

    def value(self, name: str) -> str:
        """The first value of form field ``name`` (``""`` if absent)."""
        return next((value for key, value in self.fields if key == name), "")

    def without_attestations(self) -> PlannedUpload:
        """The same upload with no ``attestations`` field."""
        fields = [f for f in self.fields if f[0] != "attestations"]
        return replace(self, fields=fields, attestations=[])


def _is_sidecar(name: str) -> bool:
    return name.endswith(_SIDECAR_SUFFIXES)


def _expand(arguments: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    paths: list[Path] = []
    errors: list[str] = []
    for arg in arguments:
        text = os.fspath(arg)
        if Path(text).exists():
            paths.append(Path(text))
            continue
        matches = sorted(glob.glob(text))  # noqa: PTH207 - a pattern given by the user
        if not matches:
            errors.append(f"{text}: no such file (or pattern without a match)")
        paths.extend(Path(m) for m in matches)
    return paths, errors


def _read_metadata(path: Path, kind: str) -> bytes:
    """The METADATA (wheel) or PKG-INFO (sdist) bytes of a distribution."""
    name = path.name
    if kind == "wheel":
        with zipfile.ZipFile(path) as zf:
            names = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            if not names:
                raise InputError("no .dist-info/METADATA in the wheel")
            return zf.read(sorted(names, key=len)[0])
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
            if not names:
                raise InputError("no PKG-INFO in the sdist")
            return zf.read(names[0])
    with tarfile.open(path, "r:gz") as tf:
        for member in tf.getmembers():
            if (
                member.isfile()
                and member.name.count("/") == 1
                and member.name.endswith("/PKG-INFO")
            ):
                handle = tf.extractfile(member)
                if handle is not None:
                    return handle.read()
    raise InputError("no PKG-INFO in the sdist")


def _name_problem(filename: str, fields: list[tuple[str, str]]) -> str | None:
    """PyPI's refusal of ``filename`` for the metadata in ``fields``, or None."""
    from packaging.version import InvalidVersion, Version

    from attestkit.core.index_rules import filename_problem

    values = dict(fields)
    try:
        version = Version(values.get("version", ""))
    except InvalidVersion:
        return f"invalid version {values.get('version')!r} in the metadata"
    return filename_problem(filename, values.get("name", ""), version)


def _metadata_fields(path: Path, kind: str) -> list[tuple[str, str]]:
    """Form fields from the core metadata, as twine sends them."""
    from packaging import metadata
    from packaging.version import Version

    raw = _read_metadata(path, kind)
    meta, unparsed = metadata.parse_email(raw)
    if Version(str(meta.get("metadata_version", "0"))) < Version("2.4"):
        meta.pop("license_files", None)
        unparsed.pop("license-file", None)
    if unparsed:
        bad = "; ".join(f"unrecognized or malformed field {k!r}" for k in unparsed)
        raise InputError(f"invalid distribution metadata: {bad}")
    try:
        metadata.Metadata.from_raw(meta)
    except Exception as exc:  # packaging's ExceptionGroup
        details = getattr(exc, "exceptions", [exc])
        text = "; ".join(sorted(str(e) for e in details))
        raise InputError(f"invalid distribution metadata: {text}") from None
    values: dict[str, Any] = dict(meta)
    # twine sends pkg_resources' "safe name".
    values["name"] = re.sub("[^A-Za-z0-9.]+", "-", str(values["name"]))
    fields: list[tuple[str, str]] = []
    for key, form_name in _METADATA_FIELDS.items():
        if key not in values:
            continue
        value = values[key]
        if key == "project_urls":
            fields.extend((form_name, f"{k}, {v}") for k, v in value.items())
        elif key == "keywords":
            fields.append((form_name, ", ".join(value)))
        elif isinstance(value, list | tuple):
            fields.extend((form_name, str(v)) for v in value)
        else:
            fields.append((form_name, str(value)))
    return fields


def _digests(path: Path) -> tuple[str, str]:
    sha256 = hashlib.sha256()
    blake2 = hashlib.blake2b(digest_size=32)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            blake2.update(chunk)
    return sha256.hexdigest(), blake2.hexdigest()


def _check_attestation(path: Path, dist: Path, sha256: str) -> Any:
    """Parse one attestation file; return its JSON, or raise naming what does not match."""
    from attestkit.core.distribution import Distribution
    from attestkit.core.models import Attestation

    attestation = Attestation.from_file(path)
    target = Distribution(dist.name, sha256)
    subjects = attestation.statement.subjects
    for subject in subjects:
        try:
            same_name = target.equivalent_name(subject.name)
        except InputError:
            same_name = False
        if same_name and target.matches_digest(subject.digest.get("sha256", "")):
            break
    else:
        named = ", ".join(
            f"{s.name} (sha256 {s.digest.get('sha256', 'missing')})" for s in subjects
        )
        raise InputError(
            f"attestation is for {named}, not {dist.name} (sha256 {sha256})", source=str(path)
        )
    return json.loads(path.read_bytes())


def plan(dists: Sequence[str | os.PathLike[str]], *, attestations: bool) -> list[PlannedUpload]:
    """Classify and check every input before anything is sent.

    Sidecar files (``*.attestation``, ``*.sigstore[.json]``, ``*.provenance``,
    ``*.asc``) are skipped when their distribution is among the inputs, and
    are an error otherwise.  With ``attestations``, every distribution needs
    at least one attestation, and each must name the file.  Raises
    :class:`UploadInputError` listing every problem.
    """
    from attestkit.core.distribution import parse_filename

    paths, errors = _expand(dists)
    dist_paths: list[Path] = []
    sidecars: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if _is_sidecar(path.name):
            sidecars.append(path)
            continue
        try:
            parse_filename(path.name)
        except InputError as exc:
            errors.append(f"{path}: {exc.reason}")
            continue
        if not path.is_file():
            errors.append(f"{path}: not a file")
            continue
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            dist_paths.append(path)
    names = {p.name for p in dist_paths}
    extra: dict[str, list[Path]] = {}
    for sidecar in sidecars:
        owner = next(
            (n for n in names if sidecar.name.startswith(n + ".")),
            None,
        )
        if owner is None:
            errors.append(
                f"{sidecar}: not a distribution, and its distribution is not among the inputs"
            )
        elif sidecar.name.endswith(".attestation"):
            extra.setdefault(owner, []).append(sidecar)

    planned: list[PlannedUpload] = []
    for path in dist_paths:
        kind = parse_filename(path.name).kind
        try:
            fields = _metadata_fields(path, kind)
            sha256, blake2 = _digests(path)
        except (InputError, OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
            reason = exc.reason if isinstance(exc, InputError) else f"unreadable: {exc}"
            errors.append(f"{path}: {reason}")
            continue
        # The index's own file-name rules (PEP 625 sdist names, wheel names and tags), so
        # that a file it would refuse stops the whole upload before the first request.
        problem = _name_problem(path.name, fields)
        if problem is not None:
            errors.append(f"{path}: the index would refuse it: {problem}")
            continue
        if kind == "wheel":
            pyversion = path.name[: -len(".whl")].split("-")[-3]
            fields += [("pyversion", pyversion), ("filetype", "bdist_wheel")]
        else:
            fields += [("pyversion", "source"), ("filetype", "sdist")]
        fields.append(("sha256_digest", sha256))
        fields += [
            ("blake2_256_digest", blake2),
            (":action", "file_upload"),
            ("protocol_version", "1"),
        ]
        job = PlannedUpload(path, fields, [], sha256, blake2)
        if attestations:
            try:
                job = _attach(job, extra.get(path.name, []))
            except UploadInputError as exc:
                errors += exc.errors
                continue
        planned.append(job)
    if not dist_paths and not errors:
        errors.append("no distributions given")
    if errors:
        raise UploadInputError(errors)
    # Wheels first, like twine (so an index sees the metadata-rich file first).
    planned.sort(key=lambda p: not p.path.name.endswith(".whl"))
    return planned


def with_attestations(jobs: Sequence[PlannedUpload]) -> list[PlannedUpload]:
    """``jobs`` with the attestations now beside each file, checked against the planned digest.

    The distributions are not read again: the SHA-256 computed by :func:`plan`
    is what each attestation must name.  Raises :class:`UploadInputError`
    listing every problem.
    """
    errors: list[str] = []
    attached: list[PlannedUpload] = []
    for job in jobs:
        try:
            attached.append(_attach(job, []))
        except UploadInputError as exc:
            errors += exc.errors
    if errors:
        raise UploadInputError(errors)
    return attached


def _attach(job: PlannedUpload, extra: Sequence[Path]) -> PlannedUpload:
    """``job`` with its attestations (found beside it, plus ``extra``) in the form."""
    from attestkit.sigstore.verify.attestation import find_attestations

    path = job.path
    found: list[Path] = []
    resolved: set[Path] = set()
    for candidate in [*find_attestations(path), *extra]:
        if candidate.resolve() not in resolved:
            resolved.add(candidate.resolve())
            found.append(candidate)
    if not found:
        raise UploadInputError(
            [
                f"{path}: upload with attestations requested, but no"
                f" {path.name}.<kind>.attestation file was found next to it"
            ]
        )
    loaded: list[Any] = []
    errors: list[str] = []
    for candidate in found:
        try:
            loaded.append(_check_attestation(candidate, path, job.sha256))
        except (AttestkitError, OSError, ValueError) as exc:
            errors.append(f"{path}: {exc}")
    if errors:
        raise UploadInputError(errors)
    # The field goes where twine puts it: after sha256_digest.
    fields = [f for f in job.fields if f[0] != "attestations"]
    at = next(i for i, (key, _) in enumerate(fields) if key == "sha256_digest") + 1
    fields.insert(at, ("attestations", json.dumps(loaded)))
    return replace(job, fields=fields, attestations=found)
