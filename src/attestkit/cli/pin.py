"""``attestkit pin LOCK``: record the publishers of a lock's projects (trust on first use)."""

from __future__ import annotations

import argparse

from attestkit.cli._options import Subparsers

__all__ = ["register", "run"]


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit pin``."""
    from attestkit.cli.verify_lock import register_pin

    register_pin(sub)


def run(args: argparse.Namespace) -> int:
    """Verify the lock, then pin what verified."""
    from attestkit.cli.verify_lock import run_pin

    return run_pin(args)
