"""The flags of ``attestkit index publisher add`` turned into a publisher kind and configuration."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attestkit.cli._common import fail_usage

if TYPE_CHECKING:
    from attestkit.index.db import TrustedPublisher


def _only(args: argparse.Namespace, kind: str, allowed: set[str]) -> None:
    """Refuse options that do not apply to ``kind``."""
    options = {
        "workflow": "--workflow",
        "environment": "--environment",
        "repository_owner_id": "--repository-owner-id",
        "issuer_url": "--issuer",
        "sub": "--sub",
        "pipeline_definition_id": "--pipeline-definition-id",
        "vcs_origin": "--vcs-origin",
        "vcs_ref": "--vcs-ref",
        "organization_id": "--organization-id",
        "actor_id": "--actor-id",
        "actor": "--actor",
    }
    for name, flag in options.items():
        if name not in allowed and getattr(args, name) is not None:
            fail_usage(f"{flag} does not apply to {kind} publishers")


def _two_parts(value: str, flag: str, shape: str) -> tuple[str, str]:
    first, sep, second = value.partition("/")
    if not (sep and first and second) or "/" in second:
        fail_usage(f"{flag} must be {shape}, got {value!r}")
    return first, second


def _issuer(url: str | None) -> str | None:
    """A custom issuer URL, checked (https, http only on loopback); None if not given."""
    from attestkit.core.issuers import check_issuer_url

    if not url:
        return None
    try:
        return check_issuer_url(url)
    except ValueError as exc:
        fail_usage(f"--issuer: {exc}")


def _publisher_config(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The publisher kind and configuration the flags describe."""
    if args.github is not None:
        _only(args, "GitHub", {"workflow", "environment", "repository_owner_id", "issuer_url"})
        _two_parts(args.github, "--github", "OWNER/REPO")
        workflow = (args.workflow or "").removeprefix(".github/workflows/")
        if not workflow:
            fail_usage("a GitHub publisher needs --workflow FILE (e.g. release.yml)")
        if "/" in workflow or not workflow.endswith((".yml", ".yaml")):
            fail_usage(
                f"--workflow must be a workflow file name ending in .yml or .yaml,"
                f" got {args.workflow!r}"
            )
        return "GitHub", {
            "repository": args.github,
            "workflow": workflow,
            "environment": args.environment,
            "repository_owner_id": args.repository_owner_id,
            "issuer_url": _issuer(args.issuer_url),
        }
    if args.gitlab is not None:
        _only(args, "GitLab", {"workflow", "environment", "issuer_url"})
        path = args.gitlab.strip("/")
        if "/" not in path:
            fail_usage(f"--gitlab must be GROUP/PROJECT (subgroups allowed), got {args.gitlab!r}")
        if not args.workflow:
            fail_usage("a GitLab publisher needs --workflow PATH (e.g. .gitlab-ci.yml)")
        return "GitLab", {
            "repository": path,
            "workflow_filepath": args.workflow,
            "environment": args.environment,
            "issuer_url": _issuer(args.issuer_url),
        }
    if args.google is not None:
        _only(args, "Google", {"sub"})
        if "@" not in args.google:
            fail_usage(f"--google must be a service account email, got {args.google!r}")
        return "Google", {"email": args.google, "sub": args.sub}
    if args.circleci is not None:
        _only(
            args, "CircleCI", {"pipeline_definition_id", "vcs_origin", "vcs_ref", "organization_id"}
        )
        if not args.pipeline_definition_id:
            fail_usage("a CircleCI publisher needs --pipeline-definition-id ID")
        return "CircleCI", {
            "project_id": args.circleci,
            "pipeline_definition_id": args.pipeline_definition_id,
            "vcs_origin": args.vcs_origin,
            "vcs_ref": args.vcs_ref,
            "organization_id": args.organization_id,
        }
    _only(args, "ActiveState", {"actor_id", "actor"})
    organization, project = _two_parts(args.activestate, "--activestate", "ORG/PROJECT")
    if not args.actor_id:
        fail_usage("an ActiveState publisher needs --actor-id ID")
    return "ActiveState", {
        "organization": organization,
        "project": project,
        "actor_id": args.actor_id,
        "actor": args.actor,
    }


def _describe(publisher: TrustedPublisher) -> str:
    config = publisher.config
    describe: dict[str, Callable[[], str]] = {
        "GitHub": lambda: f"{config['repository']} workflow {config['workflow']}",
        "GitLab": lambda: f"{config['repository']} CI file {config['workflow_filepath']}",
        "Google": lambda: str(config["email"]),
        "CircleCI": lambda: (
            f"project {config['project_id']} pipeline {config['pipeline_definition_id']}"
        ),
        "ActiveState": lambda: (
            f"{config['organization']}/{config['project']} actor {config['actor_id']}"
        ),
    }
    text = describe[publisher.kind]() if publisher.kind in describe else str(config)
    extras = [
        f"{k} {config[k]}"
        for k in ("environment", "repository_owner_id", "issuer_url", "sub", "vcs_origin")
        if config.get(k)
    ]
    return ", ".join([text, *extras])
