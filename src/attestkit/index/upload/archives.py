"""Distribution archive checks at upload: PyPI's archive, sdist and wheel rules.

* :func:`inspect_archive` (step 19) opens the uploaded file as what its name
  says (zip for ``.whl``/``.zip``, gzipped tar for ``.tar.gz``) and refuses
  archives PyPI refuses: both zip and tar, compression bombs (ratio over 50
  when more than 64 MiB unpacked), unsupported zip compression, ambiguous zip
  framing (duplicate names, local/central name mismatch, comments), sparse tar
  members, an sdist without exactly one top-level directory or without
  ``{top}/PKG-INFO``, a wheel without ``{name}-{version}.dist-info/WHEEL``.
* :func:`check_sdist` and :func:`check_wheel` (step 20) apply the filename
  rules (PEP 625 sdist names, the wheel platform-tag allow-list, name and
  version agreement) and the ``License-File``, ``RECORD``, entry-point and
  ``METADATA`` rules; :func:`check_wheel` returns the wheel's ``METADATA``
  bytes, which the index serves as ``<file>.metadata`` (PEP 658).

Every refusal is an :class:`~attestkit.index.reasons.UploadError` (400) with
PyPI's message.
"""

from __future__ import annotations

import configparser
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from attestkit.core.index_rules import filename_problem, valid_platform_tag
from attestkit.index.reasons import UploadError

__all__ = [
    "ArchiveInfo",
    "check_sdist",
    "check_wheel",
    "inspect_archive",
    "valid_platform_tag",
]

MiB = 1024 * 1024
#: Largest member the index reads from an archive (METADATA, entry_points.txt).
MAX_MEMBER = 8 * MiB
_MAX_RATIO = 50
_RATIO_THRESHOLD = 64 * MiB


@dataclass
class ArchiveInfo:
    """What the archive checks learnt: member names and, for sdists, the top directory."""

    path: Path
    kind: str  # "zip" or "tar"
    names: set[str] = field(default_factory=set)
    top: str | None = None
    #: ``{name}-{version}`` of a wheel's ``.dist-info`` directory, from its filename.
    dist_info: str | None = None

    def read(self, member: str, limit: int | None = None) -> bytes:
        """The bytes of one member (which must exist), at most ``limit`` of them.

        Read through a bounded stream, never by the sizes the archive declares: a
        member whose header lies about its size, or that inflates past ``limit``
        (default :data:`MAX_MEMBER`), or whose data is corrupt, is a 400 with PyPI's
        "Invalid distribution file" message, not memory or a 500.
        """
        limit = MAX_MEMBER if limit is None else limit
        try:
            if self.kind == "zip":
                with zipfile.ZipFile(self.path) as zf, zf.open(member) as stream:
                    data = stream.read(limit + 1)
            else:
                with tarfile.open(self.path, "r:gz") as tf:
                    extracted = tf.extractfile(member)
                    if extracted is None:
                        raise _invalid(f"{member} is not a regular file")
                    data = extracted.read(limit + 1)
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, zlib.error):
            raise _invalid(f"{member} cannot be read (corrupt or inconsistent archive)") from None
        if len(data) > limit:
            raise _invalid(f"{member} is larger than {limit // MiB} MiB")
        return data


def _invalid(msg: str) -> UploadError:
    return UploadError(400, f"Invalid distribution file. {msg}")


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError, EOFError):
        return False


def inspect_archive(path: Path, filename: str, docs_url: str) -> ArchiveInfo:
    """Run PyPI's archive checks on the uploaded file (step 19)."""
    is_zip = zipfile.is_zipfile(path)
    is_tar = _is_tar(path)
    if is_zip and is_tar:
        raise _invalid("File is both a zip and a tar file")
    if filename.endswith(".tar.gz"):
        if not is_tar:
            raise _invalid("File is not a tarfile")
        info = _inspect_tar(path, docs_url)
    else:
        if not is_zip:
            raise _invalid("File is not a zipfile")
        info = _inspect_zip(path, docs_url)
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        if len(parts) not in (5, 6) or not parts[0] or not parts[1]:
            raise _invalid("Unable to parse name and version from wheel filename")
        info.dist_info = f"{parts[0]}-{parts[1]}"
        wheel = f"{info.dist_info}.dist-info/WHEEL"
        if wheel not in info.names:
            raise _invalid(f"WHEEL not found at {wheel}")
    else:
        tops = {name.split("/", 1)[0] for name in info.names if name.strip("/")}
        if len(tops) != 1:
            raise _invalid("Incorrect number of top-level directories in sdist")
        info.top = tops.pop()
        if f"{info.top}/PKG-INFO" not in info.names:
            raise _invalid(f"PKG-INFO not found at {info.top}/PKG-INFO")
    return info


def _inspect_zip(path: Path, docs_url: str) -> ArchiveInfo:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            seen: set[str] = set()
            for member in infos:
                if member.filename in seen:
                    raise _zip_framing(
                        f"Duplicate filename in archive: {member.filename!r}", docs_url
                    )
                seen.add(member.filename)
            if zf.comment:
                raise _zip_framing("Archive has a comment", docs_url)
            unpacked = sum(m.file_size for m in infos)
            packed = path.stat().st_size
            if unpacked > _RATIO_THRESHOLD and unpacked > _MAX_RATIO * max(packed, 1):
                raise _invalid(f"File exceeds compression ratio of {_MAX_RATIO}")
            if any(
                m.compress_type not in {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED} for m in infos
            ):
                raise _invalid("File does not use a supported compression type")
            _check_local_headers(path, infos, docs_url)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise _invalid("File is not a zipfile") from None
    return ArchiveInfo(path, "zip", names=seen)


def _zip_framing(err: str, docs_url: str) -> UploadError:
    return _invalid(
        f"ZIP archive not accepted: {err}. See {docs_url}/archives for more information"
    )


def _check_local_headers(path: Path, infos: Sequence[zipfile.ZipInfo], docs_url: str) -> None:
    """Each local file header must name the same file as its central-directory entry."""
    with path.open("rb") as handle:
        for member in infos:
            handle.seek(member.header_offset)
            header = handle.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                raise _zip_framing(f"Bad local file header for {member.filename!r}", docs_url)
            name_length = int.from_bytes(header[26:28], "little")
            raw_name = handle.read(name_length)
            central = member.orig_filename.encode(
                "utf-8" if member.flag_bits & 0x800 else "cp437", "replace"
            )
            if raw_name != central:
                raise _zip_framing(
                    f"Mismatched local file header for {member.filename!r}", docs_url
                )


def _inspect_tar(path: Path, docs_url: str) -> ArchiveInfo:
    names: set[str] = set()
    unpacked = 0
    try:
        with tarfile.open(path, "r:gz") as tf:
            for member in tf:
                if member.issparse():
                    raise _invalid(
                        "tar archive not accepted: Sparse members are not allowed."
                        f" See {docs_url}/archives for more information"
                    )
                names.add(member.name.removeprefix("./"))
                unpacked += member.size
    except (tarfile.TarError, OSError, EOFError):
        raise _invalid("File is not a tarfile") from None
    packed = path.stat().st_size
    if unpacked > _RATIO_THRESHOLD and unpacked > _MAX_RATIO * max(packed, 1):
        raise _invalid(f"File exceeds compression ratio of {_MAX_RATIO}")
    return ArchiveInfo(path, "tar", names=names)


# -- filename and content rules (step 20) ---------------------------------------------


def _license_files_present(
    info: ArchiveInfo, filename: str, license_files: Sequence[str], prefix: str
) -> None:
    for lf in license_files:
        where = f"{prefix}/{lf}"
        if where not in info.names:
            raise UploadError(
                400,
                f"License-File {lf} does not exist in distribution file {filename} at {where}",
            )


def check_sdist(
    info: ArchiveInfo,
    filename: str,
    project_name: str,
    normalized_name: str,
    version: Version,
    license_files: Sequence[str],
) -> None:
    """The sdist filename rules (PEP 625) and ``License-File`` presence."""
    problem = filename_problem(filename, project_name, version, normalized_name)
    if problem is not None:
        raise UploadError(400, problem)
    assert info.top is not None
    _license_files_present(info, filename, license_files, info.top)


def check_wheel(
    info: ArchiveInfo,
    filename: str,
    project_name: str,
    normalized_name: str,
    version: Version,
    license_files: Sequence[str],
) -> bytes:
    """The wheel filename and content rules; returns the wheel's ``METADATA`` bytes."""
    problem = filename_problem(filename, project_name, version, normalized_name)
    if problem is not None:
        raise UploadError(400, problem)
    assert info.dist_info is not None
    dist_info = f"{info.dist_info}.dist-info"
    _license_files_present(info, filename, license_files, f"{dist_info}/licenses")
    record = f"{dist_info}/RECORD"
    if record not in info.names:
        raise UploadError(
            400, f"Wheel '{filename}' does not contain the required RECORD file: {record}"
        )
    entry_points = f"{dist_info}/entry_points.txt"
    if entry_points in info.names:
        parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
        try:
            parser.read_string(info.read(entry_points).decode("utf-8"))
        except (configparser.Error, UnicodeDecodeError):
            raise UploadError(
                400,
                f"Wheel '{filename}' has invalid entry points defined in the entry_points.txt file",
            ) from None
    metadata = f"{dist_info}/METADATA"
    if metadata not in info.names:
        raise UploadError(
            400, f"Wheel '{filename}' does not contain the required METADATA file: {metadata}"
        )
    return info.read(metadata)
