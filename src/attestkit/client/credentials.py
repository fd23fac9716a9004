"""Where to upload and as whom: repository names, ``.pypirc``, environment and keyring.

The rules are twine's (``twine/settings.py``, ``twine/utils.py``): a URL from
the flag or ``ATTESTKIT_REPOSITORY_URL``/``TWINE_REPOSITORY_URL``, else a
named repository (``pypi``, ``testpypi`` or a ``.pypirc`` section); the
username and password from flags, environment, the URL's userinfo, the
``.pypirc`` section (or ``[server-login]``), the keyring, and last a prompt.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from attestkit.client.repository import strip_userinfo
from attestkit.core.constants import INDEX_HOST, TEST_INDEX_HOST
from attestkit.errors import AttestkitError

__all__ = [
    "PYPI_UPLOAD_URL",
    "TESTPYPI_UPLOAD_URL",
    "Credentials",
    "UploadConfigError",
    "env_flag",
    "named_repository_url",
    "read_pypirc",
    "resolve_credentials",
    "section_default",
]

PYPI_UPLOAD_URL = f"https://upload.{INDEX_HOST}/legacy/"
TESTPYPI_UPLOAD_URL = f"https://{TEST_INDEX_HOST}/legacy/"
_BUILTIN_REPOSITORIES = {"pypi": PYPI_UPLOAD_URL, "testpypi": TESTPYPI_UPLOAD_URL}


class UploadConfigError(AttestkitError):
    """Bad repository URL, ``.pypirc`` or missing credentials (nothing was sent)."""


@dataclass(frozen=True)
class Credentials:
    """Where to upload and as whom (``password`` is never printed)."""

    repository_url: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials({self.repository_url!r}, {self.username!r}, password=<hidden>)"


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
        section = sections.get(name, {})
        url = named_repository_url(name, sections, config_file)
    else:
        wanted = url.rstrip("/")
        for values in sections.values():
            if values.get("repository", "").rstrip("/") == wanted:
                section = values
                break
    url, url_user, url_password = strip_userinfo(url)
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


def named_repository_url(
    name: str,
    sections: dict[str, dict[str, str]] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> str:
    """The upload URL of repository ``name``: a ``.pypirc`` section, ``pypi`` or ``testpypi``."""
    if sections is None:
        sections = read_pypirc(config_file)
    if name in sections:
        url = sections[name].get("repository") or _BUILTIN_REPOSITORIES.get(name)
        if not url:
            raise UploadConfigError(f"the [{name}] section of .pypirc has no 'repository'")
        return url
    if name in _BUILTIN_REPOSITORIES:
        return _BUILTIN_REPOSITORIES[name]
    where = Path(os.fspath(config_file or "~/.pypirc")).expanduser()
    raise UploadConfigError(f"Missing '{name}' section from {where}.")


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
