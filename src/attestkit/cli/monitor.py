"""``attestkit monitor``: tell a maintainer when their publishing identity signs something
they did not publish, and when a log shows a split view.

Exit codes: 0 nothing found, 1 findings (a split view, or an entry signed by the
identity that no published release carries after the grace period), 2 usage or
input error, 3 a log or index could not be read (the state stays where it was:
run again).  Each finding is printed (JSON lines with ``--json``), appended to
``--report`` and posted to ``--webhook``, once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.cli._common import duration, fail_usage, policy_from_args, say
from attestkit.cli._options import EXIT_FAILED, EXIT_OK, Subparsers, add_identity, add_verbose

if TYPE_CHECKING:
    from attestkit.client.monitor import Finding, Monitor, WatchedIdentity

EXIT_UNREACHABLE = 3
PYPI_SIMPLE = "https://pypi.org/simple/"


def run(args: argparse.Namespace) -> int:
    """Entry point of ``attestkit monitor``."""
    monitor = _monitor(args)
    while True:
        findings = monitor.run_once()
        for finding in findings:
            _emit(args, finding)
        for error in monitor.errors:
            print(f"attestkit monitor: warning: {error}", file=sys.stderr)
        if not args.interval:
            if findings:
                return EXIT_FAILED
            return EXIT_UNREACHABLE if monitor.errors else EXIT_OK
        time.sleep(args.interval)


def _monitor(args: argparse.Namespace) -> Monitor:
    import requests

    from attestkit.client.monitor import (
        Monitor,
        RekorV1Log,
        TileLog,
        published_leaves,
    )
    from attestkit.errors import InputError
    from attestkit.sigstore.trust import TrustRoot

    if not args.log and not args.rekor_v1:
        fail_usage("give at least one log: --log URL (tiles) or --rekor-v1 URL")
    identities = _watched(args)
    try:
        if args.trust_config:
            root = TrustRoot.from_file(args.trust_config)
        else:
            root = TrustRoot.staging() if args.staging else TrustRoot.production()
    except InputError as exc:
        fail_usage(str(exc))
    session = requests.Session()
    logs: list[Any] = [TileLog(url, url, root, session) for url in args.log]
    logs += [RekorV1Log(url, url, root, session) for url in args.rekor_v1]

    def published(indexes: Any, projects: Any) -> set[bytes]:
        return published_leaves(session, indexes, projects)

    return Monitor(
        logs,
        identities,
        Path(args.state),
        indexes=args.index or [PYPI_SIMPLE],
        grace=args.grace,
        report_path=Path(args.report) if args.report else None,
        published=published,
        from_head=args.from_head,
    )


#: The keys of a ``[[identity]]`` table of a ``--watch`` file (the identity flags' names).
_WATCH_KEYS = {
    "repository", "workflow", "environment", "ref", "identity", "issuer",
    "gcp_service_account", "circleci_project_id", "circleci_pipeline_definition_id",
    "circleci_vcs_origin", "circleci_vcs_ref", "projects",
}  # fmt: skip


def _watched(args: argparse.Namespace) -> list[WatchedIdentity]:
    """The identities of ``--watch FILE`` and of the identity flags (at least one)."""
    from attestkit.client.monitor import WatchedIdentity

    tables: list[dict[str, Any]] = []
    if args.watch:
        import tomllib

        try:
            with Path(args.watch).open("rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            fail_usage(f"{args.watch}: {exc}")
        tables = data.get("identity", [])
        if not isinstance(tables, list) or not tables or set(data) - {"identity"}:
            fail_usage(f"{args.watch}: want one or more [[identity]] tables and nothing else")
        for i, table in enumerate(tables):
            unknown = sorted(set(table) - _WATCH_KEYS) if isinstance(table, dict) else ["?"]
            if unknown:
                fail_usage(f"{args.watch}: identity[{i}]: unknown key {unknown[0]!r}")
    flags = {key: getattr(args, key) for key in _WATCH_KEYS - {"projects"}}
    if any(flags.values()):
        tables.append({**flags, "projects": args.project})
    if not tables:
        fail_usage("name the identity to watch (--repository ... or --identity/--issuer)"
                   " or give --watch FILE")  # fmt: skip
    out = []
    for table in tables:
        fields = {key: table.get(key) for key in _WATCH_KEYS - {"projects"}}
        policy = policy_from_args(argparse.Namespace(**fields))
        assert policy is not None
        repository, identity = fields["repository"], fields["identity"]
        needle = (repository.rstrip("/") + "/") if repository else (identity or "")
        projects = table.get("projects") or []
        out.append(WatchedIdentity(policy, needle.encode(), tuple(map(str, projects))))
    return out


def _emit(args: argparse.Namespace, finding: Finding) -> None:
    import json

    if args.json:
        print(json.dumps(finding.to_json()), flush=True)
    else:
        say(f"ALERT {finding.kind}: {finding.message}")
    if args.webhook:
        import requests

        try:
            requests.post(args.webhook, json=finding.to_json(), timeout=30)
        except requests.RequestException as exc:
            print(f"attestkit monitor: warning: webhook {args.webhook}: {exc}", file=sys.stderr)


def _grace(text: str) -> int:
    """A duration, or 0 (report at once)."""
    return 0 if text.strip() == "0" else duration(text)


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit monitor``."""
    p = sub.add_parser(
        "monitor",
        help="watch transparency logs for what your publishing identity signs",
        description="Follow transparency logs (Rekor v2 tiles, the local instance's logs, or a"
        " Rekor v1 API), prove each new checkpoint consistent with the last (alerting on a"
        " split view), and report every entry signed by the watched identity that is not a"
        " file of a release its projects published on the index, once a grace period has"
        " passed. State is kept in one small file; a killed monitor resumes where it stopped.",
        epilog="Exit codes: 0 nothing found, 1 findings, 2 usage or input error, 3 a log or"
        " index could not be read (run again).",
    )
    add_verbose(p)
    p.add_argument("--state", metavar="FILE", required=True, help="the monitor's state file")
    p.add_argument(
        "--log", action="append", default=[], metavar="URL",
        help="a tile-backed log (checkpoint at URL/checkpoint): a Rekor v2 log, or a local"
        " instance's URL (v2) and URL/api/v1/tiles (v1); repeatable",
    )  # fmt: skip
    p.add_argument(
        "--rekor-v1", action="append", default=[], metavar="URL",
        help="a Rekor v1 API (e.g. https://rekor.sigstore.dev); repeatable",
    )  # fmt: skip
    where = p.add_argument_group("log keys (the trusted root that signs the checkpoints)")
    excl = where.add_mutually_exclusive_group()
    excl.add_argument("--staging", action="store_true", help="Sigstore's staging instance")
    excl.add_argument(
        "--trust-config", "--trusted-root", dest="trust_config", metavar="FILE",
        help="a ClientTrustConfig or TrustedRoot file (default: public Sigstore)",
    )  # fmt: skip
    add_identity(p)
    p.add_argument(
        "--watch", metavar="FILE",
        help="a TOML file of [[identity]] tables (the identity flags' names, with"
        " underscores, and projects = [...]) to watch several identities",
    )  # fmt: skip
    p.add_argument(
        "--project", action="append", default=[], metavar="NAME",
        help="a project the identity publishes (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--index", action="append", default=[], metavar="URL",
        help=f"the Simple API the projects publish to (repeatable; default {PYPI_SIMPLE})",
    )  # fmt: skip
    p.add_argument(
        "--grace", type=_grace, default=3600, metavar="DURATION",
        help="how long an entry may stay unpublished before it is reported (default 1h)",
    )  # fmt: skip
    p.add_argument(
        "--from-head", action="store_true",
        help="a Rekor v1 log seen for the first time is followed from its newest checkpoint"
        " instead of its first entry (the public log has hundreds of millions)",
    )  # fmt: skip
    p.add_argument("--report", metavar="FILE", help="append findings to FILE (JSON lines)")
    p.add_argument("--webhook", metavar="URL", help="POST each finding as JSON to URL")
    p.add_argument("--json", action="store_true", help="print findings as JSON lines")
    p.add_argument(
        "--interval", type=duration, default=0, metavar="DURATION",
        help="keep running, one pass every DURATION (default: one pass, for cron)",
    )  # fmt: skip
    p.set_defaults(strict_names=False)


__all__ = ["register", "run"]
