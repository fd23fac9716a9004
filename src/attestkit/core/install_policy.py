"""Install-time provenance policy: what each project's files must prove, and what was seen before.

Three sources say who may publish a project, checked in this order:

1. the **policy file** (``--policy attestkit.toml``, ``[policy]``): a mode per
   project and expected publishers;
2. the **lock file's** own expectations (``pylock.toml``'s
   ``[[packages.attestation-identities]]``);
3. the **pins** (trust on first use, ``attestkit pin``): the publisher seen when
   the project was first pinned.

Modes: ``require`` (every file must carry provenance that verifies),
``tofu`` (the default: provenance that is present must verify, and once a
project is pinned its publisher may not change and its provenance may not
disappear), ``warn`` (missing provenance is only reported) and ``off`` (not
checked).  Provenance that is present but does not verify fails in every mode
but ``off``: a broken signature is never a warning.

An expected identity matches a publisher when ``kind`` is equal and every
other key the expectation gives (not null) equals the publisher's: the rule
PEP 751 leaves to tools.  ``environment`` is the index's statement, not part
of the signing certificate; it is compared like the other keys.

No I/O here except reading and atomically writing the two TOML files.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from attestkit.errors import InputError

__all__ = [
    "MODES",
    "Evidence",
    "Judgement",
    "Pin",
    "Pins",
    "Policy",
    "describe_identity",
    "identity_matches",
    "judge",
]

Mode = Literal["require", "tofu", "warn", "off"]
MODES: tuple[Mode, ...] = ("require", "tofu", "warn", "off")
Status = Literal["verified", "failed", "absent", "error"]
Level = Literal["ok", "warn", "fail", "skip"]


def identity_matches(expected: Mapping[str, Any], publisher: Mapping[str, Any]) -> bool:
    """Whether ``publisher`` (a PEP 740 publisher object) satisfies ``expected``."""
    if expected.get("kind") != publisher.get("kind"):
        return False
    return all(
        publisher.get(key) == value
        for key, value in expected.items()
        if key != "kind" and value is not None
    )


def describe_identity(identity: Mapping[str, Any]) -> str:
    """``GitHub psf/requests workflow publish.yml`` and the like."""
    parts = [str(identity.get("kind"))]
    for key, value in identity.items():
        if key not in ("kind", "claims") and value not in (None, ""):
            parts.append(str(value) if key in ("repository", "email") else f"{key} {value}")
    return " ".join(parts)


def _identities(value: object, where: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where} must be a non-empty array of tables")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
            raise InputError(f"{where}[{i}] must be a table with a string 'kind'")
        out.append(dict(item))
    return tuple(out)


@dataclass(frozen=True)
class ProjectRule:
    """What the policy says of one project."""

    mode: Mode | None = None
    publishers: tuple[dict[str, Any], ...] = ()
    reason: str | None = None
    #: The only index the project's files are read from (its Simple API root).
    index: str | None = None


@dataclass(frozen=True)
class Policy:
    """A parsed policy file (``[policy]`` of ``attestkit.toml``)."""

    default: Mode = "tofu"
    projects: Mapping[str, ProjectRule] = field(default_factory=dict)
    source: str = "(default policy)"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Policy:
        """Read ``path``; every problem is an :class:`InputError` naming the file."""
        import tomllib

        from attestkit.core.encoding import read_bytes

        source = str(path)
        try:
            doc = tomllib.loads(read_bytes(path).decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{source}: not valid TOML: {exc}") from None
        try:
            return cls.from_dict(doc.get("policy", {}), source=source)
        except InputError as exc:
            raise InputError(f"{source}: {exc.reason}") from None

    @classmethod
    def from_dict(cls, table: object, *, source: str = "policy") -> Policy:
        """From the ``[policy]`` table."""
        from packaging.utils import canonicalize_name

        if not isinstance(table, dict):
            raise InputError("[policy] must be a table")
        unknown = sorted(set(table) - {"default", "projects"})
        if unknown:
            raise InputError(f"[policy] has no key {unknown[0]!r} (keys: default, projects)")
        default = table.get("default", "tofu")
        if default not in MODES:
            raise InputError(f"policy.default {default!r} is not one of {', '.join(MODES)}")
        projects: dict[str, ProjectRule] = {}
        raw_projects = table.get("projects", {})
        if not isinstance(raw_projects, dict):
            raise InputError("policy.projects must be a table of projects")
        for name, rule in raw_projects.items():
            where = f"policy.projects.{name}"
            if not isinstance(rule, dict):
                raise InputError(f"{where} must be a table")
            extra = sorted(set(rule) - {"mode", "publishers", "reason", "index"})
            if extra:
                raise InputError(
                    f"{where} has no key {extra[0]!r} (keys: mode, publishers, reason, index)"
                )
            mode = rule.get("mode")
            if mode is not None and mode not in MODES:
                raise InputError(f"{where}.mode {mode!r} is not one of {', '.join(MODES)}")
            publishers = (
                _identities(rule["publishers"], f"{where}.publishers")
                if "publishers" in rule
                else ()
            )
            reason = rule.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise InputError(f"{where}.reason must be a string")
            index = rule.get("index")
            if index is not None and (
                not isinstance(index, str) or not index.startswith(("https://", "http://"))
            ):
                raise InputError(f"{where}.index must be an http(s) URL of a Simple API root")
            projects[canonicalize_name(str(name))] = ProjectRule(mode, publishers, reason, index)
        return cls(default, projects, source)

    def rule(self, project: str) -> ProjectRule:
        """The rule for ``project`` (normalised name); the default mode when unlisted."""
        return self.projects.get(project, ProjectRule())

    def mode(self, project: str) -> Mode:
        """The effective mode of ``project``."""
        return self.rule(project).mode or self.default


@dataclass(frozen=True)
class Pin:
    """The publishers first seen for a project, and when."""

    publishers: tuple[dict[str, Any], ...]
    version: str | None
    recorded: str


@dataclass
class Pins:
    """The pins file: ``[projects.<name>]`` with ``publishers``, ``version``, ``recorded``."""

    path: Path | None = None
    projects: dict[str, Pin] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Pins:
        """Read ``path``; a missing file is an empty pin set."""
        import tomllib

        from packaging.utils import canonicalize_name

        target = Path(path)
        if not target.exists():
            return cls(target)
        try:
            doc = tomllib.loads(target.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{target}: cannot read pins: {exc}") from None
        projects: dict[str, Pin] = {}
        for name, table in (doc.get("projects") or {}).items():
            where = f"{target}: projects.{name}"
            if not isinstance(table, dict):
                raise InputError(f"{where} must be a table")
            publishers = _identities(table.get("publishers"), f"{where}.publishers")
            version = table.get("version")
            projects[canonicalize_name(str(name))] = Pin(
                publishers, str(version) if version else None, str(table.get("recorded", ""))
            )
        return cls(target, projects)

    def record(
        self, project: str, publishers: Iterable[Mapping[str, Any]], version: str | None
    ) -> None:
        """Pin ``project`` to ``publishers`` (replacing an earlier pin)."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        unique: list[dict[str, Any]] = []
        for publisher in publishers:
            kept = {k: v for k, v in publisher.items() if k != "claims" and v is not None}
            if kept not in unique:
                unique.append(kept)
        self.projects[project] = Pin(tuple(unique), version, now)

    def save(self) -> None:
        """Write the pins file atomically (sorted, so diffs stay readable).

        Written by hand: the standard library reads TOML but cannot write it, and a
        TOML writer (tomli-w) would be one more client dependency for a few flat tables
        of strings, each quoted by :func:`_toml_string`.
        """
        from attestkit.core.encoding import atomic_write

        if self.path is None:
            raise InputError("no pins file to write")
        lines = [
            "# attestkit pins: the publishers first seen for each project (trust on first use).",
            "# Written by `attestkit pin`; a new publisher fails verification until accepted.",
            "",
        ]
        for name in sorted(self.projects):
            pin = self.projects[name]
            lines.append(f"[projects.{_toml_key(name)}]")
            if pin.version:
                lines.append(f"version = {_toml_string(pin.version)}")
            lines.append(f"recorded = {_toml_string(pin.recorded)}")
            lines.append("publishers = [")
            for publisher in pin.publishers:
                items = ", ".join(
                    f"{_toml_key(k)} = {_toml_string(str(v))}" for k, v in publisher.items()
                )
                lines.append(f"  {{ {items} }},")
            lines.append("]")
            lines.append("")
        atomic_write(self.path, "\n".join(lines).encode())


def _toml_string(value: str) -> str:
    # TOML basic strings: escape backslash, quote and control characters (json does exactly this).
    import json

    return json.dumps(value, ensure_ascii=False)


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else _toml_string(key)


@dataclass(frozen=True)
class Evidence:
    """What the index showed for one file, after verification."""

    project: str
    version: str | None
    filename: str
    status: Status
    #: The publishers of the bundles that verified (PEP 740 publisher objects).
    publishers: tuple[dict[str, Any], ...] = ()
    detail: str = ""
    #: A verified certificate came from a development instance: its identity is simulated.
    simulated: bool = False


@dataclass(frozen=True)
class Judgement:
    """The policy's verdict on one file: ``fail`` makes the run fail."""

    level: Level
    message: str
    rule: str


def judge(
    evidence: Evidence,
    policy: Policy,
    pins: Pins | None = None,
    lock_identities: Sequence[Mapping[str, Any]] = (),
    *,
    accept: str | None = None,
) -> Judgement:
    """Apply the policy, the lock file's identities and the pins to one file's evidence.

    ``accept`` is the command that accepts a changed pin, named in the message
    (default: ``attestkit pin --update PROJECT``).
    """
    project = evidence.project
    accept = accept or f"attestkit pin --update {project}"
    rule = policy.rule(project)
    mode = rule.mode or policy.default
    why = f" ({rule.reason})" if rule.reason else ""
    if mode == "off":
        return Judgement("skip", f"not checked: policy mode off{why}", "policy")
    if evidence.status == "error":
        return Judgement("fail", evidence.detail, "index")
    if evidence.status == "failed":
        return Judgement("fail", f"provenance does not verify: {evidence.detail}", "signature")
    expected: list[Mapping[str, Any]] = [*rule.publishers, *lock_identities]
    source = "policy" if rule.publishers else "lock file"
    pin = pins.projects.get(project) if pins is not None else None
    if evidence.status == "absent":
        if mode == "require":
            return Judgement("fail", f"no provenance, and the policy requires it{why}", "policy")
        if expected:
            want = " or ".join(describe_identity(e) for e in expected)
            return Judgement("fail", f"no provenance, but the {source} expects {want}", source)
        if pin is not None:
            was = " or ".join(describe_identity(p) for p in pin.publishers)
            since = f" since {pin.version}" if pin.version else ""
            return Judgement(
                "fail",
                f"provenance disappeared: pinned to {was}{since} (a downgrade);"
                f" accept with `{accept}`",
                "pin",
            )
        return Judgement("warn", "no provenance", f"mode {mode}")
    seen = " and ".join(describe_identity(p) for p in evidence.publishers) or "nobody"
    if evidence.simulated:
        seen += " [SIMULATED identity: development instance]"
    if expected:
        if any(identity_matches(e, p) for e in expected for p in evidence.publishers):
            return Judgement("ok", seen, source)
        want = " or ".join(describe_identity(e) for e in expected)
        return Judgement("fail", f"published by {seen}, but the {source} expects {want}", source)
    if pin is not None:
        if any(identity_matches(p_, p) for p_ in pin.publishers for p in evidence.publishers):
            return Judgement("ok", seen, "pin")
        was = " or ".join(describe_identity(p) for p in pin.publishers)
        return Judgement(
            "fail",
            f"publisher changed: pinned to {was}, now {seen}; accept with `{accept}`",
            "pin",
        )
    return Judgement("ok", seen, f"mode {mode}")
