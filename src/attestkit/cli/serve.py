"""``attestkit serve``: the package index, with the embedded Sigstore by default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attestkit.cli import EXIT_OK, EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from attestkit.errors import AttestkitError
    from attestkit.index.core import default_data_dir
    from attestkit.index.serve import Served, serve

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()

    def ready(served: Served) -> None:
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
            args.host,
            args.port,
            database_url=args.database_url,
            local_sigstore=not args.no_local_sigstore,
            audience=args.audience,
            base_url=args.base_url,
            login_email=args.login_email,
            workers=args.workers,
            on_ready=ready,
        )
    except (OSError, AttestkitError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"attestkit serve: error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
