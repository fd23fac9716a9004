"""The ``attestkit`` command line: argument parsing and dispatch.

Only :mod:`argparse` is imported at start-up; each command's module (and the
heavy libraries it needs: cryptography, packaging, sigstore) is imported when
that command runs, so ``attestkit --help`` starts in a few tens of ms.

Exit codes, for every command: 0 success; 1 a verification (or other
operation) failed; 2 usage or input error (bad flags, unreadable file, invalid
JSON, wrong schema or filename); 3 internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from attestkit._version import __version__

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _add_verbose(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # Accepted before and after any subcommand (pypi-attestations rejects the latter:
    # D20 in docs/defects.md).
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="on an error, show the full traceback instead of the one-line report",
    )


def _trust_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Sigstore instance (trust root)")
    excl = group.add_mutually_exclusive_group()
    excl.add_argument("--staging", action="store_true", help="use Sigstore's staging instance")
    excl.add_argument(
        "--trust-config",
        metavar="FILE",
        help="a ClientTrustConfig or TrustedRoot JSON file (e.g. from a local instance)",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        help="accepted for compatibility: attestkit always verifies offline",
    )
    group.add_argument(
        "--backend",
        choices=("attestkit", "sigstore"),
        default="attestkit",
        help="Sigstore verification engine: attestkit's (default) or sigstore-python's",
    )


def _identity_args(parser: argparse.ArgumentParser) -> None:
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
        "--identity", metavar="SAN", help="raw certificate identity (needs --issuer)"
    )
    group.add_argument(
        "--issuer",
        metavar="URL",
        help="OIDC issuer for --identity; with --repository, the issuer of a GitHub Enterprise"
        " Server (https://HOST/_services/token) or self-managed GitLab (its URL)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="attestkit",
        description="PyPI package attestations (PEP 740), end to end: sign, upload and publish"
        " with attestations; inspect, convert and verify them; serve an index that takes"
        " them (attestkit[server]).",
        epilog="Exit codes: 0 ok, 1 verification failed, 2 usage/input error, 3 internal error.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"attestkit {__version__}")
    _add_verbose(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "inspect",
        help="show what attestation, provenance or bundle files claim (unverified)",
        description="Summarise attestation, provenance and Sigstore bundle files: statement,"
        " signer (from the certificate), log entries. Nothing is verified.",
    )
    _add_verbose(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("verify", help="verify attestations or provenance for distributions")
    _add_verbose(p)
    vsub = p.add_subparsers(dest="verify_command", metavar="KIND", required=True)
    va = vsub.add_parser(
        "attestation",
        help="verify <dist>.*.attestation files against an expected signer",
        description="Verify the attestations of each distribution file: the Sigstore"
        " signature, transparency log, subject name and digest, predicate type, and the"
        " signer against the expected Trusted Publisher or identity. Attestations are"
        " found next to each file as <dist>.<kind>.attestation, or given with --attestation.",
    )
    _add_verbose(va)
    va.add_argument("dists", nargs="+", metavar="DIST", help="wheel or sdist files")
    va.add_argument(
        "--attestation",
        action="append",
        metavar="FILE",
        help="attestation file to use instead of discovery (repeatable; needs one DIST)",
    )
    va.add_argument("--strict-names", action="store_true", help="subject must equal the filename")
    va.add_argument("--json", action="store_true", help="machine-readable output")
    _identity_args(va)
    _trust_args(va)

    vp = vsub.add_parser(
        "provenance",
        help="verify a provenance file (Integrity API object) for distributions",
        description="Verify every attestation in a provenance object against its publisher,"
        " and against the expected signer given by flags. The provenance is read from"
        " --provenance or <dist>.provenance.",
    )
    _add_verbose(vp)
    vp.add_argument("dists", nargs="+", metavar="DIST")
    vp.add_argument("--provenance", metavar="FILE", help="provenance JSON (needs one DIST)")
    vp.add_argument("--strict-names", action="store_true", help="subject must equal the filename")
    vp.add_argument("--json", action="store_true", help="machine-readable output")
    _identity_args(vp)
    _trust_args(vp)

    p = sub.add_parser(
        "convert",
        help="convert a Sigstore bundle to an attestation, or back",
        description="Convert a Sigstore bundle (e.g. from actions/attest) to a PEP 740"
        " attestation named <dist>.<kind>.attestation beside it, or with --to-bundle an"
        " attestation to a v0.3 Sigstore bundle (<dist>.sigstore.json).",
    )
    _add_verbose(p)
    p.add_argument("input", metavar="FILE")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: derived)")
    p.add_argument("--to-bundle", action="store_true", help="attestation -> Sigstore bundle")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="keep RFC 3161 timestamps in verification_material.timestamps (proposed field)",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="allow non-in-toto payloads and predicate types PyPI does not accept",
    )
    _sign_parser(sub)
    _upload_parser(sub)
    _publish_parser(sub)
    _serve_parser(sub)
    _sigstore_parser(sub)
    _index_parser(sub)
    return parser


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a package index over HTTP (production, or --dev with the embedded Sigstore)",
        description="Serve the package index: upload (POST /legacy/, with PEP 740"
        " attestations), Simple, Integrity and JSON APIs, Trusted Publishing and provenance"
        " pages. Production (the default) trusts only the real CI issuers, the custom issuers"
        " registered per publisher, public Sigstore and --trust-root files. --dev adds the"
        " embedded Sigstore, whose issuer simulates GitHub, GitLab and Google identities so"
        " everything works offline: loopback only, for development and tests.",
    )
    _add_verbose(p)
    p.add_argument(
        "--config",
        metavar="FILE",
        help="attestkit.toml with a [serve] table (flags given here win over it)",
    )
    p.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="development mode: embedded Sigstore with simulated CI identities (loopback only)",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="state (index/, sigstore/); default $ATTESTKIT_DATA_DIR or ~/.local/share/attestkit",
    )
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://USER:PW@HOST/DB (default: SQLite in DIR/index)",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default: any free port)")
    p.add_argument(
        "--trust-root",
        metavar="FILE",
        action="append",
        default=[],
        help="also verify attestations against this Sigstore trust root (ClientTrustConfig or"
        " TrustedRoot JSON, e.g. a private `attestkit sigstore serve`); repeatable",
    )
    p.add_argument(
        "--no-public-sigstore",
        action="store_false",
        dest="public_sigstore",
        default=None,
        help="do not trust public Sigstore (air-gapped: only --trust-root files)",
    )
    p.add_argument("--audience", help="Trusted Publishing audience (default attestkit)")
    p.add_argument("--base-url", help="external URL for absolute links (default: per request)")
    p.add_argument("--login-email", metavar="EMAIL", help="identity of the embedded login (--dev)")
    p.add_argument(
        "--login-auto-approve",
        action="store_true",
        default=None,
        help="--dev: approve interactive logins without the one-time code (tests, scripts)",
    )
    p.add_argument("--workers", type=int, help="server processes sharing the port (default 1)")


def _sign_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sign",
        help="sign distributions into PEP 740 attestations (<dist>.publish.attestation)",
        description="Sign each wheel/sdist with Sigstore into <dist>.publish.attestation"
        " (and <dist>.slsa.attestation with --slsa-provenance). Every file is checked before"
        " any network call; if anything fails, nothing is written. Identity: --identity-token"
        " or $SIGSTORE_ID_TOKEN, else ambient CI credentials (GitHub Actions, GitLab CI,"
        " Google Cloud, Buildkite, CircleCI), else an interactive login on a terminal.",
    )
    _add_verbose(p)
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
    where = p.add_argument_group("Sigstore instance").add_mutually_exclusive_group()
    where.add_argument("--staging", action="store_true", help="Sigstore's staging instance")
    where.add_argument("--trust-config", metavar="FILE", help="a ClientTrustConfig file")
    where.add_argument(
        "--local",
        metavar="URL",
        help="a running `attestkit sigstore serve` (its trust config is fetched)",
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
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _upload_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    _add_verbose(p)
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
    p.add_argument("--retries", type=int, default=5, help="retries on 5xx (default 5)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _publish_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    _add_verbose(p)
    p.add_argument("dists", nargs="+", metavar="DIST", help="wheel or sdist files (or globs)")
    p.add_argument(
        "--repository-url",
        metavar="URL",
        help="upload URL (default: https://upload.pypi.org/legacy/)",
    )
    where = p.add_argument_group("Sigstore instance").add_mutually_exclusive_group()
    where.add_argument(
        "--local", metavar="URL", help="a running attestkit instance (its trust config)"
    )
    where.add_argument("--staging", action="store_true", help="Sigstore's staging instance")
    where.add_argument("--trust-config", metavar="FILE", help="a ClientTrustConfig file")
    p.add_argument(
        "--skip-existing", action="store_true", help="report files the index has as skipped"
    )
    p.add_argument("--retries", type=int, default=5, help="retries on 5xx (default 5)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _sigstore_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sigstore",
        help="run and use the embedded local Sigstore instance (OIDC issuer, CA, log)",
        description="An offline Sigstore instance: OIDC issuer for CI-like identities,"
        " Fulcio-compatible CA and Rekor v1-compatible log, accepted by sigstore-python.",
    )
    _add_verbose(p)
    ssub = p.add_subparsers(dest="sigstore_command", metavar="ACTION", required=True)

    def data_dir(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--data-dir",
            metavar="DIR",
            help="instance state (keys, log); default $ATTESTKIT_SIGSTORE_DIR or"
            " ~/.local/share/attestkit/sigstore",
        )

    q = ssub.add_parser(
        "serve",
        help="serve the instance over HTTP (private, or --dev with simulated identities)",
        description="A private Sigstore (the default) trusts only the OIDC issuers it is"
        " configured with (--issuer KIND=URL or [[sigstore.issuers]] in --config), e.g. a"
        " self-managed GitLab: an air-gapped company's own CA and log. --dev runs the"
        " embedded OIDC issuer instead, which simulates GitHub, GitLab, Google, CircleCI and"
        " Buildkite identities for development and tests (loopback only).",
    )
    _add_verbose(q)
    data_dir(q)
    q.add_argument(
        "--config",
        metavar="FILE",
        help="attestkit.toml with a [sigstore] table (flags given here win over it)",
    )
    q.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="development mode: the embedded issuer simulates CI identities (loopback only)",
    )
    q.add_argument(
        "--issuer",
        metavar="KIND=URL",
        action="append",
        default=[],
        help="trust this OIDC issuer (KIND: github, gitlab, google, circleci, buildkite,"
        " email; URL https://, or http:// on loopback); repeatable",
    )
    q.add_argument(
        "--ca-name",
        metavar="NAME",
        help="organization named by a new private instance's CA certificates",
    )
    q.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    q.add_argument("--port", type=int, help="TCP port (default: any free port)")
    q.add_argument(
        "--login-email",
        metavar="EMAIL",
        help="identity of the interactive browser login (--dev; default: <user>@localhost)",
    )
    q.add_argument(
        "--login-auto-approve",
        action="store_true",
        default=None,
        help="--dev: approve interactive logins without the one-time code the server prints"
        " (tests, scripts)",
    )

    q = ssub.add_parser(
        "trust-config",
        help="write the ClientTrustConfig JSON for the running instance",
        description="Print (or write with -o) the ClientTrustConfig that sigstore-python's"
        " --trust-config and attestkit's --trust-config accept.",
    )
    _add_verbose(q)
    data_dir(q)
    q.add_argument("--url", help="instance URL (default: the running server's, from DIR)")
    q.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically)")

    q = ssub.add_parser(
        "token",
        help="mint an OIDC token for a CI-like identity",
        description="Print a JWT signed by the local issuer with the real issuer string and"
        " claims of the chosen CI provider. With --print-env, print the environment a CI"
        " runner would set instead (for ambient detection through `id`).",
    )
    _add_verbose(q)
    data_dir(q)
    who = q.add_mutually_exclusive_group(required=True)
    who.add_argument("--github", metavar="OWNER/REPO", help="GitHub Actions repository")
    who.add_argument("--gitlab", metavar="GROUP/PROJECT", help="GitLab CI project path")
    who.add_argument("--google", metavar="EMAIL", help="Google service account email")
    who.add_argument("--circleci", metavar="PROJECT_ID", help="CircleCI project id")
    who.add_argument("--email", metavar="EMAIL", help="a local user (issuer: the instance URL)")
    q.add_argument("--workflow", help="GitHub workflow file, or GitLab CI config path")
    q.add_argument("--ref", help="git ref, e.g. refs/tags/v1 (GitHub) or main (GitLab)")
    q.add_argument("--sha", help="commit sha")
    q.add_argument("--environment", help="deployment environment")
    q.add_argument(
        "--self-managed",
        action="store_true",
        help="with --gitlab: a self-managed GitLab whose issuer is this instance's URL (its"
        " tokens verify through the instance's OpenID discovery, like a real GitLab's)",
    )
    q.add_argument("--pipeline-definition-id", help="CircleCI pipeline definition id")
    q.add_argument("--vcs-origin", help="CircleCI VCS origin, e.g. github.com/org/repo")
    q.add_argument("--audience", default="sigstore", help="token audience (default: sigstore)")
    q.add_argument(
        "--lifetime",
        type=int,
        help="seconds the token is valid (default: 600; with --print-env 21600)",
    )
    q.add_argument("--url", help="instance URL (for --email and --print-env)")
    q.add_argument(
        "--print-env",
        action="store_true",
        help="print shell exports that make `id` find this identity ambiently (--github: a"
        " request token bound to this identity and one job, valid --lifetime seconds,"
        " default 6 hours)",
    )


def _index_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "index",
        help="administer a package index: users, projects, API tokens, Trusted Publishers",
        description="Manage the users, projects, upload tokens and Trusted Publishers of an"
        " attestkit index (the database `attestkit serve` uses). Works while the server runs.",
    )
    _add_verbose(p)

    def where(q: argparse.ArgumentParser, *, top: bool = False) -> None:
        # Accepted before and after the action (like -v).
        default = None if top else argparse.SUPPRESS
        q.add_argument(
            "--data-dir",
            metavar="DIR",
            default=default,
            help="the data directory `attestkit serve` uses (default $ATTESTKIT_DATA_DIR or"
            " ~/.local/share/attestkit); the index is in its index/ subdirectory",
        )
        q.add_argument(
            "--database-url",
            metavar="URL",
            default=default,
            help="postgresql://USER:PW@HOST/DB (default: SQLite in the data directory)",
        )

    where(p, top=True)
    objects = p.add_subparsers(dest="index_object", metavar="OBJECT", required=True)

    def action(
        parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
    ) -> argparse.ArgumentParser:
        q = parent.add_parser(name, help=text, description=text)
        _add_verbose(q)
        where(q)
        return q

    def listing(parent: argparse._SubParsersAction[argparse.ArgumentParser], text: str) -> None:
        q = action(parent, "list", text)
        q.add_argument("--json", action="store_true", help="machine-readable output")

    group = objects.add_parser("user", help="accounts (they own projects and tokens)")
    users = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(users, "add", "create a user")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--email", metavar="E")
    listing(users, "list users")

    group = objects.add_parser("project", help="projects and their owners")
    projects = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(projects, "add", "create a project owned by a user")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--owner", metavar="USER", required=True)
    listing(projects, "list projects")

    group = objects.add_parser("token", help="API tokens for uploads (pypi-...)")
    tokens = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(tokens, "add", "create an upload token for a user and print it (shown once)")
    q.add_argument("--user", metavar="USER", required=True)
    q.add_argument("--project", metavar="P", help="only for this project")
    q.add_argument("--expires-in", metavar="SECONDS", type=int, help="lifetime (default: none)")
    q.add_argument("--description", metavar="D")
    listing(tokens, "list tokens (user tokens and ones minted by Trusted Publishing)")
    q = action(tokens, "revoke", "delete a token")
    q.add_argument("id", metavar="ID", help="token id (or a unique prefix of it)")

    group = objects.add_parser("publisher", help="Trusted Publishers")
    publishers = group.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    q = action(
        publishers,
        "add",
        "register a Trusted Publisher for a project, or a pending one that creates its project"
        " on first use",
    )
    target = q.add_mutually_exclusive_group(required=True)
    target.add_argument("--project", metavar="P", help="an existing project")
    target.add_argument("--pending", metavar="NAME", help="a project to create on first publish")
    q.add_argument("--owner", metavar="USER", help="who owns the pending project (and added it)")
    kind = q.add_mutually_exclusive_group(required=True)
    kind.add_argument("--github", metavar="OWNER/REPO", help="GitHub Actions repository")
    kind.add_argument("--gitlab", metavar="GROUP/PROJECT", help="GitLab CI project path")
    kind.add_argument("--google", metavar="EMAIL", help="Google service account email")
    kind.add_argument("--circleci", metavar="PROJECT_ID", help="CircleCI project id")
    kind.add_argument("--activestate", metavar="ORG/PROJECT", help="ActiveState project")
    q.add_argument("--workflow", metavar="FILE", help="GitHub workflow file or GitLab CI path")
    q.add_argument("--environment", metavar="E", help="required deployment environment")
    q.add_argument("--repository-owner-id", metavar="ID", help="GitHub owner account id")
    q.add_argument(
        "--issuer",
        "--issuer-url",
        dest="issuer_url",
        metavar="URL",
        help="custom OIDC issuer: a self-managed GitLab's URL, or a GitHub Enterprise Server's"
        " https://HOST/_services/token (https; http only on loopback)",
    )
    q.add_argument("--sub", metavar="SUB", help="Google subject (optional)")
    q.add_argument("--pipeline-definition-id", metavar="ID", help="CircleCI pipeline definition")
    q.add_argument("--vcs-origin", metavar="ORIGIN", help="CircleCI VCS origin (optional)")
    q.add_argument("--vcs-ref", metavar="REF", help="CircleCI VCS ref (optional)")
    q.add_argument("--organization-id", metavar="ID", help="CircleCI organization (optional)")
    q.add_argument("--actor-id", metavar="ID", help="ActiveState actor id")
    q.add_argument("--actor", metavar="NAME", help="ActiveState actor name (optional)")
    listing(publishers, "list Trusted Publishers")
    q = action(publishers, "remove", "delete a Trusted Publisher")
    q.add_argument("id", metavar="ID", type=int)


#: Commands that run the index or the local Sigstore: they need ``attestkit[server]``.
SERVER_COMMANDS = frozenset({"serve", "sigstore", "index"})
#: What ``attestkit[server]`` adds, by import name (psycopg is only for PostgreSQL).
SERVER_MODULES = ("starlette", "uvicorn", "sqlalchemy", "alembic", "python_multipart")


def missing_server_modules() -> list[str]:
    """The server extra's modules that cannot be imported here (without importing them)."""
    import importlib.util

    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
        if args.command == "inspect":
            from attestkit.cli.inspect import run
        elif args.command == "verify":
            from attestkit.cli.verify import run
        elif args.command == "convert":
            from attestkit.cli.convert import run
        elif args.command == "serve":
            from attestkit.cli.serve import run
        elif args.command == "sign":
            from attestkit.cli.sign import run
        elif args.command == "upload":
            from attestkit.cli.upload import run
        elif args.command == "publish":
            from attestkit.cli.publish import run
        elif args.command == "sigstore":
            from attestkit.cli.sigstore import run
        elif args.command == "index":
            from attestkit.cli.index import run
        else:  # pragma: no cover - argparse enforces the choices
            parser.error(f"unknown command {args.command}")
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
