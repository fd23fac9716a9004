"""``attestkit serve``: the package index (production, or ``--dev`` with the embedded Sigstore)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from attestkit.cli import EXIT_OK, EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from attestkit.errors import AttestkitError
    from attestkit.index.instance import default_data_dir
    from attestkit.index.serve import Served, serve
    from attestkit.serving.config import ServeConfig, load_config

    try:
        conf = load_config(args.config).serve if args.config else ServeConfig()
    except AttestkitError as exc:
        print(f"attestkit serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    def pick(flag: object, configured: object, default: object) -> Any:
        return flag if flag is not None else configured if configured is not None else default

    data_dir = Path(pick(args.data_dir, conf.data_dir, None) or default_data_dir())
    dev = bool(pick(args.dev, conf.dev, False))
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
        print(f"  index:   {served.url}/simple/   upload: {served.url}/legacy/", flush=True)
        if served.sigstore is not None:
            print(
                f"  sigstore: {served.url}   trust config: {served.url}/trust-config.json",
                flush=True,
            )

    try:
        serve(
            data_dir,
            pick(args.host, conf.host, "127.0.0.1"),
            pick(args.port, conf.port, 0),
            dev=dev,
            database_url=pick(args.database_url, conf.database_url, None),
            trust_roots=[*conf.trust_roots, *args.trust_root],
            public_sigstore=pick(args.public_sigstore, conf.public_sigstore, True),
            audience=pick(args.audience, conf.audience, "attestkit"),
            base_url=pick(args.base_url, conf.base_url, None),
            login_email=pick(args.login_email, conf.login_email, None),
            login_auto_approve=auto_approve,
            workers=pick(args.workers, conf.workers, 1),
            on_ready=ready,
        )
    except (OSError, AttestkitError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"attestkit serve: error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
