"""Options several commands share, each written once: verbosity, JSON, timeouts, trust, identity.

Also the exit codes every command uses.
"""

from __future__ import annotations

import argparse

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "Subparsers",
    "add_identity",
    "add_json",
    "add_retries",
    "add_signing_instance",
    "add_timeout",
    "add_trust",
    "add_verbose",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

Subparsers = argparse._SubParsersAction  # the type argparse gives add_subparsers()


def add_verbose(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v``: accepted before and after any subcommand (pypi-attestations rejects the
    latter: D20 in docs/defects.md)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="on an error, show the full traceback instead of the one-line report",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json``: machine-readable output."""
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def add_timeout(parser: argparse.ArgumentParser) -> None:
    """``--timeout``: seconds per network request."""
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per request (default 30)"
    )


def add_retries(parser: argparse.ArgumentParser) -> None:
    """``--retries``: retries of an upload answered with a 5xx."""
    parser.add_argument("--retries", type=int, default=5, help="retries on 5xx (default 5)")


def add_signing_instance(parser: argparse.ArgumentParser, *, local_help: str) -> None:
    """The signing instance: public (default), ``--staging``, ``--trust-config`` or ``--local``."""
    where = parser.add_argument_group("Sigstore instance").add_mutually_exclusive_group()
    where.add_argument("--staging", action="store_true", help="Sigstore's staging instance")
    where.add_argument("--trust-config", metavar="FILE", help="a ClientTrustConfig file")
    where.add_argument("--local", metavar="URL", help=local_help)
    parser.add_argument(
        "--rekor-version",
        type=int,
        choices=(1, 2),
        help="the Rekor log API to use from the signing config (default: v1 when offered,"
        " which PyPI accepts; v2 entries are timed by the config's timestamp authority)",
    )


def _positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_trust(parser: argparse.ArgumentParser) -> None:
    """Which trust root verifies: public (default), ``--staging`` or ``--trust-config``."""
    group = parser.add_argument_group("Sigstore instance (trust root)")
    excl = group.add_mutually_exclusive_group()
    excl.add_argument("--staging", action="store_true", help="use Sigstore's staging instance")
    excl.add_argument(
        "--trust-config",
        "--trusted-root",
        dest="trust_config",
        metavar="FILE",
        help="a ClientTrustConfig or TrustedRoot JSON file (e.g. from a local instance)",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        help="accepted for compatibility: attestkit always verifies offline",
    )
    group.add_argument(
        "--time-threshold",
        type=_positive,
        default=1,
        metavar="N",
        help="verified signing times required: RFC 3161 timestamps and a Rekor v1 entry's"
        " integrated time (default 1, as sigstore's client spec)",
    )
    group.add_argument(
        "--backend",
        choices=("attestkit", "sigstore"),
        default="attestkit",
        help="Sigstore verification engine: attestkit's (default) or sigstore-python's",
    )


def add_identity(parser: argparse.ArgumentParser) -> None:
    """The expected signer: a Trusted Publisher by its flags, or a raw identity and issuer."""
    group = parser.add_argument_group(
        "expected signer (a Trusted Publisher, or a raw identity and issuer)"
    )
    group.add_argument(
        "--repository",
        metavar="URL",
        help="https://github.com/OWNER/REPO or https://gitlab.com/GROUP/PROJECT",
    )
    group.add_argument(
        "--workflow",
        metavar="FILE",
        help="workflow file name (GitHub, e.g. release.yml) or CI config path (GitLab)",
    )
    group.add_argument("--environment", metavar="NAME", help="deployment environment to require")
    group.add_argument("--ref", metavar="REF", help="source ref to require, e.g. refs/tags/v1.0")
    group.add_argument("--gcp-service-account", metavar="EMAIL", help="Google service account")
    group.add_argument("--circleci-project-id", metavar="UUID")
    group.add_argument("--circleci-pipeline-definition-id", metavar="UUID")
    group.add_argument("--circleci-vcs-origin", metavar="ORIGIN", help="e.g. github.com/org/repo")
    group.add_argument("--circleci-vcs-ref", metavar="REF")
    group.add_argument(
        "--identity",
        "--certificate-identity",
        dest="identity",
        metavar="SAN",
        help="raw certificate identity (needs --issuer)",
    )
    group.add_argument(
        "--issuer",
        "--certificate-oidc-issuer",
        dest="issuer",
        metavar="URL",
        help="OIDC issuer for --identity; with --repository, the issuer of a GitHub Enterprise"
        " Server (https://HOST/_services/token) or self-managed GitLab (its URL)",
    )
