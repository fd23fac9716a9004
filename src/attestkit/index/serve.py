"""``attestkit serve``: the index, with the embedded local Sigstore on the same port.

By default one process serves both: the index (upload, Simple, Integrity and
JSON APIs, Trusted Publishing, pages) and the local Sigstore instance (OIDC
issuer, CA, log).  The local OIDC key stands in for GitHub Actions, GitLab CI
and Google, so Trusted Publishing and attestations work fully offline; uploaded
attestations verify against the local trust root *and* public Sigstore.  With
``local_sigstore=False`` only the real issuers (discovered over the network)
and public Sigstore are trusted.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attestkit.constants import GITHUB_ISSUER, GITLAB_ISSUER, GOOGLE_ISSUER
from attestkit.index.core import Index, IndexConfig, OidcIssuer

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
    local_sigstore: bool
    audience: str
    base_url: str | None
    login_email: str | None


def _build(settings: _Settings) -> tuple[Any, Index, Any]:
    """The application for ``settings``: (app, index, local Sigstore or None)."""
    from attestkit.index.app import create_app
    from attestkit.trust import TrustRoot

    base = Path(settings.data_dir)
    extra_routes: list[Any] = []
    trust_roots = [TrustRoot.production()]
    issuers: tuple[OidcIssuer, ...] = PUBLIC_ISSUERS
    instance = None
    if settings.local_sigstore:
        from attestkit.localsigstore.server import LocalSigstore
        from attestkit.localsigstore.server import create_app as sigstore_app

        instance = LocalSigstore.open(
            base / "sigstore", settings.url, login_email=settings.login_email
        )
        config = instance.trust_config()
        trust_roots.insert(0, TrustRoot.from_json(json.dumps(config), source="local Sigstore"))
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
        )
    )
    return create_app(index, extra_routes), index, instance


def worker_app() -> Any:
    """The app factory each ``--workers`` process imports (settings from the environment)."""
    settings = _Settings(**json.loads(os.environ[WORKER_ENV]))
    app, _, _ = _build(settings)
    return app


def serve(
    data_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    database_url: str | None = None,
    local_sigstore: bool = True,
    audience: str = "attestkit",
    base_url: str | None = None,
    login_email: str | None = None,
    workers: int = 1,
    on_ready: Callable[[Served], None] | None = None,
) -> None:
    """Serve until interrupted.  ``port=0`` picks a free port.

    With ``workers > 1``, that many processes (uvicorn's supervisor) share the
    listening socket; the database, the file store and the Sigstore log are
    safe across processes (transactions; pages are cached per process but
    validated against the database on every request).
    """
    import fcntl

    import uvicorn

    from attestkit.encoding import atomic_write
    from attestkit.index.reasons import ReasonPhraseH11Protocol

    base = Path(data_dir)
    base.mkdir(parents=True, exist_ok=True)
    lock = (base / "lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise OSError(f"another attestkit server is using {base}") from None

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(511)
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{url_host}:{sock.getsockname()[1]}"
    settings = _Settings(
        str(base), url, database_url, local_sigstore, audience, base_url, login_email
    )
    # Built here even with workers: keys, schema migrations and the log are created once,
    # before any worker starts.
    app, index, instance = _build(settings)
    # PyPI puts its error messages in the reason phrase, where twine prints them; stock
    # uvicorn cannot send custom phrases, this protocol can (see attestkit.index.reasons).
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "http": ReasonPhraseH11Protocol,
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
    server = uvicorn.Server(config)
    info = json.dumps({"url": url, "pid": os.getpid()}).encode()
    atomic_write(base / "server.json", info)
    if local_sigstore:
        atomic_write(base / "sigstore" / "server.json", info)
    if on_ready is not None:
        on_ready(Served(url, index, instance))
    try:
        if workers > 1:
            from uvicorn.supervisors.multiprocess import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    finally:
        index.close()
        if instance is not None:
            instance.close()
        lock.close()
