"""The rules PyPI applies to a distribution's file name, for the index and for uploaders.

One home for them: ``attestkit serve`` refuses an upload with these messages
(PyPI's, from warehouse's ``forklift/legacy.py``), and ``attestkit upload`` and
``publish`` check every file against the same function before the first request,
so a release is never half-published because its second file has, say, a
setuptools-style sdist name (``hello-ux-1.0.tar.gz`` instead of PEP 625's
``hello_ux-1.0.tar.gz``).

* sdists (PEP 625): ``{normalized name with _}-{version}.tar.gz``, exactly;
* wheels (PEP 427/491): the normalized name with ``_`` as the first component,
  the metadata's version, and platform tags PyPI accepts.
"""

from __future__ import annotations

import re

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

__all__ = ["filename_problem", "valid_platform_tag"]

_PLATFORMS = {
    "any",
    "win32",
    "win_amd64",
    "win_arm64",
    "win_ia64",
    "linux_armv6l",
    "linux_armv7l",
}
_MAC_ARCHES = "ppc|ppc64|i386|x86_64|arm64|intel|fat|fat3|fat64|universal|universal2"
_PLATFORM_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"manylinux(1|2010)_(x86_64|i686)",
        r"manylinux2014_(x86_64|i686|aarch64|armv7l|ppc64|ppc64le|s390x)",
        rf"macosx_10_\d+_({_MAC_ARCHES})",
        rf"macosx_(1[1-5]|26)_0_({_MAC_ARCHES})",
        r"manylinux_\d+_\d+_(x86_64|i686|aarch64|armv7l|ppc64le|ppc64|s390x|riscv64)",
        r"musllinux_\d+_\d+_(x86_64|i686|aarch64|armv7l|ppc64le|s390x|riscv64)",
        r"ios_\d+_\d+_(arm64|x86_64)_(iphoneos|iphonesimulator)",
        r"android_\d+_(armeabi_v7a|arm64_v8a|x86|x86_64)",
        r"pyemscripten_\d+_\d+_wasm32",
    )
)


def valid_platform_tag(tag: str) -> bool:
    """Whether PyPI accepts a wheel with this platform tag."""
    return tag in _PLATFORMS or any(p.fullmatch(tag) for p in _PLATFORM_PATTERNS)


def filename_problem(
    filename: str, project_name: str, version: Version, normalized_name: str | None = None
) -> str | None:
    """PyPI's refusal for this file name of ``project_name`` ``version``, or None if fine."""
    normalized = normalized_name or canonicalize_name(project_name)
    expected_prefix = normalized.replace("-", "_")
    if filename.endswith(".whl"):
        try:
            name, file_version, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            return str(exc)
        for tag in filename[: -len(".whl")].split("-")[-1].split("."):
            if not valid_platform_tag(tag):
                return f"Binary wheel '{filename}' has an unsupported platform tag '{tag}'."
        if name != normalized:
            return f"Start filename for {project_name!r} with {expected_prefix!r}."
        raw_name = filename.split("-", 1)[0]
        if raw_name != expected_prefix:
            return (
                f"Filename {filename!r} should contain the normalized project name"
                f" {expected_prefix!r}, not {raw_name!r}."
            )
        if file_version != version:
            return f"Version in filename should be {str(version)!r} not {str(file_version)!r}."
        return None
    try:
        sdist_name, _ = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return f"Invalid source distribution filename: {filename}"
    if canonicalize_name(sdist_name) != normalized:
        return f"Start filename for {project_name!r} with {expected_prefix!r}."
    expected = f"{expected_prefix}-{version}.tar.gz"
    if filename != expected:
        return f"Filename {filename!r} is invalid, should be {expected!r}."
    return None
