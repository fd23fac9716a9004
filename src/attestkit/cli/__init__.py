"""The ``attestkit`` command line: argument parsing and dispatch.

Each command's module (``attestkit.cli.<name>``) owns its parser
(``register``) and its handler (``run``); this module builds the top-level
parser from them and dispatches.  Command modules import only argparse and
their shared options at import time; the heavy libraries a command needs
(cryptography, packaging, requests, the server stack) are imported inside
``run``, so ``attestkit --help`` starts in a few tens of ms.

Exit codes, for every command: 0 success; 1 a verification (or other
operation) failed; 2 usage or input error (bad flags, unreadable file, invalid
JSON, wrong schema or filename); 3 internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from attestkit._version import __version__

__all__ = [
    "COMMANDS",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "SERVER_COMMANDS",
    "build_parser",
    "main",
    "missing_server_modules",
]

from attestkit.cli._options import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    add_verbose,
)

#: The commands, in the order ``attestkit --help`` lists them; each module
#: ``attestkit.cli.<name>`` owns its parser (``register``) and its handler (``run``).
COMMANDS = (
    "inspect",
    "verify",
    "pin",
    "install",
    "convert",
    "check",
    "sign",
    "upload",
    "publish",
    "monitor",
    "serve",
    "sigstore",
    "index",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for documentation and tests)."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="attestkit",
        description="PyPI package attestations (PEP 740), end to end: sign, upload and publish"
        " with attestations; inspect, convert and verify them; serve an index that takes"
        " them (attestkit[server]).",
        epilog="Exit codes: 0 ok, 1 verification failed, 2 usage/input error, 3 internal error.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"attestkit {__version__}")
    add_verbose(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"attestkit.cli.{name}").register(sub)
    return parser


#: Commands that run the index or the local Sigstore: they need ``attestkit[server]``.
SERVER_COMMANDS = frozenset({"serve", "sigstore", "index"})
#: What ``attestkit[server]`` adds, by import name (psycopg is only for PostgreSQL).
SERVER_MODULES = ("starlette", "uvicorn", "sqlalchemy", "alembic", "python_multipart")


def missing_server_modules() -> list[str]:
    """The server extra's modules that cannot be imported here (without importing them)."""
    import importlib.util

    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def _chosen_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The deepest subcommand parser ``args`` went through (``verify attestation``, ...).

    (argparse has no public way to find it; its subparser actions are walked.)
    """
    while True:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, actions[0].dest, None) if actions else None
        if not actions or chosen not in actions[0].choices:
            return parser
        parser = actions[0].choices[chosen]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        # Reported by the (sub)command that was used, with its usage, not the top level's.
        _chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")
    from attestkit.cli._common import UsageError
    from attestkit.errors import AttestkitError

    if args.command in SERVER_COMMANDS:
        missing = missing_server_modules()
        if missing:
            print(
                f"attestkit {args.command}: error: the server components are not installed"
                f" (no {', '.join(missing)}): pip install 'attestkit[server]'",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        import importlib

        run: Callable[[argparse.Namespace], int]
        run = importlib.import_module(f"attestkit.cli.{args.command}").run
        return run(args)
    except UsageError as exc:
        print(f"attestkit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AttestkitError as exc:
        # A deliberate refusal that a command did not report itself: one line, its code.
        if args.verbose:
            raise
        print(f"attestkit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("attestkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose:
            raise
        print(
            f"attestkit: internal error ({type(exc).__name__}: {exc}); rerun with -v and report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
