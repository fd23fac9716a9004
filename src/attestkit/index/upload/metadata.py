"""Upload form validation: PyPI's upload-form rules and core metadata from form fields.

Two steps of the upload, in PyPI's order and with its messages:

* :func:`validate_form` (step 2): ``name``, ``filetype``, ``pyversion`` and the
  digests.  The message comes from ``name`` if it fails, otherwise from the
  alphabetically first failing field, where a form-wide error (``Error: ...``)
  sorts first.
* :func:`parse_metadata` (step 3): core metadata is read from the form fields
  (their names are ``packaging.metadata``'s raw names; multiple-use fields are
  plural except ``platform``, ``supported_platform``, ``license_file``,
  ``import_name`` and ``import_namespace``) and validated with
  ``packaging.metadata`` plus PyPI's own rules: accepted metadata versions
  1.0-2.5, no local versions, a summary of at most 512 characters, no direct
  URL dependencies, ``License`` not beside ``License-Expression``, and known
  classifiers when ``trove-classifiers`` is installed.  E-mail/URL syntax and
  ``Dynamic`` allow-list checks are left to ``packaging``.

The artifact's own metadata is not compared with the form (as on PyPI).
"""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.metadata import InvalidMetadata, Metadata, RawMetadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from attestkit.index.reasons import UploadError

__all__ = [
    "CORE_METADATA_URL",
    "LOCAL_VERSION_URL",
    "UploadForm",
    "parse_metadata",
    "validate_form",
]

CORE_METADATA_URL = "https://packaging.python.org/specifications/core-metadata"
LOCAL_VERSION_URL = (
    "https://packaging.python.org/specifications/version-specifiers/#local-version-identifiers"
)

_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE | re.ASCII)
_HEX64 = re.compile(r"^[A-F0-9]{64}\Z", re.IGNORECASE)
_FILETYPES = ("sdist", "bdist_wheel")
_REQUIRED = "This field is required."

#: Metadata versions PyPI accepts (packaging also knows newer ones).
METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")

#: Form fields named in the singular whose raw metadata key is plural.
_SINGULAR_FORM_FIELDS = {
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "license_file": "license_files",
    "import_name": "import_names",
    "import_namespace": "import_namespaces",
}


@dataclass(frozen=True)
class UploadForm:
    """The validated upload-form values (step 2)."""

    name: str
    filetype: str
    pyversion: str
    md5_digest: str | None
    sha256_digest: str | None
    blake2_256_digest: str | None


def first(fields: Mapping[str, Sequence[str]], key: str) -> str:
    """The first value of a form field, or ''."""
    values = fields.get(key) or []
    return values[0] if values else ""


def validate_form(fields: Mapping[str, Sequence[str]]) -> UploadForm:
    """Validate the upload form (step 2); raise :class:`UploadError` with PyPI's message."""
    errors: dict[str, str] = {}
    name = first(fields, "name")
    if not name:
        errors["name"] = _REQUIRED
    elif not _PROJECT_NAME.match(name):
        errors["name"] = (
            "Start and end with a letter or numeral containing only ASCII numeric"
            " and '.', '_' and '-'."
        )
    filetype = first(fields, "filetype")
    if not filetype:
        errors["filetype"] = _REQUIRED
    elif filetype not in _FILETYPES:
        errors["filetype"] = "Use a known file type."
    sha256 = first(fields, "sha256_digest") or None
    if sha256 is not None and not _HEX64.match(sha256):
        errors["sha256_digest"] = "Use a valid, hex-encoded, SHA256 message digest."
    blake2 = first(fields, "blake2_256_digest") or None
    if blake2 is not None and not _HEX64.match(blake2):
        errors["blake2_256_digest"] = "Use a valid, hex-encoded, BLAKE2 message digest."
    md5 = first(fields, "md5_digest") or None
    pyversion = first(fields, "pyversion")

    # The form-wide checks (wtforms' ``full_validate``): one error at most.
    if filetype and filetype != "sdist" and not pyversion:
        errors["__all__"] = "Python version is required for binary distribution uploads."
    elif filetype == "sdist" and pyversion and pyversion != "source":
        errors["__all__"] = "Use 'source' as Python version for an sdist."
    elif not md5 and not sha256 and not blake2:
        errors["__all__"] = "Include at least one message digest."
    if filetype == "sdist" and not pyversion:
        pyversion = "source"

    if errors:
        field = "name" if "name" in errors else sorted(errors)[0]
        error = errors[field]
        if field == "name":
            shown = name if len(name) <= 60 else name[:30] + "..." + name[-30:]
            message = (
                f"{shown!r} is an invalid value for Name. Error: {error}"
                f" See {CORE_METADATA_URL} for more information."
            )
        elif field == "__all__":
            message = f"Error: {error}"
        else:
            message = f"Invalid value for {field}. Error: {error}"
        raise UploadError(400, message)
    return UploadForm(name, filetype, pyversion, md5, sha256, blake2)


# -- core metadata ------------------------------------------------------------------


def _raw_types() -> dict[str, Any]:
    return typing.get_type_hints(RawMetadata)


def raw_metadata(fields: Mapping[str, Sequence[str]]) -> tuple[RawMetadata, list[str]]:
    """Core metadata from form fields: ``(raw metadata, names of unparseable fields)``.

    Unknown fields are ignored and empty values count as absent.
    """
    types = _raw_types()
    raw: dict[str, Any] = {}
    unparsed: list[str] = []
    form_names = {
        **{key: key for key in types if key not in _SINGULAR_FORM_FIELDS.values()},
        **_SINGULAR_FORM_FIELDS,
    }
    for form_name, key in form_names.items():
        values = [v for v in fields.get(form_name, ()) if v != ""]
        if not values:
            continue
        kind = types[key]
        if key == "keywords":
            if len(values) != 1:
                unparsed.append(form_name)
                continue
            raw[key] = [k.strip() for k in values[0].split(",") if k.strip()]
        elif kind is str:
            if len(values) != 1:
                unparsed.append(form_name)
                continue
            raw[key] = values[0]
        elif typing.get_origin(kind) is dict:
            urls: dict[str, str] = {}
            for pair in values:
                label, sep, url = pair.partition(",")
                label, url = label.strip(), url.strip()
                if not sep or label in urls:
                    unparsed.append(form_name)
                    break
                urls[label] = url
            else:
                raw[key] = urls
        else:
            raw[key] = list(values)
    return typing.cast(RawMetadata, raw), unparsed


def _pypi_checks(raw: RawMetadata) -> list[InvalidMetadata]:
    """PyPI's rules on top of ``packaging.metadata``'s."""
    errors: list[InvalidMetadata] = []
    version = raw.get("metadata_version")
    if version not in METADATA_VERSIONS:
        errors.append(
            InvalidMetadata("metadata-version", f"{version!r} is not a valid metadata version")
        )
    try:
        parsed = Version(raw.get("version", ""))
    except InvalidVersion:
        parsed = None
    if parsed is not None and parsed.local is not None:
        errors.append(
            InvalidMetadata(
                "version", f"The use of local versions in {str(parsed)!r} is not allowed."
            )
        )
    if len(raw.get("summary", "")) > 512:
        errors.append(InvalidMetadata("summary", "'summary' field must be 512 characters or less."))
    for key in ("requires_dist", "provides_dist", "obsoletes_dist"):
        for spec in typing.cast(list[str], raw.get(key, [])):
            try:
                requirement = Requirement(spec)
            except InvalidRequirement:
                continue  # packaging reports it
            if requirement.url is not None:
                errors.append(
                    InvalidMetadata(
                        key.replace("_", "-"), f"Can't have direct dependency: {spec!r}"
                    )
                )
    if raw.get("license") and raw.get("license_expression"):
        errors.append(
            InvalidMetadata(
                "license",
                "License is deprecated when License-Expression is present. Only"
                " License-Expression should be present.",
            )
        )
    errors.extend(_classifier_errors(raw.get("classifiers", [])))
    return errors


def _classifier_errors(classifiers: Sequence[str]) -> list[InvalidMetadata]:
    """Unknown or deprecated classifiers, when ``trove-classifiers`` is installed."""
    if not classifiers:
        return []
    try:
        trove = importlib.import_module("trove_classifiers")
    except ImportError:  # an optional check: PyPI's list is not a dependency of attestkit
        return []
    known: set[str] = trove.classifiers
    deprecated: dict[str, list[str]] = trove.deprecated_classifiers
    errors = []
    for c in classifiers:
        if c in deprecated:
            errors.append(
                InvalidMetadata(
                    "classifier",
                    f"The classifier {c!r} has been deprecated, use one of {deprecated[c]}"
                    " instead.",
                )
            )
        elif c not in known:
            errors.append(InvalidMetadata("classifier", f"{c!r} is not a valid classifier."))
    return errors


def parse_metadata(fields: Mapping[str, Sequence[str]]) -> tuple[Metadata, RawMetadata]:
    """Validated core metadata from the form (step 3), or :class:`UploadError` (400).

    The reported error is the first of ``metadata-version``, ``name`` and
    ``version`` that failed, otherwise the alphabetically first field.
    """
    raw, unparsed = raw_metadata(fields)
    errors: list[InvalidMetadata] = [
        InvalidMetadata(key, f"{key!r} has invalid data") for key in unparsed
    ]
    own = _pypi_checks(raw)
    own_fields = {e.field for e in own}
    metadata: Metadata | None = None
    try:
        metadata = Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        for exc in group.exceptions:
            # PyPI's narrower metadata-version rule replaces packaging's.
            if isinstance(exc, InvalidMetadata) and not (
                exc.field == "metadata-version" and "metadata-version" in own_fields
            ):
                errors.append(exc)
    errors.extend(own)
    if errors or metadata is None:
        order = ("metadata-version", "name", "version")
        error = min(
            errors,
            key=lambda e: (order.index(e.field) if e.field in order else len(order), e.field),
        )
        message = str(error)
        url = LOCAL_VERSION_URL if message.startswith("The use of local versions") else None
        if not message.endswith("."):
            message += "."
        raise UploadError(400, f"{message} See {url or CORE_METADATA_URL} for more information.")
    return metadata, raw
