"""``attestkit upload``: upload distributions and their attestations (twine-compatible).

Output: ``OK <dist>: uploaded (...)``, ``OK <dist>: skipped, already exists (...)``
or ``FAIL <dist>: <status> <reason>: <server message>`` per file on stdout
(``--json``: a list of ``{file, status, http_status, message}``).  Retries are
announced on stderr.  Exit codes: 0 everything uploaded or skipped; 1 an
upload was refused or failed; 2 input, configuration or usage error (nothing
was uploaded).  The password or token is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from attestkit.cli._common import print_json, print_json_error, progress_wanted, say
from attestkit.cli._options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_json,
    add_retries,
    add_timeout,
    add_verbose,
)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``attestkit upload``."""
    from attestkit.client.upload import (
        UploadConfigError,
        UploadInputError,
        env_flag,
        plan,
        resolve_credentials,
        upload,
    )
    from attestkit.errors import AttestkitError

    try:
        planned = plan(args.dists, attestations=args.attestations)
    except UploadInputError as exc:
        for error in exc.errors:
            say(f"FAIL {error}", file=sys.stderr)
        print("attestkit upload: nothing was uploaded", file=sys.stderr)
        if args.json:
            print_json_error(exc.errors)
        return EXIT_USAGE
    if args.attestations:
        _warn_legacy_names([job.path for job in planned])
    interactive = (
        not args.non_interactive
        and not env_flag("NON_INTERACTIVE")
        and sys.stdin.isatty()
        and not os.environ.get("CI")
    )
    try:
        creds = resolve_credentials(
            repository_url=args.repository_url,
            repository=args.repository,
            username=args.username,
            password=args.password,
            config_file=args.config_file,
            interactive=interactive,
        )
    except AttestkitError as exc:
        print(f"attestkit upload: error: {exc}", file=sys.stderr)
        print("attestkit upload: nothing was uploaded", file=sys.stderr)
        if args.json:
            print_json_error([str(exc)])
        return EXIT_USAGE

    def on_retry(dist: Path, attempt: int, delay: float, reason: str) -> None:
        print(
            f"attestkit upload: {dist.name}: {reason}; retry {attempt} of {args.retries}"
            f" in {delay:g} s",
            file=sys.stderr,
        )

    try:
        with _progress(enabled=not args.json) as on_progress:
            results = upload(
                args.dists,
                repository_url=creds.repository_url,
                username=creds.username,
                password=creds.password,
                attestations=args.attestations,
                skip_existing=args.skip_existing,
                retries=args.retries,
                timeout=args.timeout,
                on_progress=on_progress,
                on_retry=on_retry,
                planned=planned,
                on_warning=lambda text: say(f"warning: {text}", file=sys.stderr),
            )
    except (UploadConfigError, UploadInputError) as exc:
        print(f"attestkit upload: error: {exc}", file=sys.stderr)
        if args.json:
            print_json_error([str(exc)])
        return EXIT_USAGE
    failed = any(r.status == "failed" for r in results)
    if args.json:
        print_json(
            [
                {
                    "file": str(r.dist),
                    "status": r.status,
                    "http_status": r.http_status,
                    "message": r.message,
                }
                for r in results
            ]
        )
        return EXIT_FAILED if failed else EXIT_OK
    for r in results:
        if r.status == "uploaded":
            extra = f" with {r.attestations} attestation(s)" if r.attestations else ""
            say(f"OK {r.dist}: uploaded{extra} to {creds.repository_url}")
        elif r.status == "skipped":
            say(f"OK {r.dist}: skipped, already exists ({r.message})")
        else:
            say(f"FAIL {r.dist}: {r.message}")
    return EXIT_FAILED if failed else EXIT_OK


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[Path, int, int], None] | None]:
    """A rich byte-progress bar on an interactive terminal; nothing in CI logs or pipes."""
    if not progress_wanted(enabled):
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(compact=True, elapsed_when_finished=True),
        TransferSpeedColumn(),
        transient=True,
    ) as progress:
        tasks: dict[Path, object] = {}

        def update(dist: Path, sent: int, total: int) -> None:
            task = tasks.get(dist)
            if task is None:
                task = tasks[dist] = progress.add_task(dist.name, total=total)
            progress.update(task, completed=sent, total=total)  # type: ignore[arg-type]

        yield update


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit upload``."""
    p = sub.add_parser(
        "upload",
        help="upload distributions (and their attestations) to a package index",
        description="Upload wheels/sdists with the legacy upload API, like twine upload."
        " Attestations (<dist>.<kind>.attestation) are found next to each file and sent with"
        " --attestations. Every input is checked before the first upload. Credentials:"
        " flags, then $ATTESTKIT_USERNAME/$ATTESTKIT_PASSWORD (or TWINE_*), then .pypirc, then"
        " keyring, then a prompt; the username defaults to __token__.",
        epilog="Exit codes: 0 uploaded or skipped, 1 an upload was refused or failed,"
        " 2 input or usage error (nothing uploaded).",
    )
    add_verbose(p)
    p.add_argument("dists", nargs="+", metavar="DIST", help="wheel or sdist files (or globs)")
    p.add_argument(
        "--attestations",
        action="store_true",
        help="send <dist>.*.attestation files; fail before uploading if a file has none",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--repository-url",
        metavar="URL",
        help="upload URL (default $ATTESTKIT_REPOSITORY_URL / $TWINE_REPOSITORY_URL)",
    )
    where.add_argument("-r", "--repository", metavar="NAME", help=".pypirc section (default: pypi)")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="report files the index already has as skipped (409, or 400 'already exists')",
    )
    p.add_argument("-u", "--username", metavar="NAME", help="default: __token__")
    p.add_argument("-p", "--password", metavar="TOKEN", help="API token or password")
    p.add_argument("--config-file", metavar="FILE", help="default: ~/.pypirc")
    p.add_argument("--non-interactive", action="store_true", help="never prompt")
    add_retries(p)
    add_timeout(p)
    add_json(p)


def _warn_legacy_names(dists: list[Path]) -> None:
    """Once per run: attestations named ``<dist>.attestation`` upload here, not with twine."""
    from attestkit.sigstore.verify.attestation import find_attestations

    legacy = [
        d
        for d in dists
        if (found := find_attestations(d)) and all(p.name == f"{d.name}.attestation" for p in found)
    ]
    if legacy:
        print(
            f"warning: {len(legacy)} attestation file(s) are named <dist>.attestation (e.g."
            f" {legacy[0].name}.attestation): attestkit uploads them, but twine only finds"
            f" <dist>.<kind>.attestation; rename to {legacy[0].name}.publish.attestation",
            file=sys.stderr,
        )
