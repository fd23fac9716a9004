"""``attestkit install [OPTIONS] -- PIP_ARGS...``: pip install only files that verified."""

from __future__ import annotations

import argparse
import sys

from attestkit.cli._options import EXIT_FAILED, Subparsers, add_verbose

__all__ = ["register", "run"]


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit install``."""
    p = sub.add_parser(
        "install",
        help="pip install, verifying every file's provenance first (nothing installed on failure)",
        description="Resolve PIP_ARGS with pip (--dry-run --report), verify every file pip chose"
        " like `verify lock` (policy, pins), then install exactly those files with pip, pinned"
        " by the SHA-256 just verified (--require-hashes --no-deps). attestkit's options come"
        " first, then `--` and pip's arguments, e.g."
        " `attestkit install --policy attestkit.toml -- -i https://pypi.org/simple/ attrs`.",
        epilog="Exit codes: 0 installed, 1 a file failed (nothing installed) or pip failed,"
        " 2 usage or input error.",
    )
    from attestkit.cli.verify_lock import add_check_options

    add_verbose(p)
    p.add_argument("--pins", metavar="FILE", help="a pins file to check against")
    add_check_options(p)
    p.add_argument("pip_args", nargs=argparse.REMAINDER, metavar="PIP_ARGS")


def _index_url(pip_args: list[str]) -> str:
    for i, arg in enumerate(pip_args):
        if arg in ("-i", "--index-url") and i + 1 < len(pip_args):
            return pip_args[i + 1]
        if arg.startswith("--index-url="):
            return arg.split("=", 1)[1]
    return "https://pypi.org/simple/"


def run(args: argparse.Namespace) -> int:
    """Resolve, verify, then install."""
    import tempfile
    from pathlib import Path

    from attestkit.cli._common import fail_usage, print_json
    from attestkit.cli.verify_lock import cache_dir_from_args, print_table, trust_roots_from_args
    from attestkit.client.install import pip_install, resolve_with_pip
    from attestkit.client.lock_check import verify_lock
    from attestkit.core.install_policy import Pins, Policy

    pip_args = [a for a in args.pip_args if a != "--"]
    if not pip_args:
        fail_usage("give pip's arguments, e.g. `attestkit install attrs==25.1.0`")
    cache = cache_dir_from_args(args)
    with tempfile.TemporaryDirectory(prefix="attestkit-resolve-") as tmp:
        lock = resolve_with_pip(pip_args, Path(tmp))
    report = verify_lock(
        lock,
        trust_roots=trust_roots_from_args(args),
        policy=Policy.load(args.policy) if args.policy else Policy(),
        pins=Pins.load(args.pins) if args.pins else None,
        index_url=_index_url(pip_args),
        cache_dir=cache,
        workers=args.workers,
        timeout=args.timeout,
    )
    if args.json:
        print_json(report.to_json())
    else:
        print_table(report)
    if report.failed:
        print("attestkit install: nothing installed: a file failed verification", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if pip_install(lock, pip_args) != 0 else 0
