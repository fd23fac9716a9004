"""``attestkit serve``: the package index, in production or development mode.

*Production* (the default) trusts only what is real or configured: Trusted
Publishing from the public issuers (GitHub, GitLab.com, Google, ActiveState;
keys by OpenID discovery) and from the custom issuers an operator registers
per publisher, and attestations that verify against public Sigstore and the
trust roots the operator configures (``trust_roots``, e.g. a private
``attestkit sigstore serve``).  No stand-in keys, ever.

*Development* (``dev=True``, ``attestkit serve --dev``) adds the embedded local
Sigstore on the same port, whose OIDC key stands in for GitHub, GitLab and
Google so the whole chain runs offline.  Its identities are simulated, so it is
fenced (:mod:`attestkit.serving.devmode`): loopback only, a banner on every HTML page,
CA certificates marked as a development instance's, and a data directory that
records the mode and is never served in the other one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.core.constants import GITHUB_ISSUER, GITLAB_ISSUER, GOOGLE_ISSUER
from attestkit.index.instance import Index, IndexConfig, OidcIssuer

if TYPE_CHECKING:
    from attestkit.index.mirror import MirrorConfig
    from attestkit.index.storage import StorageConfig

__all__ = ["PUBLIC_ISSUERS", "Served", "serve"]

#: Trusted Publishing issuers of the public CI providers (keys discovered over HTTPS).
PUBLIC_ISSUERS = (
    OidcIssuer(GITHUB_ISSUER, "github", discovery_url=GITHUB_ISSUER),
    OidcIssuer(GITLAB_ISSUER, "gitlab", discovery_url=GITLAB_ISSUER),
    OidcIssuer(GOOGLE_ISSUER, "google", discovery_url=GOOGLE_ISSUER),
    OidcIssuer(
        "https://platform.activestate.com/api/v1/oauth/oidc",
        "activestate",
        discovery_url="https://platform.activestate.com/api/v1/oauth/oidc",
    ),
)


@dataclass
class Served:
    """What :func:`serve` is serving (given to ``on_ready``)."""

    url: str
    index: Index
    sigstore: Any | None


#: Environment variable carrying the worker configuration to ``--workers`` processes.
WORKER_ENV = "ATTESTKIT_SERVE_WORKER"


@dataclass(frozen=True)
class _Settings:
    data_dir: str
    url: str
    database_url: str | None
    dev: bool
    audience: str
    base_url: str | None
    login_email: str | None
    login_auto_approve: bool = False
    #: Extra trust roots (ClientTrustConfig / TrustedRoot files) for attestations.
    trust_roots: tuple[str, ...] = ()
    public_sigstore: bool = True
    #: Upstream Simple API roots mirrored, in priority order (empty: no mirror).
    mirror: tuple[str, ...] = ()
    mirror_ttl: float = 300.0
    mirror_policy: str | None = None
    local_only: tuple[str, ...] = ()
    #: ``Host`` names answered (others get 400); see ``serving.headers.allowed_hosts``.
    allowed_hosts: tuple[str, ...] = ()
    #: Reads need a user's API token (``attestkit serve --private``).
    private: bool = False
    #: The file store (:class:`~attestkit.index.storage.StorageConfig` fields; None: local).
    storage: dict[str, Any] | None = None
    #: Accept attestations timed by RFC 3161 timestamps (Rekor v2), ahead of PyPI.
    rekor_v2: bool = False

    def mirror_config(self) -> MirrorConfig | None:
        """The mirror these settings describe, or None."""
        return _mirror_config(self.mirror, self.mirror_ttl, self.mirror_policy, self.local_only)


def _mirror_config(
    upstreams: Sequence[str],
    ttl: float,
    policy_file: str | os.PathLike[str] | None,
    local_only: Sequence[str],
) -> MirrorConfig | None:
    """A mirror's configuration (policy file read, URLs checked); InputError otherwise."""
    if not upstreams:
        return None
    from attestkit.core.install_policy import Policy
    from attestkit.errors import InputError
    from attestkit.index.mirror import MirrorConfig

    if ttl < 0:
        raise InputError("the mirror TTL must be 0 or more seconds")
    policy = Policy.load(policy_file) if policy_file else Policy()
    return MirrorConfig(
        upstreams=tuple(upstreams), ttl=ttl, policy=policy, local_only=tuple(local_only)
    )


def _build(settings: _Settings) -> tuple[Any, Index, Any]:
    """The application for ``settings``: (app, index, local Sigstore or None)."""
    from attestkit.index.app import create_app
    from attestkit.serving.devmode import DevBannerMiddleware
    from attestkit.sigstore.trust import TrustRoot

    base = Path(settings.data_dir)
    extra_routes: list[Any] = []
    trust_roots = [TrustRoot.from_file(path) for path in settings.trust_roots]
    if settings.public_sigstore:
        trust_roots.append(TrustRoot.production())
    issuers: tuple[OidcIssuer, ...] = PUBLIC_ISSUERS
    instance = None
    if settings.dev:
        from attestkit.sigstore.local.server import LocalSigstore
        from attestkit.sigstore.local.server import create_app as sigstore_app

        instance = LocalSigstore.open(
            base / "sigstore",
            settings.url,
            development=True,
            login_email=settings.login_email,
            login_auto_approve=settings.login_auto_approve,
            rekor_v2=settings.rekor_v2,
        )
        config = instance.trust_config()
        trust_roots.insert(
            0, TrustRoot.from_json(json.dumps(config), source="local development Sigstore")
        )
        # Development only: the embedded issuer's key stands in for the CI issuers.
        jwks = instance.issuer.jwks()
        issuers = (
            OidcIssuer(GITHUB_ISSUER, "github", jwks=jwks),
            OidcIssuer(GITLAB_ISSUER, "gitlab", jwks=jwks),
            OidcIssuer(GOOGLE_ISSUER, "google", jwks=jwks),
        )
        extra_routes = list(sigstore_app(instance).routes)
    index = Index.open(
        IndexConfig(
            data_dir=base / "index",
            database_url=settings.database_url,
            audience=settings.audience,
            trust_roots=tuple(trust_roots),
            oidc_issuers=issuers,
            base_url=settings.base_url,
            mirror=settings.mirror_config(),
            private=settings.private,
            storage=_storage(settings.storage),
            rekor_v2=settings.rekor_v2,
        )
    )
    app: Any = create_app(index, extra_routes)
    if settings.dev:
        app = DevBannerMiddleware(app)
    if settings.allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app = TrustedHostMiddleware(app, allowed_hosts=list(settings.allowed_hosts))
    return app, index, instance


def _storage(fields: dict[str, Any] | None) -> StorageConfig | None:
    from attestkit.index.storage import StorageConfig

    return None if fields is None else StorageConfig(**fields)


def _tls_files(
    certfile: str | os.PathLike[str] | None, keyfile: str | os.PathLike[str] | None
) -> dict[str, str]:
    """uvicorn's TLS options, after checking that both files load as a key pair."""
    if certfile is None or keyfile is None:
        return {}
    import ssl

    from attestkit.errors import InputError

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot use {certfile} and {keyfile} for TLS: {exc}") from None
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}


def worker_app() -> Any:
    """The app factory each ``--workers`` process imports (settings from the environment)."""
    values = json.loads(os.environ[WORKER_ENV])
    tuples = ("trust_roots", "mirror", "local_only", "allowed_hosts")
    settings = _Settings(**{**values, **{key: tuple(values[key]) for key in tuples}})
    app, _, _ = _build(settings)
    return app


def serve(
    data_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    dev: bool = False,
    database_url: str | None = None,
    storage: StorageConfig | None = None,
    rekor_v2: bool = False,
    trust_roots: Sequence[str | os.PathLike[str]] = (),
    public_sigstore: bool = True,
    audience: str = "attestkit",
    base_url: str | None = None,
    login_email: str | None = None,
    login_auto_approve: bool = False,
    workers: int = 1,
    mirror: Sequence[str] = (),
    mirror_ttl: float = 300.0,
    mirror_policy: str | os.PathLike[str] | None = None,
    local_only: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    ssl_certfile: str | os.PathLike[str] | None = None,
    ssl_keyfile: str | os.PathLike[str] | None = None,
    private: bool = False,
    forwarded_allow_ips: Sequence[str] = (),
    on_ready: Callable[[Served], None] | None = None,
) -> None:
    """Serve until interrupted.  ``port=0`` picks a free port.

    ``dev=True`` is development mode (see the module docstring): refused on
    a non-loopback ``host`` and on a production data directory.  Production
    refuses a development data directory.  The embedded login of ``dev``
    waits for a one-time code printed on standard error unless
    ``login_auto_approve``.  Attestations verify against public
    Sigstore (unless ``public_sigstore=False``) and each file in
    ``trust_roots``.  Refusals raise :class:`~attestkit.errors.InputError`.

    With ``workers > 1``, that many processes (uvicorn's supervisor) share the
    listening socket; the database, the file store and the Sigstore log are
    safe across processes (transactions; pages are cached per process but
    validated against the database on every request).

    With ``mirror`` (upstream Simple API roots), projects the index does not
    host are mirrored from them and verified (:mod:`attestkit.index.mirror`):
    ``mirror_ttl`` seconds between revalidations, ``mirror_policy`` a policy
    file (``[policy]``), ``local_only`` name patterns never read upstream.

    ``storage`` puts the distribution files in an S3-compatible bucket instead of the
    data directory; with a PostgreSQL ``database_url`` any number of nodes (each with
    its own data directory) serve one index (``docs/deploy.md``).

    ``rekor_v2`` accepts uploaded attestations whose signing time comes from RFC 3161
    timestamps (a Rekor v2 entry); PyPI does not accept them yet, so neither does
    the index by default.  With ``dev``, the embedded Sigstore then also runs a
    Rekor v2 log and a timestamp authority, and signers are sent to them.

    ``ssl_certfile`` and ``ssl_keyfile`` (PEM) serve HTTPS instead of HTTP.
    ``private`` makes every read need a user's API token.

    Behind a reverse proxy, ``forwarded_allow_ips`` lists the proxies (addresses
    or networks) whose ``X-Forwarded-Proto`` and ``X-Forwarded-For`` are
    believed; nobody else's are, and with none given no forwarded header is.

    Requests whose ``Host`` is not one of ``allowed_hosts`` (plus ``base_url``'s
    host, plus the loopback names on a loopback address) get 400; a network
    address with none of them is refused (:func:`attestkit.serving.headers.allowed_hosts`).
    """
    import uvicorn

    from attestkit.errors import InputError
    from attestkit.index.reasons import ReasonPhraseH11Protocol
    from attestkit.serving.bootstrap import announced, listen, lock_data_dir
    from attestkit.serving.bootstrap import run as run_server
    from attestkit.serving.devmode import DEVELOPMENT, PRODUCTION, claim_data_dir, require_loopback
    from attestkit.sigstore.trust import TrustRoot

    if dev:
        require_loopback(host)
    if not dev and not public_sigstore and not trust_roots:
        raise InputError(
            "no trust root for attestations: keep public Sigstore or give --trust-root FILE"
        )
    for path in trust_roots:
        # Refuse a bad file now, with its name and reason.
        if TrustRoot.from_file(path).development and not dev:
            raise InputError(
                f"{path} is the trust root of an attestkit development instance, whose"
                " identities are simulated: a production index never trusts it"
            )
    _mirror_config(mirror, mirror_ttl, mirror_policy, local_only)  # refuse bad ones now
    from attestkit.serving.headers import allowed_hosts as hosts_for

    hosts = hosts_for(host, allowed_hosts, base_url)
    if hosts is None:
        raise InputError(
            f"listening on {host} needs the names clients use: --allowed-host NAME (repeatable)"
            " or --base-url URL (absolute URLs are built from the Host header otherwise)"
        )
    base = Path(data_dir)
    base.mkdir(parents=True, exist_ok=True)
    claim_data_dir(base, DEVELOPMENT if dev else PRODUCTION)
    lock = lock_data_dir(base, "attestkit server")
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise InputError("TLS needs both --ssl-certfile and --ssl-keyfile")
    tls = _tls_files(ssl_certfile, ssl_keyfile)
    sock, url = listen(host, port)
    if tls:
        url = "https://" + url.removeprefix("http://")
    settings = _Settings(
        data_dir=str(base),
        url=url,
        database_url=database_url,
        dev=dev,
        audience=audience,
        base_url=base_url,
        login_email=login_email,
        login_auto_approve=login_auto_approve,
        trust_roots=tuple(str(Path(p).resolve()) for p in trust_roots),
        public_sigstore=public_sigstore,
        mirror=tuple(mirror),
        mirror_ttl=mirror_ttl,
        mirror_policy=str(Path(mirror_policy).resolve()) if mirror_policy else None,
        local_only=tuple(local_only),
        allowed_hosts=tuple(hosts),
        private=private,
        storage=None if storage is None or storage.is_local else dict(storage.__dict__),
        rekor_v2=rekor_v2,
    )

    # Built here even with workers: keys, schema migrations and the log are created once,
    # before any worker starts.
    app, index, instance = _build(settings)
    from attestkit.index.sweep import sweep

    sweep(index)  # what a killed server left behind; safe: the data directory is locked
    # PyPI puts its error messages in the reason phrase, where twine prints them; stock
    # uvicorn cannot send custom phrases, this protocol can (see attestkit.index.reasons).
    options: dict[str, Any] = {
        **tls,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "http": ReasonPhraseH11Protocol,
        # Forwarded headers only from the configured proxies (uvicorn trusts
        # 127.0.0.1 by default, which would let any local process pose as the proxy).
        "proxy_headers": bool(forwarded_allow_ips),
        "forwarded_allow_ips": list(forwarded_allow_ips) or [],
    }
    if workers > 1:
        index.close()
        if instance is not None:
            instance.close()
        os.environ[WORKER_ENV] = json.dumps(settings.__dict__)
        config = uvicorn.Config(
            "attestkit.index.serve:worker_app", factory=True, workers=workers, **options
        )
    else:
        config = uvicorn.Config(app, **options)
    directories = [base, base / "sigstore"] if dev else [base]
    try:
        with announced(directories, url):
            if on_ready is not None:
                on_ready(Served(url, index, instance))
            run_server(config, sock, workers=workers)
    finally:
        index.close()
        if instance is not None:
            instance.close()
        lock.close()
