"""Measure whole-process wall time and peak RSS of a command, repeated."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    """Wall times (ms) of repeated runs and the largest peak RSS (MiB) seen."""

    label: str
    times_ms: tuple[float, ...]
    peak_rss_mib: float
    exit_codes: frozenset[int]

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times_ms)


def run_once(cmd: list[str]) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall ms, peak RSS MiB of that process, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


#: ``run_once`` in a fresh, small interpreter.  Linux carries a process's peak RSS
#: over ``exec`` into the child (``ru_maxrss`` starts at the spawning process's
#: high-water mark), so spawning from a benchmark that has imported attestkit,
#: sigstore and pypi-attestations would report at least its own RSS for every child.
LAUNCHER = (
    "import json, sys; from bench._proc import run_once; print(json.dumps(run_once(sys.argv[1:])))"
)
ROOT = Path(__file__).resolve().parent.parent


def run_lean(cmd: list[str]) -> tuple[float, float, int]:
    """Like :func:`run_once`, spawned from a lean launcher so the peak RSS is the child's own."""
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True, cwd=ROOT, check=True
    )
    ms, rss, code = json.loads(out.stdout)
    return float(ms), float(rss), int(code)


def measure(label: str, cmd: list[str], runs: int, warmups: int = 2) -> Measurement:
    """Run ``cmd`` ``warmups`` times unmeasured, then ``runs`` times measured."""
    for _ in range(warmups):
        run_lean(cmd)
    times: list[float] = []
    peak = 0.0
    codes: set[int] = set()
    for _ in range(runs):
        ms, rss, code = run_lean(cmd)
        times.append(ms)
        peak = max(peak, rss)
        codes.add(code)
    return Measurement(label, tuple(times), peak, frozenset(codes))
