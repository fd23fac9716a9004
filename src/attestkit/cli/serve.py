"""``attestkit serve``: the package index (production, or ``--dev`` with the embedded Sigstore)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.cli._options import EXIT_OK, EXIT_USAGE, Subparsers, add_verbose
from attestkit.core.constants import PYPI_SIMPLE

if TYPE_CHECKING:
    from attestkit.index.storage import StorageConfig
    from attestkit.serving.config import ServeConfig


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from attestkit.errors import AttestkitError
    from attestkit.index.instance import default_data_dir
    from attestkit.index.serve import Served, serve
    from attestkit.serving.config import DEFAULT_PORT, ServeConfig, load_config

    try:
        conf = load_config(args.config).serve if args.config else ServeConfig()
    except AttestkitError as exc:
        print(f"attestkit serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    def pick(flag: object, configured: object, default: object) -> Any:
        return flag if flag is not None else configured if configured is not None else default

    data_dir = Path(pick(args.data_dir, conf.data_dir, None) or default_data_dir())
    dev = bool(pick(args.dev, conf.dev, False))
    try:
        storage = storage_from(args, conf)
    except AttestkitError as exc:
        print(f"attestkit serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    auto_approve = bool(pick(args.login_auto_approve, conf.login_auto_approve, False))
    if auto_approve and not dev:
        print(
            "attestkit serve: error: --login-auto-approve is for --dev (production runs no"
            " login of its own)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    def ready(served: Served) -> None:
        if dev:
            print(
                "attestkit: DEVELOPMENT INSTANCE: identities are simulated; never use it for"
                " real releases",
                file=sys.stderr,
                flush=True,
            )
        print(f"attestkit: serving {served.url} (data in {data_dir})", flush=True)
        if not storage.is_local:
            print(f"  files:   {served.index.store.describe()}", flush=True)
        print(f"  index:   {served.url}/simple/   upload: {served.url}/legacy/", flush=True)
        mirror = served.index.config.mirror
        if mirror is not None:
            print(f"  mirror:  {', '.join(mirror.upstreams)} (verified)", flush=True)
        if served.sigstore is not None:
            print(
                f"  sigstore: {served.url}   trust config: {served.url}/trust-config.json",
                flush=True,
            )

    try:
        serve(
            data_dir,
            pick(args.host, conf.host, "127.0.0.1"),
            pick(args.port, conf.port, DEFAULT_PORT),
            dev=dev,
            database_url=pick(args.database_url, conf.database_url, None),
            storage=storage,
            rekor_v2=bool(pick(args.rekor_v2, conf.rekor_v2, False)),
            trust_roots=[*conf.trust_roots, *args.trust_root],
            public_sigstore=pick(args.public_sigstore, conf.public_sigstore, True),
            audience=pick(args.audience, conf.audience, "attestkit"),
            base_url=pick(args.base_url, conf.base_url, None),
            login_email=pick(args.login_email, conf.login_email, None),
            login_auto_approve=auto_approve,
            workers=pick(args.workers, conf.workers, 1),
            mirror=[*conf.mirror, *args.mirror],
            mirror_ttl=float(pick(args.mirror_ttl, conf.mirror_ttl, 300)),
            mirror_policy=pick(args.mirror_policy, conf.mirror_policy, None),
            local_only=[*conf.local_only, *args.local_only],
            allowed_hosts=[*conf.allowed_hosts, *args.allowed_host],
            ssl_certfile=pick(args.ssl_certfile, conf.ssl_certfile, None),
            ssl_keyfile=pick(args.ssl_keyfile, conf.ssl_keyfile, None),
            private=bool(pick(args.private, conf.private, False)),
            forwarded_allow_ips=[*conf.forwarded_allow_ips, *args.forwarded_allow_ips],
            on_ready=ready,
        )
    except (OSError, AttestkitError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"attestkit serve: error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def storage_from(args: argparse.Namespace, conf: ServeConfig) -> StorageConfig:
    """The file store the flags (over the config file's ``[serve]``) name; InputError if bad."""
    from attestkit.index.storage import parse_storage

    def pick(flag: object, configured: object) -> Any:
        return flag if flag is not None else configured

    return parse_storage(
        pick(args.storage, conf.storage),
        endpoint_url=pick(args.s3_endpoint_url, conf.s3_endpoint_url),
        region=pick(args.s3_region, conf.s3_region),
        redirect_downloads=bool(pick(args.s3_redirect_downloads, conf.s3_redirect_downloads)),
        sweep_grace=conf.sweep_grace,
    )


def add_storage_options(p: argparse.ArgumentParser) -> None:
    """``--storage`` and the S3 options (``attestkit serve`` and ``attestkit index``)."""
    p.add_argument(
        "--storage",
        metavar="WHERE",
        help="where distribution files live: local (the data directory, default) or"
        " s3://BUCKET[/PREFIX] (an S3-compatible bucket shared by every node; credentials"
        " from the AWS_* environment or profile)",
    )
    p.add_argument("--s3-endpoint-url", metavar="URL", help="S3-compatible server (default AWS)")
    p.add_argument("--s3-region", metavar="REGION", help="the bucket's region")
    p.add_argument(
        "--s3-redirect-downloads",
        action="store_true",
        default=None,
        help="answer downloads with a presigned URL of the bucket instead of streaming them",
    )


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit serve``."""
    p = sub.add_parser(
        "serve",
        help="serve a package index over HTTP (production, or --dev with the embedded Sigstore)",
        description="Serve the package index: upload (POST /legacy/, with PEP 740"
        " attestations), Simple, Integrity and JSON APIs, Trusted Publishing and provenance"
        " pages. Production (the default) trusts only the real CI issuers, the custom issuers"
        " registered per publisher, public Sigstore and --trust-root files. --dev adds the"
        " embedded Sigstore, whose issuer simulates GitHub, GitLab and Google identities so"
        " everything works offline: loopback only, for development and tests.",
    )
    add_verbose(p)
    p.add_argument(
        "--config",
        metavar="FILE",
        help="attestkit.toml with a [serve] table (flags given here win over it)",
    )
    p.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="development mode: embedded Sigstore with simulated CI identities (loopback only)",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="state (index/, sigstore/); default $ATTESTKIT_DATA_DIR or ~/.local/share/attestkit",
    )
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://USER:PW@HOST/DB (default: SQLite in DIR/index)",
    )
    add_storage_options(p)
    p.add_argument(
        "--rekor-v2",
        action="store_true",
        default=None,
        help="accept attestations timed by RFC 3161 timestamps (Rekor v2 entries), which PyPI"
        " does not accept yet",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default 8740; 0: any free port)")
    p.add_argument(
        "--trust-root",
        metavar="FILE",
        action="append",
        default=[],
        help="also verify attestations against this Sigstore trust root (ClientTrustConfig or"
        " TrustedRoot JSON, e.g. a private `attestkit sigstore serve`); repeatable",
    )
    p.add_argument(
        "--no-public-sigstore",
        action="store_false",
        dest="public_sigstore",
        default=None,
        help="do not trust public Sigstore (air-gapped: only --trust-root files)",
    )
    p.add_argument("--audience", help="Trusted Publishing audience (default attestkit)")
    p.add_argument("--base-url", help="external URL for absolute links (default: per request)")
    p.add_argument(
        "--private",
        action="store_true",
        default=None,
        help="every read (Simple API, files, pages) needs a user's API token (__token__)",
    )
    p.add_argument("--ssl-certfile", metavar="PEM", help="serve HTTPS with this certificate chain")
    p.add_argument("--ssl-keyfile", metavar="PEM", help="the private key of --ssl-certfile")
    p.add_argument(
        "--allowed-host",
        metavar="NAME",
        action="append",
        default=[],
        help="a Host name clients use (others get 400); repeatable. Required on a network"
        " address unless --base-url is given; loopback names are allowed on loopback",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        metavar="ADDR",
        action="append",
        default=[],
        help="a reverse proxy (address or network) whose X-Forwarded-Proto/-For are believed;"
        " repeatable (default: none are)",
    )
    p.add_argument("--login-email", metavar="EMAIL", help="identity of the embedded login (--dev)")
    p.add_argument(
        "--login-auto-approve",
        action="store_true",
        default=None,
        help="--dev: approve interactive logins without the one-time code (tests, scripts)",
    )
    p.add_argument("--workers", type=int, help="server processes sharing the port (default 1)")
    p.add_argument(
        "--mirror",
        metavar="URL",
        nargs="?",
        const=PYPI_SIMPLE,
        action="append",
        default=[],
        help="mirror projects this index does not host from this Simple API (default"
        f" {PYPI_SIMPLE}), verifying each file's provenance; repeatable, first wins",
    )
    p.add_argument(
        "--mirror-ttl",
        type=int,
        metavar="SECONDS",
        help="revalidate a mirrored page against upstream after this long (default 300)",
    )
    p.add_argument(
        "--mirror-policy",
        metavar="FILE",
        help="attestkit.toml whose [policy] mirrored files must meet (default: trust on first use)",
    )
    p.add_argument(
        "--local-only",
        metavar="PATTERN",
        action="append",
        default=[],
        help="project names (shell patterns, e.g. 'acme-*') never fetched from upstream;"
        " repeatable",
    )
