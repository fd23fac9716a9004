"""``attestkit verify lock FILE`` and ``attestkit pin FILE``: check what a lock file installs.

``verify lock`` reads a ``pylock.toml``, ``uv.lock``, a requirements file with
``--hash`` or a pip installation report, verifies every pinned file's
provenance on its index and applies the policy and the pins; one row per file,
exit 0 when nothing failed, 1 when a file failed, 2 on a usage or input error.
``pin`` records the publishers it sees for projects not pinned yet (or for the
projects named with ``--update``) in the pins file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from attestkit.cli._common import fail_usage, print_json
from attestkit.cli._options import (
    EXIT_FAILED,
    EXIT_OK,
    Subparsers,
    add_json,
    add_timeout,
    add_verbose,
)

if TYPE_CHECKING:
    from attestkit.client.lock_check import LockReport
    from attestkit.core.install_policy import Pins
    from attestkit.sigstore.trust import TrustRoot

__all__ = [
    "DEFAULT_PINS",
    "add_check_options",
    "add_index_options",
    "add_lock_options",
    "cache_dir_from_args",
    "print_table",
    "register_pin",
    "run_index",
    "run_lock",
    "run_pin",
    "trust_roots_from_args",
]

#: The pins file used when ``--pins`` is not given (beside the lock, if it exists there).
DEFAULT_PINS = "attestkit.pins.toml"

_MARK = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def add_lock_options(p: argparse.ArgumentParser) -> None:
    """The options ``verify lock`` and ``pin`` share."""
    add_verbose(p)
    p.add_argument(
        "lock", metavar="FILE", help="pylock.toml, uv.lock, requirements.txt or a pip report"
    )
    p.add_argument(
        "--format",
        choices=("pylock", "uv.lock", "requirements", "pip-report"),
        help="the lock format (default: from the file name and content)",
    )
    p.add_argument(
        "--index-url",
        metavar="URL",
        help="the PEP 691 index to read (default: the lock's, else https://pypi.org/simple/)",
    )
    p.add_argument(
        "--pins", metavar="FILE", help=f"the pins file (default: {DEFAULT_PINS} beside the lock)"
    )
    add_check_options(p)


def add_index_options(p: argparse.ArgumentParser) -> None:
    """The options of ``verify index``."""
    add_verbose(p)
    p.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="pypi:FILENAME, a file URL, NAME==VERSION (every file of the release), or a local"
        " file checked against the index",
    )
    p.add_argument(
        "--index-url",
        metavar="URL",
        default="https://pypi.org/simple/",
        help="the PEP 691 index (default https://pypi.org/simple/)",
    )
    p.add_argument(
        "--repository",
        metavar="URL",
        help="the expected publisher: https://github.com/OWNER/REPO or https://gitlab.com/PATH",
    )
    p.add_argument("--workflow", metavar="FILE", help="with --repository: the workflow file")
    p.add_argument("--gcp-service-account", metavar="EMAIL", help="the expected Google publisher")
    p.add_argument("--pins", metavar="FILE", help="a pins file to check against")
    p.add_argument(
        "--output", metavar="DIR", help="keep the verified files here (pip --find-links DIR)"
    )
    add_check_options(p)


def add_check_options(p: argparse.ArgumentParser) -> None:
    """Options every provenance check takes: policy, trust root, cache, concurrency, output."""
    p.add_argument("--policy", metavar="FILE", help="attestkit.toml with a [policy] table")
    trust = p.add_mutually_exclusive_group()
    trust.add_argument("--staging", action="store_true", help="Sigstore's staging instance")
    trust.add_argument(
        "--trust-config",
        metavar="FILE|URL",
        help="a ClientTrustConfig or TrustedRoot file, or the /trust-config.json URL of an"
        " attestkit server (https, or http on loopback)",
    )
    p.add_argument(
        "--cache-dir", metavar="DIR", help="provenance cache (default ~/.cache/attestkit)"
    )
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--workers", type=int, default=16, help="concurrent requests (default 16)")
    add_timeout(p)
    add_json(p)


def register_pin(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit pin``."""
    p = sub.add_parser(
        "pin",
        help="record the publishers of a lock's projects (trust on first use)",
        description="Verify the lock like `verify lock`, then record, for every project whose"
        " provenance verified and that is not pinned yet, the publishers seen, in the pins"
        " file. Later `verify lock` runs fail when a pinned project's publisher changes or its"
        " provenance disappears. --update PROJECT accepts such a change.",
    )
    add_lock_options(p)
    p.add_argument(
        "--update",
        metavar="PROJECT",
        action="append",
        default=[],
        help="re-pin this project to what the index shows now (repeatable)",
    )


def trust_roots_from_args(args: argparse.Namespace) -> list[TrustRoot]:
    from attestkit.sigstore.trust import TrustRoot

    if args.trust_config:
        value = str(args.trust_config)
        if value.startswith(("https://", "http://")):
            return [_fetch_trust_root(value, args.timeout)]
        return [TrustRoot.from_file(value)]
    return [TrustRoot.staging() if args.staging else TrustRoot.production()]


def _fetch_trust_root(url: str, timeout: float) -> TrustRoot:
    import requests

    from attestkit.client.simple_api import secure_url
    from attestkit.errors import InputError
    from attestkit.sigstore.trust import TrustRoot

    if not secure_url(url):
        raise InputError(f"--trust-config {url}: only https:// (or http:// on loopback) is fetched")
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise InputError(f"--trust-config {url}: cannot fetch it ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise InputError(f"--trust-config {url}: answered {response.status_code}")
    return TrustRoot.from_json(response.content, source=url)


def cache_dir_from_args(args: argparse.Namespace) -> Path | None:
    """The provenance cache ``--cache-dir``/``--no-cache`` choose; also checks ``--workers``."""
    from attestkit.client.lock_check import default_cache_dir

    if args.workers < 1:
        fail_usage("--workers must be at least 1")
    if args.no_cache:
        return None
    return Path(args.cache_dir) if args.cache_dir else default_cache_dir()


def _check(args: argparse.Namespace, pins_for_judging: bool = True) -> tuple[LockReport, Pins]:
    from attestkit.client.lock_check import verify_lock
    from attestkit.core.install_policy import Pins, Policy
    from attestkit.core.locks import load_lock

    lock = load_lock(args.lock, fmt=args.format)
    policy = Policy.load(args.policy) if args.policy else Policy()
    pins_path = Path(args.pins) if args.pins else Path(args.lock).resolve().parent / DEFAULT_PINS
    pins = Pins.load(pins_path)
    cache = cache_dir_from_args(args)
    progress = _Progress(len(lock.files)) if not args.json and sys.stderr.isatty() else None
    report = verify_lock(
        lock,
        trust_roots=trust_roots_from_args(args),
        policy=policy,
        pins=pins if pins_for_judging else None,
        index_url=args.index_url,
        cache_dir=cache,
        workers=args.workers,
        timeout=args.timeout,
        on_file=progress.step if progress else None,
    )
    if progress:
        progress.done()
    return report, pins


class _Progress:
    """A one-line counter on a terminal's standard error."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0

    def step(self, _result: object) -> None:
        self.count += 1
        print(f"\rverifying {self.count}/{self.total}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        print("\r" + " " * 30 + "\r", end="", file=sys.stderr, flush=True)


def print_table(report: LockReport) -> None:
    rows = [
        (_MARK[r.judgement.level], r.evidence.filename, r.judgement.message) for r in report.results
    ]
    rows += [("SKIP", u.project, f"{u.reason} ({u.where})") for u in report.lock.unverifiable]
    width = min(max((len(name) for _, name, _ in rows), default=0), 60)
    for mark, name, message in rows:
        print(f"{mark:<4}  {name:<{width}}  {message}")
    for warning in report.lock.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    counts = {level: 0 for level in _MARK}
    for r in report.results:
        counts[r.judgement.level] += 1
    print(
        f"{len(report.results)} files: {counts['ok']} verified, {counts['warn']} without"
        f" provenance (allowed), {counts['fail']} failed, {counts['skip']} not checked;"
        f" {len(report.lock.unverifiable)} entries name no index file",
        file=sys.stderr,
    )


def run_lock(args: argparse.Namespace) -> int:
    """``attestkit verify lock``."""
    report, _ = _check(args)
    if args.json:
        print_json(report.to_json())
    else:
        print_table(report)
    return EXIT_FAILED if report.failed else EXIT_OK


def run_pin(args: argparse.Namespace) -> int:
    """``attestkit pin``: record first-seen publishers (and accepted changes)."""
    from packaging.utils import canonicalize_name

    from attestkit.core.install_policy import describe_identity

    report, pins_obj = _check(args, pins_for_judging=False)
    update = {canonicalize_name(name) for name in args.update}
    seen: dict[str, tuple[list[dict[str, object]], str | None]] = {}
    for r in report.results:
        if r.evidence.status != "verified":
            continue
        publishers, version = seen.setdefault(r.locked.project, ([], r.evidence.version))
        publishers.extend(p for p in r.evidence.publishers if p not in publishers)
    changed = []
    for project, (publishers, version) in sorted(seen.items()):
        if project in pins_obj.projects and project not in update:
            continue
        pins_obj.record(project, publishers, version)
        changed.append(f"{project}: {' and '.join(describe_identity(p) for p in publishers)}")
    broken = [r for r in report.results if r.evidence.status in ("failed", "error")]
    for r in broken:
        print(f"FAIL  {r.evidence.filename}  {r.judgement.message}", file=sys.stderr)
    if broken:
        print("nothing pinned: fix the files that failed first", file=sys.stderr)
        return EXIT_FAILED
    pins_obj.save()
    for line in changed:
        print(f"pinned {line}")
    print(f"{len(changed)} projects pinned in {pins_obj.path}", file=sys.stderr)
    return EXIT_OK


def _expected(args: argparse.Namespace) -> list[dict[str, object]]:
    from urllib.parse import urlsplit

    expected: list[dict[str, object]] = []
    if args.repository:
        parts = urlsplit(args.repository)
        path = parts.path.strip("/")
        kinds = {
            "github.com": ("GitHub", "workflow"),
            "gitlab.com": ("GitLab", "workflow_filepath"),
        }
        if parts.scheme != "https" or parts.hostname not in kinds or "/" not in path:
            fail_usage(
                "--repository must be https://github.com/OWNER/REPO or https://gitlab.com/PATH"
                " (other forges: a [policy] file)"
            )
        kind, workflow_key = kinds[str(parts.hostname)]
        identity: dict[str, object] = {"kind": kind, "repository": path}
        if args.workflow:
            identity[workflow_key] = args.workflow
        expected.append(identity)
    elif args.workflow:
        fail_usage("--workflow needs --repository")
    if args.gcp_service_account:
        expected.append({"kind": "Google", "email": args.gcp_service_account})
    return expected


def run_index(args: argparse.Namespace) -> int:
    """``attestkit verify index SPEC...``: files on an index, verified like a lock."""
    import requests

    from attestkit.client.index_check import parse_spec, resolve_specs
    from attestkit.client.lock_check import verify_lock
    from attestkit.core.install_policy import Pins, Policy, ProjectRule

    specs = [parse_spec(text) for text in args.specs]
    cache = cache_dir_from_args(args)
    # Asking about a file means wanting its provenance: missing provenance fails by default.
    policy = Policy.load(args.policy) if args.policy else Policy(default="require")
    expected = _expected(args)
    if expected:
        rules = dict(policy.projects)
        for spec in specs:
            current = rules.get(spec.project, ProjectRule())
            rules[spec.project] = ProjectRule(
                current.mode, (*current.publishers, *expected), current.reason
            )
        policy = Policy(policy.default, rules, policy.source)
    session = requests.Session()
    session.headers["User-Agent"] = "attestkit"
    output = Path(args.output) if args.output else None
    lock = resolve_specs(
        specs, args.index_url, session=session, output=output, timeout=args.timeout
    )
    report = verify_lock(
        lock,
        trust_roots=trust_roots_from_args(args),
        policy=policy,
        pins=Pins.load(args.pins) if args.pins else None,
        cache_dir=cache,
        workers=args.workers,
        timeout=args.timeout,
        session=session,
    )
    if args.json:
        print_json(report.to_json())
    else:
        print_table(report)
    return EXIT_FAILED if report.failed else EXIT_OK
