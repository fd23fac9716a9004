"""One monitoring pass over every watched log, resumable, with findings reported once.

A pass, per log: verify the newest checkpoint (a log seen for the first time can
be started at its head, from the last entry's inclusion proof); read the entries added since the
last verified size, growing the compact range and noting entries whose
certificate a watched identity satisfies; then compare the range's root with
the checkpoint's.  A log that shrank, a different root at the same size, or
entries that do not hash to the signed root are a **split view** (the log showed
someone a different history).  Progress is saved every few thousand entries (the
range and the pending matches, in one atomic write), so a killed monitor resumes
where it stopped; only a verified pass moves the "verified" mark.

Pending matches are then checked against what the identity's projects have
published (:mod:`.published`): a published one is dropped, one still
unpublished after the grace period is reported as **signed but never
published**.  Findings go to the report file (JSON lines, fsynced) before the
state records them as reported, and at start the report file is read back, so a
crash between the two repeats nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from attestkit.client.monitor.logs import LogReadError, LogSource
from attestkit.client.monitor.matching import WatchedIdentity, certificates
from attestkit.client.monitor.tree import CompactRange, leaf_hash
from attestkit.errors import AttestkitError, VerificationError

__all__ = ["Finding", "Monitor", "MonitorState"]

#: Entries between two progress saves.
SAVE_EVERY = 4096
STATE_VERSION = 1


@dataclass(frozen=True)
class Finding:
    """Something the maintainer must look at."""

    #: ``split-view`` or ``unpublished``.
    kind: str
    log: str
    message: str
    index: int | None = None
    identity: str | None = None
    leaf_hash: str | None = None

    @property
    def key(self) -> str:
        """Identifies a finding across runs (report once); a split view by what was seen."""
        what = self.message if self.kind == "split-view" else self.leaf_hash
        return f"{self.kind}:{self.log}:{self.index}:{what}"

    def to_json(self) -> dict[str, Any]:
        """One JSON line of the report."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class MonitorState:
    """The state file: per log, the verified mark and the scan's progress; pending matches."""

    verified: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: dict[str, CompactRange] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> MonitorState:
        """Read the state file (absent: a fresh state); InputError naming it if damaged."""
        from attestkit.errors import InputError

        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the monitor state: {exc}", source=str(path)) from None
        try:
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported state version {data.get('version')!r}")
            return cls(
                verified=dict(data["verified"]),
                progress={k: CompactRange.from_json(v) for k, v in data["progress"].items()},
                pending=list(data["pending"]),
                reported=set(data["reported"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"damaged monitor state: {exc}", source=str(path)) from None

    def save(self, path: Path) -> None:
        """Write atomically (temp file, fsync, rename)."""
        from attestkit.core.encoding import atomic_write

        data = {
            "version": STATE_VERSION,
            "verified": self.verified,
            "progress": {k: v.to_json() for k, v in self.progress.items()},
            "pending": self.pending,
            "reported": sorted(self.reported),
        }
        atomic_write(path, json.dumps(data, indent=1).encode())


class Monitor:
    """Watches ``logs`` for entries signed by ``identities``; see the module docstring."""

    def __init__(
        self,
        logs: Sequence[LogSource],
        identities: Sequence[WatchedIdentity],
        state_path: Path,
        *,
        indexes: Sequence[str] = (),
        grace: float = 3600.0,
        report_path: Path | None = None,
        published: Callable[[Sequence[str], Sequence[str]], set[bytes]] | None = None,
        clock: Callable[[], float] = time.time,
        from_head: bool = False,
    ) -> None:
        self.logs = logs
        self.identities = identities
        self.state_path = state_path
        self.indexes = indexes
        self.grace = grace
        self.report_path = report_path
        self.published = published
        self.clock = clock
        #: A log seen for the first time is followed from its head (where it can be).
        self.from_head = from_head
        #: Set when a log or an index could not be read this pass (retry next time).
        self.errors: list[str] = []

    def run_once(self) -> list[Finding]:
        """One pass; the new findings (each reported once, ever)."""
        state = MonitorState.load(self.state_path)
        state.reported |= self._already_reported()
        self.errors = []
        findings: list[Finding] = []
        for log in self.logs:
            findings += self._scan(log, state)
        findings += self._resolve(state)
        new = [f for f in findings if f.key not in state.reported]
        self._report(new)
        state.reported |= {f.key for f in new}
        state.save(self.state_path)
        return new

    # -- logs ---------------------------------------------------------------------------
    def _scan(self, log: LogSource, state: MonitorState) -> list[Finding]:
        first = log.name not in state.verified and log.name not in state.progress
        head = getattr(log, "head", None)
        if first and self.from_head and head is not None:
            try:
                checkpoint, tree = head()
            except VerificationError as exc:
                return [Finding("split-view", log.name, f"the log's head does not verify: {exc}")]
            except LogReadError as exc:
                self.errors.append(str(exc))
                return []
            state.progress[log.name] = tree
            state.verified[log.name] = {"size": checkpoint.size, "root": checkpoint.root.hex()}
        try:
            checkpoint = log.checkpoint()
        except VerificationError as exc:
            return [Finding("split-view", log.name, f"the checkpoint does not verify: {exc}")]
        except LogReadError as exc:
            self.errors.append(str(exc))
            return []
        verified = state.verified.get(log.name)
        work = state.progress.get(log.name) or CompactRange()
        if verified is not None:
            size, root = int(verified["size"]), bytes.fromhex(verified["root"])
            if checkpoint.size < size:
                return [
                    self._split(log, f"the log shrank from {size} to {checkpoint.size} entries")
                ]
            if checkpoint.size == size and checkpoint.root != root:
                return [self._split(log, f"two different trees of size {size}")]
        if work.size > checkpoint.size:
            return [self._split(log, f"the log shrank below the {work.size} entries read")]
        try:
            for index, body in enumerate(log.entries(work.size, checkpoint.size), work.size):
                work.append(leaf_hash(body))
                self._match(log.name, index, body, state)
                if work.size % SAVE_EVERY == 0:
                    state.progress[log.name] = work
                    state.save(self.state_path)
        except LogReadError as exc:
            state.progress[log.name] = work  # what was read stays read
            self.errors.append(str(exc))
            return []
        if work.root() != checkpoint.root:
            state.progress.pop(log.name, None)
            return [
                self._split(
                    log,
                    f"the entries served do not hash to the signed root of size {checkpoint.size}",
                )
            ]
        state.progress[log.name] = work
        state.verified[log.name] = {"size": checkpoint.size, "root": checkpoint.root.hex()}
        return []

    def _split(self, log: LogSource, why: str) -> Finding:
        return Finding("split-view", log.name, f"split view of {log.name}: {why}")

    def _match(self, log: str, index: int, body: bytes, state: MonitorState) -> None:
        for der in certificates(body):
            for identity in self.identities:
                if identity.matches(der):
                    state.pending.append(
                        {
                            "log": log,
                            "index": index,
                            "leaf_hash": leaf_hash(body).hex(),
                            "identity": identity.describe(),
                            "projects": list(identity.projects),
                            "first_seen": self.clock(),
                        }
                    )
                    return

    # -- the index cross-check ----------------------------------------------------------
    def _resolve(self, state: MonitorState) -> list[Finding]:
        if not state.pending:
            return []
        projects = sorted({p for item in state.pending for p in item["projects"]})
        published: set[bytes] = set()
        if projects and self.indexes and self.published is not None:
            try:
                published = self.published(self.indexes, projects)
            except AttestkitError as exc:
                self.errors.append(str(exc))
                return []  # keep everything pending; try again next pass
        findings, still = [], []
        now = self.clock()
        for item in state.pending:
            if bytes.fromhex(item["leaf_hash"]) in published:
                continue
            if now - float(item["first_seen"]) < self.grace:
                still.append(item)
                continue
            where = ", ".join(item["projects"]) or "no project"
            findings.append(
                Finding(
                    "unpublished",
                    item["log"],
                    f"entry {item['index']} of {item['log']} was signed by {item['identity']}"
                    f" but is not a file of any published release ({where})",
                    index=int(item["index"]),
                    identity=str(item["identity"]),
                    leaf_hash=str(item["leaf_hash"]),
                )
            )
        state.pending = still
        return findings

    # -- reporting ------------------------------------------------------------------------
    def _already_reported(self) -> set[str]:
        if self.report_path is None or not self.report_path.exists():
            return set()
        keys = set()
        for line in self.report_path.read_text().splitlines():
            try:
                item = json.loads(line)
                keys.add(Finding(**item).key)
            except (ValueError, TypeError):
                continue
        return keys

    def _report(self, findings: list[Finding]) -> None:
        if self.report_path is None or not findings:
            return
        with self.report_path.open("a") as out:
            for finding in findings:
                out.write(json.dumps(finding.to_json()) + "\n")
            out.flush()
            os.fsync(out.fileno())
