"""The configuration file (``--config attestkit.toml``) of the servers.

Everything ``attestkit serve`` and ``attestkit sigstore serve`` take as flags
can also live in one TOML file, so that an operator keeps a deployment's trust
decisions (which issuers, which trust roots, development or production) in one
reviewed place.  A flag given on the command line wins over the file.

.. code-block:: toml

    [serve]                      # attestkit serve
    dev = false                  # production (the default): only real or configured trust
    host = "0.0.0.0"
    port = 8080
    data_dir = "/var/lib/attestkit"
    database_url = "postgresql://attestkit@db/attestkit"
    base_url = "https://pypi.example.com"
    audience = "attestkit"
    workers = 2
    public_sigstore = true       # trust public Sigstore (production root)
    trust_roots = ["private-sigstore.json"]   # plus these (ClientTrustConfig/TrustedRoot files)
    mirror = ["https://pypi.org/simple/"]     # mirror projects not hosted here (verified)
    mirror_ttl = 300             # seconds before a mirrored page is revalidated
    mirror_policy = "attestkit.toml"          # [policy] for mirrored files (default: tofu)
    local_only = ["acme-*"]      # names never fetched from upstream
    allowed_hosts = ["pypi.example.com"]     # Host names answered (needed off loopback)
    ssl_certfile = "cert.pem"    # HTTPS (with ssl_keyfile); else put a TLS proxy in front
    ssl_keyfile = "key.pem"
    private = false              # true: every read needs a user's API token
    forwarded_allow_ips = ["10.0.0.5"]       # reverse proxies whose X-Forwarded-* count
    storage = "s3://attestkit-files/prod"    # files in a bucket (default "local": data_dir)
    s3_endpoint_url = "http://minio:9000"    # S3-compatible server (default AWS)
    s3_region = "us-east-1"
    s3_redirect_downloads = false            # true: downloads redirect to presigned URLs
    sweep_grace = 3600           # seconds before an unreferenced object may be swept
    rekor_v2 = false             # accept attestations timed by RFC 3161 timestamps (ahead of PyPI)

    [sigstore]                   # attestkit sigstore serve: a private Sigstore
    host = "127.0.0.1"
    port = 8081
    data_dir = "/var/lib/attestkit-sigstore"
    ca_name = "Example Corp Sigstore"
    url = "https://sigstore.example.com"     # the URL clients use (behind a load balancer)
    keys_dir = "/etc/attestkit/sigstore-keys"  # keys every node signs with (sigstore keys init)
    log_database_url = "postgresql://attestkit@db/sigstore"  # one log shared by every node

    [[sigstore.issuers]]         # OIDC issuers the CA trusts (keys by discovery)
    url = "https://gitlab.example.com"
    kind = "gitlab"              # github | gitlab | google | circleci | buildkite | email

Relative paths are relative to the file.  Unknown keys are errors, so a typo
never silently drops a trust decision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attestkit.core.issuers import OidcIssuer, check_issuer_url
from attestkit.core.providers import PROVIDERS
from attestkit.errors import InputError

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SIGSTORE_PORT",
    "ISSUER_KINDS",
    "Config",
    "ServeConfig",
    "SigstoreConfig",
    "load_config",
    "parse_issuer",
]

#: ``attestkit serve``'s port when none is configured (``--port 0``: any free port).
DEFAULT_PORT = 8740
#: ``attestkit sigstore serve``'s port when none is configured.
DEFAULT_SIGSTORE_PORT = 8741

#: The provider kinds an issuer of a private Sigstore can have.
ISSUER_KINDS = (*(k for k, p in PROVIDERS.items() if p.fulcio_type), "email")


@dataclass(frozen=True)
class ServeConfig:
    """The ``[serve]`` table; ``None`` means "not set" (the flag or default applies)."""

    dev: bool | None = None
    host: str | None = None
    port: int | None = None
    data_dir: Path | None = None
    database_url: str | None = None
    base_url: str | None = None
    audience: str | None = None
    workers: int | None = None
    login_email: str | None = None
    login_auto_approve: bool | None = None
    public_sigstore: bool | None = None
    trust_roots: tuple[Path, ...] = ()
    mirror: tuple[str, ...] = ()
    mirror_ttl: int | None = None
    mirror_policy: Path | None = None
    local_only: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    private: bool | None = None
    forwarded_allow_ips: tuple[str, ...] = ()
    storage: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_redirect_downloads: bool | None = None
    sweep_grace: int | None = None
    rekor_v2: bool | None = None


@dataclass(frozen=True)
class SigstoreConfig:
    """The ``[sigstore]`` table."""

    dev: bool | None = None
    host: str | None = None
    port: int | None = None
    data_dir: Path | None = None
    ca_name: str | None = None
    login_email: str | None = None
    login_auto_approve: bool | None = None
    issuers: tuple[OidcIssuer, ...] = ()
    url: str | None = None
    keys_dir: Path | None = None
    log_database_url: str | None = None


@dataclass(frozen=True)
class Config:
    """A whole configuration file (both tables optional)."""

    serve: ServeConfig = field(default_factory=ServeConfig)
    sigstore: SigstoreConfig = field(default_factory=SigstoreConfig)


def parse_issuer(kind: str, url: str) -> OidcIssuer:
    """An issuer a private Sigstore trusts; ``ValueError`` with a one-line reason."""
    if kind not in ISSUER_KINDS:
        raise ValueError(f"issuer kind {kind!r} is not one of {', '.join(ISSUER_KINDS)}")
    return OidcIssuer(check_issuer_url(url), kind)


_NOUNS = {bool: "true or false", int: "an integer", str: "a string", list: "an array"}
_TYPES: dict[str, type] = {
    "dev": bool,
    "host": str,
    "port": int,
    "data_dir": str,
    "database_url": str,
    "base_url": str,
    "audience": str,
    "workers": int,
    "login_email": str,
    "login_auto_approve": bool,
    "public_sigstore": bool,
    "trust_roots": list,
    "mirror": list,
    "mirror_ttl": int,
    "mirror_policy": str,
    "local_only": list,
    "allowed_hosts": list,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "private": bool,
    "forwarded_allow_ips": list,
    "ca_name": str,
    "issuers": list,
    "storage": str,
    "s3_endpoint_url": str,
    "s3_region": str,
    "s3_redirect_downloads": bool,
    "sweep_grace": int,
    "rekor_v2": bool,
    "url": str,
    "keys_dir": str,
    "log_database_url": str,
}
_SERVE_KEYS = frozenset(f.name for f in ServeConfig.__dataclass_fields__.values())
_SIGSTORE_KEYS = frozenset(f.name for f in SigstoreConfig.__dataclass_fields__.values())


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check ``path``; :class:`InputError` naming the file and the key otherwise."""
    import tomllib

    source = str(path)
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", source=source) from None
    base = Path(path).resolve().parent
    unknown = sorted(set(data) - {"serve", "sigstore"})
    if unknown:
        raise InputError(
            f"unknown table [{unknown[0]}] (want [serve] or [sigstore])", source=source
        )
    serve = _table(data, "serve", _SERVE_KEYS, source)
    sigstore = _table(data, "sigstore", _SIGSTORE_KEYS, source)
    return Config(
        serve=ServeConfig(
            **{k: v for k, v in serve.items() if k not in _SERVE_SPECIAL},
            data_dir=_path(base, serve.get("data_dir")),
            mirror=_strings(serve, "mirror", source),
            mirror_policy=_path(base, serve.get("mirror_policy")),
            local_only=_strings(serve, "local_only", source),
            allowed_hosts=_strings(serve, "allowed_hosts", source),
            forwarded_allow_ips=_strings(serve, "forwarded_allow_ips", source),
            ssl_certfile=_path(base, serve.get("ssl_certfile")),
            ssl_keyfile=_path(base, serve.get("ssl_keyfile")),
            trust_roots=tuple(
                _path_item(base, item, f"serve.trust_roots[{i}]", source)
                for i, item in enumerate(serve.get("trust_roots", []))
            ),
        ),
        sigstore=SigstoreConfig(
            **{k: v for k, v in sigstore.items() if k not in ("data_dir", "issuers", "keys_dir")},
            data_dir=_path(base, sigstore.get("data_dir")),
            keys_dir=_path(base, sigstore.get("keys_dir")),
            issuers=tuple(
                _issuer(item, f"sigstore.issuers[{i}]", source)
                for i, item in enumerate(sigstore.get("issuers", []))
            ),
        ),
    )


_SERVE_SPECIAL = (
    "data_dir",
    "trust_roots",
    "mirror",
    "mirror_policy",
    "local_only",
    "allowed_hosts",
    "forwarded_allow_ips",
    "ssl_certfile",
    "ssl_keyfile",
)


def _strings(table: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    items = table.get(key, [])
    if not all(isinstance(item, str) and item for item in items):
        raise InputError(f"serve.{key} must be an array of strings", source=source)
    return tuple(items)


def _table(data: dict[str, Any], name: str, keys: frozenset[str], source: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise InputError(f"{name} must be a table ([{name}])", source=source)
    for key, value in table.items():
        if key not in keys:
            raise InputError(f"unknown key {name}.{key}", source=source)
        want = _TYPES[key]
        # bool is an int in Python; a port of `true` is still an error.
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise InputError(f"{name}.{key} must be {_NOUNS[want]}", source=source)
    return dict(table)


def _path(base: Path, value: str | None) -> Path | None:
    return None if value is None else base / Path(value).expanduser()


def _path_item(base: Path, item: object, where: str, source: str) -> Path:
    if not isinstance(item, str) or not item:
        raise InputError(f"{where} must be a file path", source=source)
    return base / Path(item).expanduser()


def _issuer(item: object, where: str, source: str) -> OidcIssuer:
    if not isinstance(item, dict) or set(item) - {"url", "kind"}:
        raise InputError(f"{where} must be a table with 'url' and 'kind'", source=source)
    url, kind = item.get("url"), item.get("kind")
    if not isinstance(url, str) or not isinstance(kind, str):
        raise InputError(f"{where} needs 'url' and 'kind' strings", source=source)
    try:
        return parse_issuer(kind, url)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}", source=source) from None
