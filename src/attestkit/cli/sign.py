"""``attestkit sign``: sign distributions into PEP 740 attestations.

Output: ``OK <dist>: wrote <file> (log index N)`` per written attestation (or
``kept`` for ``--skip-verified``) on stdout; ``FAIL <dist>: <reason>`` for each
input that cannot be signed.  Exit codes: 0 signed; 1 signing failed (a service
refused or was unreachable, a result did not verify); 2 input or usage error
(bad file, existing output, no identity).  Nothing is written unless all
files succeed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from attestkit.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from attestkit.cli._common import print_json, progress_wanted
from attestkit.errors import AttestkitError


def run(args: argparse.Namespace) -> int:
    """Entry point of ``attestkit sign``."""
    from attestkit.client.identity import IdentityError
    from attestkit.client.sign import PlanError, SigningError, SigningServices, sign, slsa_predicate

    with _terminate_as_interrupt():
        try:
            slsa = slsa_predicate(args.slsa_provenance) if args.slsa_provenance else None
            local, trust_config = args.local, args.trust_config
            if local:

                def services() -> SigningServices:
                    return SigningServices.from_local(local, timeout=args.timeout)

            elif trust_config:

                def services() -> SigningServices:
                    return SigningServices.from_file(trust_config)

            else:
                services = SigningServices.staging if args.staging else SigningServices.production
            with _progress(enabled=len(args.dists) > 3 and not args.json) as on_progress:
                results = sign(
                    args.dists,
                    identity_token=args.identity_token,
                    services=services,
                    slsa_provenance=slsa,
                    overwrite=args.overwrite,
                    skip_verified=args.skip_verified,
                    interactive=args.interactive,
                    workers=args.workers,
                    timeout=args.timeout,
                    on_progress=on_progress,
                )
        except PlanError as exc:
            for error in exc.errors:
                print(f"FAIL {error}", file=sys.stderr)
            print("attestkit sign: nothing was signed or written", file=sys.stderr)
            return EXIT_USAGE
        except (IdentityError, SigningError) as exc:
            print(f"attestkit sign: error: {exc}", file=sys.stderr)
            print("attestkit sign: nothing was written", file=sys.stderr)
            return EXIT_USAGE if isinstance(exc, IdentityError) else EXIT_FAILED
        except AttestkitError as exc:
            print(f"attestkit sign: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("attestkit sign: interrupted; nothing was written", file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            # Worker threads may be blocked on a hung request: do not wait for them.
            os._exit(130)
    if args.json:
        print_json(
            [
                {
                    "file": str(r.dist),
                    "written": [str(p) for p in r.written],
                    "kept": [str(p) for p in r.kept],
                    "log_indexes": list(r.log_indexes),
                }
                for r in results
            ]
        )
        return EXIT_OK
    for r in results:
        for path, index in zip(r.written, r.log_indexes, strict=True):
            print(f"OK {r.dist}: wrote {path.name} (log index {index})")
        for path in r.kept:
            print(f"OK {r.dist}: kept {path.name} (already verifies for this identity)")
    return EXIT_OK


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so clean-up runs (no partial files)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on an interactive terminal; nothing in CI logs or pipes."""
    if not progress_wanted(enabled):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("signing"), BarColumn(), MofNCompleteColumn(), transient=True
    ) as progress:
        task = progress.add_task("sign", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
