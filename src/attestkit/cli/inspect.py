"""``attestkit inspect``: print what attestation, provenance and bundle files claim."""

from __future__ import annotations

import argparse
import sys

from attestkit.cli._common import print_json, say
from attestkit.cli._options import EXIT_OK, EXIT_USAGE, Subparsers, add_json, add_verbose
from attestkit.errors import AttestkitError


def run(args: argparse.Namespace) -> int:
    """Inspect each file; a file that cannot be read or parsed is reported and skipped."""
    from attestkit.core.inspect import inspect_file, render_text

    code = EXIT_OK
    reports = []
    for path in args.files:
        try:
            report = inspect_file(path)
        except AttestkitError as exc:
            say(f"FAIL {exc}", file=sys.stderr)
            if args.json:
                reports.append({"file": path, "error": exc.reason})
            code = EXIT_USAGE
            continue
        if args.json:
            reports.append(report)
        else:
            print(render_text(report))
    if args.json:
        print_json(reports)
    return code


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit inspect``."""
    p = sub.add_parser(
        "inspect",
        help="show what attestation, provenance or bundle files claim (unverified)",
        description="Summarise attestation, provenance and Sigstore bundle files: statement,"
        " signer (from the certificate), log entries. Nothing is verified.",
    )
    add_verbose(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    add_json(p)
