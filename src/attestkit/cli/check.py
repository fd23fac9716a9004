"""``attestkit check``: would the index take these files? (``twine check``, and more).

Output: ``OK <dist>`` or ``FAIL <dist>: <reason>`` per file on stdout, warnings
on stderr; ``--json``: ``[{"file", "ok", "errors", "warnings"}]``.  Exit codes:
0 every file passes, 1 a file would be refused (or its README not rendered),
2 usage error.  Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import sys

from attestkit.cli._common import print_json, say
from attestkit.cli._options import EXIT_FAILED, EXIT_OK, Subparsers, add_json, add_verbose


def run(args: argparse.Namespace) -> int:
    """Entry point of ``attestkit check``."""
    from attestkit.client.check import check

    results, errors = check(args.dists or ["dist/*"])
    if args.json:
        rows = [
            {"file": str(r.path), "ok": r.ok, "errors": r.errors, "warnings": r.warnings}
            for r in results
        ]
        rows += [{"file": None, "ok": False, "errors": [e], "warnings": []} for e in errors]
        print_json(rows)
    else:
        for error in errors:
            say(f"FAIL {error}")
        for r in results:
            for warning in r.warnings:
                say(f"warning: {r.path}: {warning}", file=sys.stderr)
            say(f"OK {r.path}" if r.ok else f"FAIL {r.path}: {'; '.join(r.errors)}")
    return EXIT_OK if not errors and all(r.ok for r in results) else EXIT_FAILED


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit check``."""
    p = sub.add_parser(
        "check",
        help="check distributions as the index will: metadata, file names, README",
        description="Check wheels and sdists before publishing, as twine check does and"
        " more: the core metadata validates, the file name follows the index's rules"
        " for its name and version (PEP 625 sdist names, wheel names and tags), and the"
        " README renders on PyPI. Nothing is sent.",
        epilog="Exit codes: 0 all pass, 1 a file would be refused, 2 usage error.",
    )
    add_verbose(p)
    p.add_argument(
        "dists", nargs="*", metavar="DIST", help="wheel or sdist files or globs (default: dist/*)"
    )
    add_json(p)
