"""``attestkit publish``: Trusted Publishing exchange, signing and attested upload from CI.

Output: progress and warnings on stderr; per file on stdout
``OK <dist>: uploaded; provenance <url>``, ``OK <dist>: skipped, already exists (...)``
or ``FAIL <dist>: <message>``; with ``--dry-run``, ``OK <dist>: ready (dry run: not
uploaded)`` after everything but the upload (``--json``: ``{"origin", "audience", "mints",
"warnings", "files": [{file, status, http_status, message, provenance}]}``).
Exit codes: 0 everything uploaded or skipped; 1 the index refused the exchange or
an upload, or signing failed; 2 input error or no OIDC credentials (nothing was
uploaded).  No token (OIDC or minted) is ever printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from attestkit.cli._common import print_json, say
from attestkit.cli._options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_json,
    add_retries,
    add_signing_instance,
    add_timeout,
    add_verbose,
)

if TYPE_CHECKING:
    from attestkit.client.publish import PublishReport


def run(args: argparse.Namespace) -> int:
    """Entry point of ``attestkit publish`` (a collapsible section of a GitLab CI log)."""
    from attestkit.cli._ci_output import section

    with section("attestkit_publish", "attestkit publish: check, exchange, sign, upload"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from attestkit.cli._ci_output import github_error
    from attestkit.client.publish import PublishError, PublishInputError, publish
    from attestkit.client.sign import SigningServices
    from attestkit.client.upload import PYPI_UPLOAD_URL
    from attestkit.errors import AttestkitError

    def chosen() -> SigningServices:
        if args.local:
            return SigningServices.from_local(args.local, timeout=args.timeout)
        if args.staging:
            return SigningServices.staging()
        if args.trust_config:
            return SigningServices.from_file(args.trust_config)
        return SigningServices.production()

    def services() -> SigningServices:
        picked = chosen()
        return picked.with_rekor_version(args.rekor_version) if args.rekor_version else picked

    def event(message: str) -> None:
        print(f"attestkit publish: {message}", file=sys.stderr)

    dists = args.dists or ["dist/*"]
    try:
        repository_url = args.repository_url or PYPI_UPLOAD_URL
        if args.repository:
            from attestkit.client.credentials import UploadConfigError, named_repository_url

            try:
                repository_url = named_repository_url(args.repository, config_file=args.config_file)
            except UploadConfigError as exc:
                print(f"attestkit publish: error: {exc}", file=sys.stderr)
                return EXIT_USAGE
        report = publish(
            dists,
            repository_url=repository_url,
            dry_run=args.dry_run,
            services=services,
            skip_existing=args.skip_existing,
            timeout=args.timeout,
            retries=args.retries,
            on_event=event,
        )
    except PublishInputError as exc:
        for line in exc.lines:
            say(f"FAIL {line}", file=sys.stderr)
            file, sep, reason = line.partition(": ")
            if not args.json:
                github_error(file if sep else None, reason if sep else line)
        print("attestkit publish: nothing was uploaded", file=sys.stderr)
        return exc.exit_code
    except PublishError as exc:
        first, *rest = exc.lines or [str(exc)]
        print(f"attestkit publish: error: {first}", file=sys.stderr)
        if not args.json:
            github_error(None, "\n".join([first, *rest]))
        for line in rest:
            print(line, file=sys.stderr)
        print("attestkit publish: nothing was uploaded", file=sys.stderr)
        return exc.exit_code
    except AttestkitError as exc:
        print(f"attestkit publish: error: {exc}", file=sys.stderr)
        if not args.json:
            github_error(None, str(exc))
        print("attestkit publish: nothing was uploaded", file=sys.stderr)
        return EXIT_FAILED
    code = EXIT_OK if report.ok else EXIT_FAILED
    if args.json:
        print_json(
            {
                "origin": report.origin,
                "audience": report.audience,
                "mints": report.mints,
                "warnings": report.warnings,
                "files": [
                    {
                        "file": str(r.dist),
                        "status": r.status,
                        "http_status": r.http_status,
                        "message": r.message,
                        "provenance": r.provenance_url,
                    }
                    for r in report.results
                ],
            }
        )
        _ci_report(report, args.dry_run, annotate=False)  # stdout holds only the JSON
        return code
    for r in report.results:
        if r.status == "uploaded":
            say(f"OK {r.dist}: uploaded; provenance {r.provenance_url}")
        elif r.status == "skipped":
            say(f"OK {r.dist}: skipped, already exists ({r.message})")
        elif r.status == "checked":
            say(f"OK {r.dist}: ready ({r.message})")
        else:
            say(f"FAIL {r.dist}: {r.message}")
    _ci_report(report, args.dry_run, annotate=True)
    return code


def _ci_report(report: PublishReport, dry_run: bool, *, annotate: bool) -> None:
    """After the plain lines: annotations for failures and the job summary (GitHub)."""
    from attestkit.cli._ci_output import github_error, github_summary

    for r in report.results:
        if annotate and r.status == "failed":
            github_error(str(r.dist), r.message)
    github_summary(
        f"attestkit publish to {report.origin}" + (" (dry run)" if dry_run else ""),
        ("file", "result", "provenance"),
        [
            (
                r.dist.name,
                r.status if r.status != "failed" else f"failed: {r.message}",
                f"[provenance]({r.provenance_url})" if r.provenance_url else "",
            )
            for r in report.results
        ],
    )


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit publish``."""
    p = sub.add_parser(
        "publish",
        help="publish from CI: Trusted Publishing exchange, signing and attested upload",
        description="Check the inputs, read the index's Trusted Publishing audience, get an"
        " OIDC token for it from the CI platform (GitHub Actions, GitLab CI, Google Cloud,"
        " Buildkite, CircleCI), exchange it for an upload token, sign every file with the"
        " ambient Sigstore identity (keeping attestations that already verify), and upload"
        " the files with their attestations, refreshing the upload token before it expires.",
        epilog="Exit codes: 0 uploaded or skipped, 1 exchange, signing or an upload failed,"
        " 2 input error or no OIDC credentials (nothing uploaded).",
    )
    add_verbose(p)
    p.add_argument(
        "dists",
        nargs="*",
        metavar="DIST",
        help="wheel or sdist files or globs (default: dist/*, as gh-action-pypi-publish and uv)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--repository-url",
        metavar="URL",
        help="upload URL (default: https://upload.pypi.org/legacy/)",
    )
    where.add_argument(
        "-r",
        "--repository",
        metavar="NAME",
        help="pypi, testpypi, or a section of .pypirc (its 'repository' URL)",
    )
    p.add_argument("--config-file", metavar="FILE", help=".pypirc to read (default ~/.pypirc)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="everything but the upload: checks, audience, token exchange, signing a copy",
    )
    add_signing_instance(p, local_help="a running attestkit instance (its trust config)")
    p.add_argument(
        "--skip-existing", action="store_true", help="report files the index has as skipped"
    )
    add_retries(p)
    add_timeout(p)
    add_json(p)
