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

from attestkit.cli._common import print_json, print_json_error, progress_wanted, say
from attestkit.cli._options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_json,
    add_signing_instance,
    add_timeout,
    add_verbose,
)
from attestkit.errors import AttestkitError


def run(args: argparse.Namespace) -> int:
    """Entry point of ``attestkit sign``."""
    from attestkit.client.identity import IdentityError, LoginUnreachableError
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
            if args.rekor_version:
                chosen = services

                def services() -> SigningServices:
                    return chosen().with_rekor_version(args.rekor_version)

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
                say(f"FAIL {error}", file=sys.stderr)
            print("attestkit sign: nothing was signed or written", file=sys.stderr)
            if args.json:
                print_json_error([str(e) for e in exc.errors])
            return EXIT_USAGE
        except (IdentityError, SigningError) as exc:
            print(f"attestkit sign: error: {exc}", file=sys.stderr)
            print("attestkit sign: nothing was written", file=sys.stderr)
            usage = isinstance(exc, IdentityError) and not isinstance(exc, LoginUnreachableError)
            if args.json:
                print_json_error([str(exc)], "input" if usage else "service")
            return EXIT_USAGE if usage else EXIT_FAILED
        except AttestkitError as exc:
            print(f"attestkit sign: error: {exc}", file=sys.stderr)
            if args.json:
                print_json_error([str(exc)])
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
            say(f"OK {r.dist}: wrote {path.name} (log index {index})")
        for path in r.kept:
            say(f"OK {r.dist}: kept {path.name} (already verifies for this identity)")
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


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit sign``."""
    p = sub.add_parser(
        "sign",
        help="sign distributions into PEP 740 attestations (<dist>.publish.attestation)",
        description="Sign each wheel/sdist with Sigstore into <dist>.publish.attestation"
        " (and <dist>.slsa.attestation with --slsa-provenance). Every file is checked before"
        " any network call; if anything fails, nothing is written. Identity: --identity-token"
        " or $SIGSTORE_ID_TOKEN, else ambient CI credentials (GitHub Actions, GitLab CI,"
        " Google Cloud, Buildkite, CircleCI), else an interactive login on a terminal.",
    )
    add_verbose(p)
    p.add_argument("dists", nargs="+", metavar="DIST", help="wheel or sdist files")
    p.add_argument("--identity-token", metavar="TOKEN", help="OIDC token (audience sigstore)")
    inter = p.add_mutually_exclusive_group()
    inter.add_argument(
        "--interactive",
        action="store_true",
        default=None,
        help="log in with a browser (or a pasted code) if no other identity is found",
    )
    inter.add_argument(
        "--no-interactive", dest="interactive", action="store_false", help="never log in"
    )
    add_signing_instance(
        p, local_help="a running `attestkit sigstore serve` (its trust config is fetched)"
    )
    p.add_argument(
        "--slsa-provenance",
        metavar="FILE",
        help="also write <dist>.slsa.attestation with this SLSA v1 predicate",
    )
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing attestations")
    existing.add_argument(
        "--skip-verified",
        action="store_true",
        help="keep an existing attestation that verifies for this file and identity",
    )
    p.add_argument("--workers", type=int, default=8, help="concurrent log submissions (default 8)")
    add_timeout(p)
    add_json(p)
