"""Helpers shared by the CLI commands: trust roots, expected identities, reporting."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO
from urllib.parse import urlsplit

from attestkit.errors import AttestkitError

if TYPE_CHECKING:
    from attestkit.core.policy import Policy
    from attestkit.sigstore.verify.attestation import Verifier

__all__ = [
    "UsageError",
    "colour_wanted",
    "duration",
    "fail_usage",
    "iso_when",
    "policy_from_args",
    "print_json",
    "print_json_error",
    "print_table",
    "progress_wanted",
    "say",
    "verifier_from_args",
]


class UsageError(AttestkitError):
    """A command-line usage error (exit code 2)."""


def fail_usage(message: str) -> NoReturn:
    """Abort with a usage error."""
    raise UsageError(message)


def verifier_from_args(args: argparse.Namespace) -> Verifier:
    """Build a :class:`Verifier` from ``--staging`` / ``--trust-config`` / ``--backend``."""
    from attestkit.sigstore.trust import TrustRoot
    from attestkit.sigstore.verify.attestation import Verifier

    if args.trust_config:
        root = TrustRoot.from_file(args.trust_config)
    elif args.staging:
        root = TrustRoot.staging()
    else:
        root = TrustRoot.production()
    return Verifier(
        root,
        backend=args.backend,
        strict_names=args.strict_names,
        time_threshold=getattr(args, "time_threshold", 1),
    )


def policy_from_args(args: argparse.Namespace, *, required: bool = True) -> Policy | None:
    """Turn the expected-signer flags into exactly one policy (or a usage error)."""
    from attestkit.core import providers as p

    chosen: list[Policy] = []
    if args.repository:
        chosen.append(_repository_policy(args))
    elif args.workflow or args.environment or args.ref:
        fail_usage("--workflow, --environment and --ref need --repository")
    if args.gcp_service_account:
        chosen.append(p.GoogleIdentity(args.gcp_service_account))
    circle = (args.circleci_project_id, args.circleci_pipeline_definition_id)
    if any(circle) or args.circleci_vcs_origin or args.circleci_vcs_ref:
        if not all(circle):
            fail_usage(
                "CircleCI needs both --circleci-project-id and --circleci-pipeline-definition-id"
            )
        chosen.append(
            p.CircleCIIdentity(
                args.circleci_project_id,
                args.circleci_pipeline_definition_id,
                args.circleci_vcs_origin,
                args.circleci_vcs_ref,
            )
        )
    if args.identity or (args.issuer and not args.repository):
        if not (args.identity and args.issuer):
            fail_usage("--identity and --issuer must be given together")
        from attestkit.core.policy import Identity

        chosen.append(Identity(args.identity, args.issuer))
    if len(chosen) > 1:
        fail_usage(
            "give exactly one expected signer (repository, service account, CircleCI or identity)"
        )
    if not chosen:
        if required:
            fail_usage(
                "say who must have signed: --repository URL [--workflow FILE],"
                " --gcp-service-account EMAIL, --circleci-project-id +"
                " --circleci-pipeline-definition-id, or --identity SAN --issuer URL"
            )
        return None
    return chosen[0]


def _repository_policy(args: argparse.Namespace) -> Policy:
    """GitHub or GitLab from ``--repository``; with ``--issuer``, a self-hosted forge (GitHub
    Enterprise Server: issuer ``https://HOST/_services/token``; self-managed GitLab: issuer
    = the instance URL), whose repository URL must be on that forge."""
    from attestkit.core import providers as p
    from attestkit.core.constants import GITHUB_ISSUER, GITHUB_URL, GITLAB_URL
    from attestkit.core.issuers import check_issuer_url, forge_url

    url = args.repository
    if url.rstrip("/") != url:
        fail_usage(f"--repository must not end with '/': {url!r}")
    strict = args.environment is not None
    if args.issuer:
        try:
            issuer = check_issuer_url(args.issuer)
        except ValueError as exc:
            fail_usage(f"--issuer: {exc}")
        github = issuer == GITHUB_ISSUER or issuer.endswith("/_services/token")
        forge = forge_url("github" if github else "gitlab", issuer)
        if not url.startswith(forge + "/"):
            fail_usage(f"--repository {url!r} is not on the forge of issuer {issuer!r} ({forge})")
        path = url[len(forge) + 1 :]
        cls = p.GitHubIdentity if github else p.GitLabIdentity
        if github and path.count("/") != 1:
            fail_usage(f"GitHub repository must be OWNER/REPO, got {path!r}")
        return cls(
            path,
            args.workflow,
            args.environment,
            args.ref,
            strict_environment=strict,
            url=forge,
            issuer=issuer,
        )
    parts = urlsplit(url)
    path = parts.path.strip("/")
    if parts.scheme != "https" or not parts.netloc or not path or parts.query or parts.fragment:
        fail_usage(
            f"--repository must be an https URL such as {GITHUB_URL}/OWNER/REPO, got {url!r}"
        )
    base = f"https://{parts.netloc}"
    if base == GITHUB_URL:
        if path.count("/") != 1:
            fail_usage(f"GitHub repository must be OWNER/REPO, got {path!r}")
        return p.GitHubIdentity(
            path, args.workflow, args.environment, args.ref, strict_environment=strict
        )
    if base == GITLAB_URL:
        return p.GitLabIdentity(
            path, args.workflow, args.environment, args.ref, strict_environment=strict
        )
    fail_usage(
        f"unsupported repository host {parts.netloc!r} (github.com or gitlab.com; for GitHub"
        " Enterprise Server or a self-managed GitLab add --issuer URL)"
    )


def progress_wanted(enabled: bool = True) -> bool:
    """Draw progress bars only on an interactive terminal, never in CI logs or pipes."""
    import os

    return enabled and sys.stderr.isatty() and not os.environ.get("CI")


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """Write ``value`` as indented JSON and a newline (to stdout by default)."""
    (stream or sys.stdout).write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


_COLOURS = {"OK": "32", "FAIL": "31", "warning:": "33", "note:": "36"}


def colour_wanted(stream: TextIO) -> bool:
    """Colour for a terminal, as twine and uv do: never with ``NO_COLOR`` or ``TERM=dumb``
    (https://no-color.org), always with ``FORCE_COLOR``."""
    import os

    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def say(line: str, file: TextIO | None = None) -> None:
    """Print a result line; its leading ``OK``/``FAIL``/``warning:`` is coloured on a terminal."""
    stream = file if file is not None else sys.stdout
    word, sep, rest = line.partition(" ")
    code = _COLOURS.get(word)
    if code is not None and colour_wanted(stream):
        line = f"\033[1;{code}m{word}\033[0m{sep}{rest}"
    print(line, file=stream)


def print_json_error(errors: Sequence[str], kind: str = "input") -> None:
    """With ``--json``: the failure as one JSON object on stdout (scripts read nothing else).

    ``{"ok": false, "error": FIRST, "error_kind": KIND, "errors": [ALL]}``; ``kind`` is
    ``input`` (exit 2: nothing was done) or ``service`` (exit 1: a service refused or
    was unreachable), as ``verify --json`` reports its ``error_kind``.
    """
    lines = [e for e in errors if e] or ["failed"]
    print_json({"ok": False, "error": lines[0], "error_kind": kind, "errors": lines})


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """An argparse type: seconds from ``3600``, ``90s``, ``15m``, ``12h`` or ``30d`` (> 0)."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:], 0)
    number = value[:-1] if unit else value
    if not number.isascii() or not number.isdigit() or int(number) <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive duration (seconds, or a number with s, m, h or d)"
        )
    return int(number) * (unit or 1)


def iso_when(value: dt.datetime | None) -> str | None:
    """A stored time as ISO 8601 UTC with ``Z`` (seconds), or None."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive UTC datetimes
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` as aligned columns (``-`` for empty values)."""
    if not rows:
        print("(none)")
        return
    cells = [[("-" if row[c] in (None, "") else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
