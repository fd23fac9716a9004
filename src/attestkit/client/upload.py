"""Upload distributions (and their PEP 740 attestations) with the legacy upload API.

The request is the one twine 7 sends: ``POST <repository URL>``, HTTP Basic
auth, ``multipart/form-data`` with the core metadata read from the file (wheel
``METADATA`` / sdist ``PKG-INFO``, parsed with :mod:`packaging.metadata`),
``pyversion``/``filetype``, ``sha256_digest``, ``attestations`` (a JSON array
as text), ``blake2_256_digest``, ``:action=file_upload``, ``protocol_version=1``
and finally the ``content`` file part.

Every input is read and checked before the first request (:func:`plan`), so an
input error never leaves a half-uploaded release.  Differences from twine:

* 5xx responses and connection errors are retried with exponential backoff
  (0.5 s, 1 s, 2 s, ...), at most ``retries`` times; 4xx answers are final.
* ``skip_existing`` works on any index: a 409, or a 400 whose reason phrase or
  body says "already exist(s)", is reported as skipped.
* Error messages carry both the reason phrase and the response body.
* Attestations are found next to each distribution (``<dist>.<kind>.attestation``),
  parsed, and checked to name the same file (equivalent name, equal SHA-256).
  They are sent to any index when asked for; an index that does not support
  them will refuse the upload with its own message.
"""

from __future__ import annotations

import configparser
import glob
import hashlib
import io
import json
import os
import platform
import re
import tarfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from attestkit._version import __version__
from attestkit.core.constants import INDEX_HOST, TEST_INDEX_HOST
from attestkit.errors import AttestkitError, InputError

__all__ = [
    "PYPI_UPLOAD_URL",
    "TESTPYPI_UPLOAD_URL",
    "Credentials",
    "PlannedUpload",
    "UploadConfigError",
    "UploadInputError",
    "UploadResult",
    "plan",
    "read_pypirc",
    "resolve_credentials",
    "upload",
]

PYPI_UPLOAD_URL = f"https://upload.{INDEX_HOST}/legacy/"
TESTPYPI_UPLOAD_URL = f"https://{TEST_INDEX_HOST}/legacy/"
_BUILTIN_REPOSITORIES = {"pypi": PYPI_UPLOAD_URL, "testpypi": TESTPYPI_UPLOAD_URL}

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

_CHUNK = 1 << 16

Status = Literal["uploaded", "skipped", "failed"]
ProgressCallback = Callable[[Path, int, int], None]
RetryCallback = Callable[[Path, int, float, str], None]


class UploadInputError(AttestkitError):
    """Inputs that cannot be uploaded; ``errors`` lists every problem (nothing was sent)."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors) if self.errors else "invalid inputs")


class UploadConfigError(AttestkitError):
    """Bad repository URL, ``.pypirc`` or missing credentials (nothing was sent)."""


@dataclass(frozen=True)
class PlannedUpload:
    """One distribution, checked and ready to send."""

    path: Path
    fields: list[tuple[str, str]]
    attestations: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class UploadResult:
    """The outcome for one distribution."""

    dist: Path
    status: Status
    http_status: int | None
    message: str
    attempts: int = 0
    attestations: int = 0


@dataclass(frozen=True)
class Credentials:
    """Where to upload and as whom (``password`` is never printed)."""

    repository_url: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials({self.repository_url!r}, {self.username!r}, password=<hidden>)"


# -- inputs ------------------------------------------------------------------------------


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
    from attestkit.sigstore.verify.attestation import find_attestations

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
        if kind == "wheel":
            pyversion = path.name[: -len(".whl")].split("-")[-3]
            fields += [("pyversion", pyversion), ("filetype", "bdist_wheel")]
        else:
            fields += [("pyversion", "source"), ("filetype", "sdist")]
        fields.append(("sha256_digest", sha256))
        found: list[Path] = []
        if attestations:
            candidates = find_attestations(path) + extra.get(path.name, [])
            resolved: set[Path] = set()
            for candidate in candidates:
                if candidate.resolve() not in resolved:
                    resolved.add(candidate.resolve())
                    found.append(candidate)
            if not found:
                errors.append(
                    f"{path}: upload with attestations requested, but no"
                    f" {path.name}.<kind>.attestation file was found next to it"
                )
                continue
            loaded: list[Any] = []
            for candidate in found:
                try:
                    loaded.append(_check_attestation(candidate, path, sha256))
                except (AttestkitError, OSError, ValueError) as exc:
                    errors.append(f"{path}: {exc}")
            if len(loaded) != len(found):
                continue
            fields.append(("attestations", json.dumps(loaded)))
        fields += [
            ("blake2_256_digest", blake2),
            (":action", "file_upload"),
            ("protocol_version", "1"),
        ]
        planned.append(PlannedUpload(path, fields, found))
    if not dist_paths and not errors:
        errors.append("no distributions given")
    if errors:
        raise UploadInputError(errors)
    # Wheels first, like twine (so an index sees the metadata-rich file first).
    planned.sort(key=lambda p: not p.path.name.endswith(".whl"))
    return planned


# -- configuration -------------------------------------------------------------------------


def read_pypirc(path: str | os.PathLike[str] | None) -> dict[str, dict[str, str]]:
    """Sections of a ``.pypirc`` (``{}`` if it does not exist); errors never show values."""
    file = Path(os.fspath(path) if path else "~/.pypirc").expanduser()
    if not file.is_file():
        return {}
    parser = configparser.RawConfigParser()
    try:
        try:
            text = file.read_text()
        except UnicodeDecodeError:
            text = file.read_text(encoding="utf-8")
        parser.read_string(text, source=str(file))
    except (OSError, UnicodeDecodeError, configparser.Error):
        raise UploadConfigError(f"Malformed configuration in {file}.") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}


def _strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UploadConfigError(
            f"invalid repository URL {_safe_url(url)!r}: needs http(s):// and a host"
        )
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), parts.username, parts.password


def _safe_url(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//", url)


def _env(name: str, environ: dict[str, str] | os._Environ[str]) -> str | None:
    for prefix in ("ATTESTKIT_", "TWINE_"):
        value = environ.get(prefix + name)
        if value:
            return value
    return None


def env_flag(name: str, environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """A boolean environment setting (``0``, ``false``, ``no`` and empty mean false)."""
    value = _env(name, environ if environ is not None else os.environ)
    return value is not None and value.strip().lower() not in ("", "0", "false", "no")


def resolve_credentials(
    *,
    repository_url: str | None = None,
    repository: str | None = None,
    username: str | None = None,
    password: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    interactive: bool = False,
    environ: dict[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Credentials:
    """Find the URL, username and password: flags, environment, ``.pypirc``, keyring, prompt.

    Environment variables are ``ATTESTKIT_REPOSITORY_URL``, ``ATTESTKIT_REPOSITORY``,
    ``ATTESTKIT_USERNAME`` and ``ATTESTKIT_PASSWORD``, with ``TWINE_*`` as fallbacks.
    The username defaults to ``__token__``.  Raises :class:`UploadConfigError`.
    """
    env = environ if environ is not None else os.environ
    url = repository_url or _env("REPOSITORY_URL", env)
    section: dict[str, str] = {}
    sections = read_pypirc(config_file)
    if url is None:
        name = repository or _env("REPOSITORY", env) or "pypi"
        if name in sections:
            section = sections[name]
            url = section.get("repository") or _BUILTIN_REPOSITORIES.get(name)
            if not url:
                raise UploadConfigError(f"the [{name}] section of .pypirc has no 'repository'")
        elif name in _BUILTIN_REPOSITORIES:
            url = _BUILTIN_REPOSITORIES[name]
        else:
            where = Path(os.fspath(config_file or "~/.pypirc")).expanduser()
            raise UploadConfigError(f"Missing '{name}' section from {where}.")
    else:
        wanted = url.rstrip("/")
        for values in sections.values():
            if values.get("repository", "").rstrip("/") == wanted:
                section = values
                break
    url, url_user, url_password = _strip_userinfo(url)
    user = (
        username
        or _env("USERNAME", env)
        or url_user
        or section.get("username")
        or section_default(sections, "username")
        or "__token__"
    )
    secret = (
        password
        or _env("PASSWORD", env)
        or url_password
        or section.get("password")
        or section_default(sections, "password")
        or _keyring_password(url, user)
    )
    if not secret:
        what = "API token" if user == "__token__" else "password"
        if not interactive:
            raise UploadConfigError(
                f"no {what} for {url}: pass -p/--password, set ATTESTKIT_PASSWORD (or"
                " TWINE_PASSWORD), add it to .pypirc or the keyring"
            )
        if prompt is None:
            import getpass

            prompt = getpass.getpass
        secret = prompt(f"Enter your {what}: ")
        if not secret:
            raise UploadConfigError(f"no {what} entered")
    return Credentials(url, user, secret)


def section_default(sections: dict[str, dict[str, str]], key: str) -> str | None:
    """Legacy ``[server-login]`` defaults."""
    return sections.get("server-login", {}).get(key)


def _keyring_password(url: str, username: str) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        value = keyring.get_password(url, username)
    except Exception:  # no backend, locked, ... : keyring is optional
        return None
    return value or None


# -- sending -------------------------------------------------------------------------------


class _MultipartBody:
    """A streamed ``multipart/form-data`` body with a known length (for Content-Length)."""

    def __init__(
        self,
        fields: list[tuple[str, str]],
        path: Path,
        on_read: Callable[[int, int], None] | None,
    ) -> None:
        self.boundary = uuid.uuid4().hex
        head = io.BytesIO()
        for name, value in fields:
            disposition = f'Content-Disposition: form-data; name="{name}"'
            head.write(f"--{self.boundary}\r\n{disposition}\r\n\r\n".encode())
            head.write(value.encode("utf-8"))
            head.write(b"\r\n")
        filename = path.name.replace('"', "%22")
        head.write(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="content";'
            f' filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        self._head = head.getvalue()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._size = path.stat().st_size
        self._path = path
        self.length = len(self._head) + self._size + len(self._tail)
        self._on_read = on_read
        self._sent = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        self._report(len(self._head))
        with self._path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
                self._report(len(chunk))
        yield self._tail
        self._report(len(self._tail))

    def _report(self, n: int) -> None:
        self._sent += n
        if self._on_read is not None:
            self._on_read(self._sent, self.length)


def _message(response: Any, password: str) -> str:
    """Reason phrase and body, on one line each, with the password redacted."""
    reason = response.reason or "Unknown Status"
    body = (response.text or "").strip()
    text = f"{response.status_code} {reason}"
    if body and body != reason:
        text += f": {body}"
    return _redact(text, password)


def _redact(text: str, password: str) -> str:
    return text.replace(password, "<hidden>") if password else text


def _already_exists(response: Any) -> bool:
    if response.status_code == 409:
        return True
    if response.status_code != 400:
        return False
    return "already exist" in f"{response.reason} {response.text}".lower()


def _redirect_message(url: str, response: Any) -> str:
    location = response.headers.get("Location", "")
    text = (
        f"{url} attempted to redirect to {location or '(no Location)'}; redirects are not followed."
    )
    if location.rstrip("/") == url.rstrip("/") or location == url + "/":
        text += " Your repository URL is missing a trailing slash: add it and try again."
    else:
        text += f" If you trust this URL, use {location} as the repository URL and try again."
    return text


def upload(
    dists: Sequence[str | os.PathLike[str]],
    *,
    repository_url: str,
    username: str,
    password: str,
    attestations: bool,
    skip_existing: bool,
    retries: int = 5,
    timeout: float = 30,
    on_progress: ProgressCallback | None = None,
    on_retry: RetryCallback | None = None,
    backoff: float = 0.5,
    planned: Sequence[PlannedUpload] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> list[UploadResult]:
    """Upload ``dists`` in order; stop at the first failure.

    Attestations are sent only to an index that takes them: PyPI and TestPyPI,
    or one whose Simple API announces PEP 740 (api-version 1.3 or later);
    otherwise the files go up without them and ``on_warning`` says so.

    Inputs are checked first (:func:`plan`, raising :class:`UploadInputError`
    before anything is sent).  Files after a failed one are reported as
    ``failed`` with ``http_status`` ``None`` and "not attempted".
    ``on_progress(dist, bytes_sent, total)`` follows each request body;
    ``on_retry(dist, attempt, delay, reason)`` is called before each retry.
    """
    import requests

    url, url_user, url_password = _strip_userinfo(repository_url)
    username = username or url_user or "__token__"
    password = password or url_password or ""
    jobs = list(planned) if planned is not None else plan(dists, attestations=attestations)
    session = requests.Session()
    session.trust_env = True
    session.auth = (username, password)
    session.headers["User-Agent"] = (
        f"attestkit/{__version__} {platform.python_implementation()}/{platform.python_version()}"
    )
    if any(job.attestations for job in jobs) and not attestations_supported(url, session, timeout):
        if on_warning is not None:
            on_warning(
                f"{_safe_url(url)} does not announce support for PEP 740 attestations"
                " (Simple API 1.3 or later): uploading without them"
            )
        jobs = [
            PlannedUpload(j.path, [f for f in j.fields if f[0] != "attestations"]) for j in jobs
        ]
    results: list[UploadResult] = []
    try:
        for number, job in enumerate(jobs):
            result = _upload_one(
                session,
                url,
                job,
                password=password,
                skip_existing=skip_existing,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
                on_progress=on_progress,
                on_retry=on_retry,
            )
            results.append(result)
            if result.status == "failed":
                results.extend(
                    UploadResult(j.path, "failed", None, "not attempted: an earlier upload failed")
                    for j in jobs[number + 1 :]
                )
                break
    finally:
        session.close()
    return results


def attestations_supported(url: str, session: Any, timeout: float) -> bool:
    """Whether the index behind upload ``url`` takes PEP 740 attestations.

    PyPI and TestPyPI do; any other index is asked for its Simple API
    version: PEP 740 arrived with api-version 1.3.
    """
    from urllib.parse import urlsplit

    import requests

    from attestkit.core.constants import INDEX_HOST, TEST_INDEX_HOST

    parts = urlsplit(url)
    if parts.hostname in {INDEX_HOST, f"upload.{INDEX_HOST}", TEST_INDEX_HOST}:
        return True
    try:
        response = session.get(
            f"{parts.scheme}://{parts.netloc}/simple/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=timeout,
        )
        version = response.json()["meta"]["api-version"]
        major, minor = (int(x) for x in str(version).split(".")[:2])
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    return (major, minor) >= (1, 3)


def _upload_one(
    session: Any,
    url: str,
    job: PlannedUpload,
    *,
    password: str,
    skip_existing: bool,
    retries: int,
    timeout: float,
    backoff: float,
    on_progress: ProgressCallback | None,
    on_retry: RetryCallback | None,
) -> UploadResult:
    import requests

    attempt = 0
    count = len(job.attestations)
    while True:
        attempt += 1

        def report(sent: int, total: int) -> None:
            if on_progress is not None:
                on_progress(job.path, sent, total)

        body = _MultipartBody(job.fields, job.path, report)
        retry_reason: str
        try:
            response = session.post(
                url,
                data=body,
                headers={"Content-Type": body.content_type, "Content-Length": str(len(body))},
                allow_redirects=False,
                timeout=timeout,
            )
        except requests.RequestException as exc:
            retry_reason = _redact(f"connection error: {type(exc).__name__}: {exc}", password)
            status: int | None = None
        else:
            status = response.status_code
            try:
                if 200 <= status < 300:
                    return UploadResult(
                        job.path, "uploaded", status, f"{status} {response.reason}", attempt, count
                    )
                if 300 <= status < 400:
                    return UploadResult(
                        job.path, "failed", status, _redirect_message(url, response), attempt
                    )
                message = _message(response, password)
                if skip_existing and _already_exists(response):
                    return UploadResult(job.path, "skipped", status, message, attempt)
                if status < 500:
                    return UploadResult(job.path, "failed", status, message, attempt)
                retry_reason = message
            finally:
                response.close()
        if attempt > retries:
            return UploadResult(job.path, "failed", status, retry_reason, attempt)
        delay = backoff * (2 ** (attempt - 1))
        if on_retry is not None:
            on_retry(job.path, attempt, delay, retry_reason)
        time.sleep(delay)
