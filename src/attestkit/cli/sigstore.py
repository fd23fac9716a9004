"""``attestkit sigstore serve | trust-config | token | keys init | migrate``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attestkit.cli._common import fail_usage
from attestkit.cli._options import EXIT_OK, EXIT_USAGE, Subparsers, add_verbose


def run(args: argparse.Namespace) -> int:
    """Dispatch to the ``sigstore`` actions."""
    from attestkit.sigstore.local.server import default_data_dir, instance_dir

    if args.sigstore_command == "serve":
        return _serve(args, default_data_dir)
    if args.sigstore_command == "keys":
        return _keys_init(args)
    if args.sigstore_command == "migrate":
        return _migrate(args, instance_dir(args.data_dir) if args.data_dir else default_data_dir())
    data_dir = instance_dir(args.data_dir) if args.data_dir else default_data_dir()
    if args.sigstore_command == "trust-config":
        return _trust_config(args, data_dir)
    return _token(args, data_dir)


def _serve(args: argparse.Namespace, default_dir: Callable[[], Path]) -> int:
    from attestkit.errors import AttestkitError
    from attestkit.serving.config import (
        DEFAULT_SIGSTORE_PORT,
        SigstoreConfig,
        load_config,
        parse_issuer,
    )
    from attestkit.sigstore.local.server import LocalSigstore, serve

    try:
        conf = load_config(args.config).sigstore if args.config else SigstoreConfig()
    except AttestkitError as exc:
        print(f"attestkit sigstore serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    issuers = list(conf.issuers)
    for spec in args.issuer:
        kind, sep, url = spec.partition("=")
        try:
            if not sep:
                raise ValueError(
                    f"--issuer {spec!r}: want KIND=URL, e.g. gitlab=https://gitlab.example.com"
                )
            issuers.append(parse_issuer(kind, url))
        except ValueError as exc:
            fail_usage(str(exc))
    dev = bool(args.dev if args.dev is not None else conf.dev)
    auto_approve = bool(
        args.login_auto_approve if args.login_auto_approve is not None else conf.login_auto_approve
    )
    if auto_approve and not dev:
        fail_usage("--login-auto-approve is for --dev (a private instance runs no login)")
    data_dir = Path(args.data_dir or conf.data_dir or default_dir())

    def ready(instance: LocalSigstore) -> None:
        if dev:
            print(
                "attestkit sigstore: DEVELOPMENT INSTANCE: identities are simulated; never"
                " use it for real releases",
                file=sys.stderr,
                flush=True,
            )
        else:
            names = ", ".join(f"{i.kind} {i.iss}" for i in issuers)
            print(f"attestkit sigstore: private instance trusting {names}", file=sys.stderr)
        print(f"attestkit sigstore: serving {instance.node_url} (data in {data_dir})", flush=True)
        if instance.node_url != instance.url:
            print(f"  public URL: {instance.url}", flush=True)
        quoted = shlex.quote(str(data_dir))
        print(
            f"  trust config: attestkit sigstore trust-config --data-dir {quoted} -o trust.json"
            f"   (or GET {instance.url}/trust-config.json)",
            flush=True,
        )

    keys_dir = args.keys_dir or conf.keys_dir
    try:
        serve(
            data_dir,
            args.host or conf.host or "127.0.0.1",
            next(p for p in (args.port, conf.port, DEFAULT_SIGSTORE_PORT) if p is not None),
            development=dev,
            issuers=issuers,
            ca_name=args.ca_name or conf.ca_name,
            login_email=args.login_email or conf.login_email,
            login_auto_approve=auto_approve,
            keys_dir=keys_dir,
            log_database_url=args.log_database_url or conf.log_database_url,
            public_url=args.url or conf.url,
            rekor_v2=bool(args.rekor_v2),
            on_ready=ready,
        )
    except (OSError, AttestkitError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"attestkit sigstore serve: error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _keys_init(args: argparse.Namespace) -> int:
    from attestkit.core.constants import DEV_CA_ORGANIZATIONS, PRIVATE_CA_ORGANIZATION
    from attestkit.sigstore.local.keys import KeyStore

    organization = args.ca_name or PRIVATE_CA_ORGANIZATION
    if organization in DEV_CA_ORGANIZATIONS:
        fail_usage(f"CA name {organization!r} is reserved for development")
    try:
        keys = KeyStore.create(args.directory, organization=organization)
    except OSError as exc:
        fail_usage(str(exc))
    print(
        f"created the keys of a private instance ({keys.organization}) in {args.directory};"
        " give every node --keys-dir (or keys_dir in [sigstore]) and keep a copy safe"
    )
    return EXIT_OK


def _migrate(args: argparse.Namespace, data_dir: Path) -> int:
    """Move a single-node private instance's keys and log to the shared layout."""
    import shutil
    import tempfile

    from attestkit.errors import AttestkitError
    from attestkit.serving.bootstrap import lock_data_dir
    from attestkit.serving.devmode import DEVELOPMENT, recorded_mode
    from attestkit.sigstore.local.log import TransparencyLog
    from attestkit.sigstore.local.server import LOG_ORIGIN

    keys = _keys(data_dir)
    if recorded_mode(data_dir) == DEVELOPMENT:
        fail_usage(f"{data_dir} is a development instance: it runs on one node, never shared")
    target_keys = Path(args.to_keys_dir)
    if target_keys.exists():
        fail_usage(f"{target_keys} already exists: keys are never overwritten")
    try:
        lock = lock_data_dir(data_dir, "attestkit sigstore server")
    except OSError as exc:
        fail_usage(f"{exc}: stop it first")
    try:
        try:
            source = TransparencyLog.open(data_dir / "log.sqlite3", keys, LOG_ORIGIN)
            target = TransparencyLog.open(args.to_log_database_url, keys, LOG_ORIGIN)
        except (AttestkitError, OSError) as exc:
            fail_usage(str(exc))
        except Exception as exc:  # the database driver's own errors: one line
            fail_usage(f"cannot open the target log: {str(exc).strip().splitlines()[0]}")
        try:
            size = target.copy_from(source)
            root = target.root_hash().hex()
        except AttestkitError as exc:
            fail_usage(str(exc))
        finally:
            target.close()
            source.close()
        # The keys last: a rerun after a failed copy finds no keys directory in the way.
        target_keys.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target_keys.name}-", dir=target_keys.parent))
        try:
            shutil.copytree(keys.directory, tmp, dirs_exist_ok=True)
            tmp.rename(target_keys)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    finally:
        lock.close()
    print(
        f"moved the log ({size} entries, root {root}) to {target.path} and the keys to"
        f" {target_keys}; start every node with --keys-dir {target_keys}"
        f" --log-database-url URL --url PUBLIC_URL"
    )
    return EXIT_OK


def _running_url(data_dir: Path, explicit: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    from attestkit.serving.bootstrap import running_url

    url = running_url(data_dir)
    if url is None:
        fail_usage(
            f"no instance is running from {data_dir}; start `attestkit sigstore serve"
            f" --data-dir {data_dir}` or pass --url"
        )
    return url


def _keys(data_dir: Path, *, development: bool = False, keys_dir: Path | None = None) -> Any:
    """The key store of the instance in ``data_dir`` (or ``keys_dir``); ``development``
    requires a development instance (only it simulates identities, so only it mints
    tokens)."""
    from attestkit.serving.devmode import DEVELOPMENT, recorded_mode
    from attestkit.sigstore.local.keys import KeyStore

    if keys_dir is not None and not development:
        try:
            return KeyStore.load(keys_dir)
        except (OSError, ValueError) as exc:
            fail_usage(str(exc))

    if not (data_dir / "keys").is_dir():
        fail_usage(
            f"no instance in {data_dir}; start `attestkit sigstore serve --data-dir {data_dir}`"
        )
    if development and recorded_mode(data_dir) != DEVELOPMENT:
        fail_usage(
            f"{data_dir} is a private (production) instance: it has no development issuer and"
            " mints no tokens; get a token from the issuers it trusts"
        )
    return KeyStore.open(data_dir)


def _trust_config(args: argparse.Namespace, data_dir: Path) -> int:
    from attestkit.core.encoding import atomic_write
    from attestkit.serving.devmode import DEVELOPMENT, recorded_mode
    from attestkit.sigstore.local.trustconfig import client_trust_config

    keys = _keys(data_dir, keys_dir=args.keys_dir)
    development = args.keys_dir is None and recorded_mode(data_dir) == DEVELOPMENT
    config = client_trust_config(keys, _running_url(data_dir, args.url), issuer=development)
    text = json.dumps(config, indent=2) + "\n"
    if args.output:
        atomic_write(args.output, text.encode())
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _token(args: argparse.Namespace, data_dir: Path) -> int:
    from attestkit.core.constants import GITLAB_ISSUER
    from attestkit.sigstore.local import oidc

    keys = _keys(data_dir, development=True)
    if args.self_managed and not args.gitlab:
        fail_usage("--self-managed goes with --gitlab")
    if args.print_env:
        return _print_env(args, data_dir, keys)
    if args.github:
        if not args.workflow or not args.ref:
            fail_usage("--github needs --workflow FILE and --ref REF")
        claims = oidc.github_claims(
            args.github, args.workflow, args.ref, environment=args.environment, sha=args.sha
        )
    elif args.gitlab:
        claims = oidc.gitlab_claims(
            args.gitlab,
            args.workflow or ".gitlab-ci.yml",
            args.ref or "main",
            environment=args.environment,
            sha=args.sha,
            # A self-managed GitLab's issuer is its own URL: here, the instance's.
            issuer=_running_url(data_dir, args.url) if args.self_managed else GITLAB_ISSUER,
        )
    elif args.google:
        claims = oidc.google_claims(args.google)
    elif args.circleci:
        if not args.pipeline_definition_id:
            fail_usage("--circleci needs --pipeline-definition-id")
        claims = oidc.circleci_claims(
            args.circleci, args.pipeline_definition_id, vcs_origin=args.vcs_origin, vcs_ref=args.ref
        )
    else:
        claims = oidc.email_claims(args.email, _running_url(data_dir, args.url))
    issuer = oidc.Issuer(keys, _running_url(data_dir, args.url) if args.email else "http://local")
    lifetime = 600 if args.lifetime is None else args.lifetime
    print(issuer.mint(claims, audience=args.audience, lifetime=lifetime))
    return EXIT_OK


def _print_env(args: argparse.Namespace, data_dir: Path, keys: Any) -> int:
    from attestkit.sigstore.local.oidc import REQUEST_TOKEN_LIFETIME, Issuer

    url = _running_url(data_dir, args.url)
    if args.github:
        if not args.workflow or not args.ref:
            fail_usage("--github needs --workflow FILE and --ref REF")
        try:
            # Bound to this identity and one job, as a real runner's request token is: the
            # endpoint lets the job choose only the audience.
            token = Issuer(keys, url).request_token(
                args.github,
                args.workflow,
                args.ref,
                environment=args.environment,
                sha=args.sha,
                lifetime=REQUEST_TOKEN_LIFETIME if args.lifetime is None else args.lifetime,
            )
        except ValueError as exc:
            fail_usage(str(exc))
        env = {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{url}/oidc/github-actions",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": token,
        }
    else:
        fail_usage(
            "--print-env supports --github (GitLab reads tokens from variables: set"
            " SIGSTORE_ID_TOKEN=$(attestkit sigstore token --gitlab ...) and GITLAB_CI=true)"
        )
    for name, value in env.items():
        print(f"export {name}={shlex.quote(value)}")
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit sigstore``."""
    p = sub.add_parser(
        "sigstore",
        help="run and use the embedded local Sigstore instance (OIDC issuer, CA, log)",
        description="An offline Sigstore instance: OIDC issuer for CI-like identities,"
        " Fulcio-compatible CA and Rekor v1-compatible log, accepted by sigstore-python.",
    )
    add_verbose(p)
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
    add_verbose(q)
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
    q.add_argument(
        "--keys-dir",
        metavar="DIR",
        help="a private instance's keys shared by every node (from `sigstore keys init`)",
    )
    q.add_argument(
        "--log-database-url",
        metavar="URL",
        help="postgresql://... holding the one transparency log every node appends to"
        " (default: SQLite in the data directory)",
    )
    q.add_argument(
        "--url",
        help="the URL clients use (a load balancer's), published in the trust config"
        " (default: this node's own address)",
    )
    q.add_argument(
        "--rekor-v2",
        action="store_true",
        help="also run a Rekor v2 log and an RFC 3161 timestamp authority, and send signers"
        " to them (attestations PyPI does not accept yet)",
    )
    q.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    q.add_argument("--port", type=int, help="TCP port (default 8741; 0: any free port)")
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
    add_verbose(q)
    data_dir(q)
    q.add_argument("--url", help="instance URL (default: the running server's, from DIR)")
    q.add_argument("--keys-dir", metavar="DIR", type=Path, help="a scaled-out instance's keys")
    q.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically)")

    q = ssub.add_parser(
        "keys",
        help="create the keys a private instance's nodes share",
        description="Create a private instance's key set (OIDC, CA root and intermediate,"
        " CT and log keys) in a new directory, to give every node with --keys-dir.",
    )
    add_verbose(q)
    keys_sub = q.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    q = keys_sub.add_parser("init", help="create a new key set in DIRECTORY")
    add_verbose(q)
    q.add_argument("directory", metavar="DIRECTORY", type=Path)
    q.add_argument("--ca-name", metavar="NAME", help="organization named by the CA certificates")

    text = (
        "move a stopped single-node private instance to the shared layout: its keys to a"
        " keys directory, its log (the same tree, entry for entry) to PostgreSQL"
    )
    q = ssub.add_parser("migrate", help=text, description=text)
    add_verbose(q)
    data_dir(q)
    q.add_argument("--to-keys-dir", metavar="DIR", required=True, help="a new keys directory")
    q.add_argument(
        "--to-log-database-url", metavar="URL", required=True, help="postgresql://... (empty log)"
    )
    q.set_defaults(keys_action=None)

    q = ssub.add_parser(
        "token",
        help="mint an OIDC token for a CI-like identity",
        description="Print a JWT signed by the local issuer with the real issuer string and"
        " claims of the chosen CI provider. With --print-env, print the environment a CI"
        " runner would set instead (for ambient detection through `id`).",
    )
    add_verbose(q)
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
