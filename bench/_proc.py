"""Measure whole-process wall time and peak RSS of a command, repeated."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass


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


def measure(label: str, cmd: list[str], runs: int, warmups: int = 2) -> Measurement:
    """Run ``cmd`` ``warmups`` times unmeasured, then ``runs`` times measured."""
    for _ in range(warmups):
        run_once(cmd)
    times: list[float] = []
    peak = 0.0
    codes: set[int] = set()
    for _ in range(runs):
        ms, rss, code = run_once(cmd)
        times.append(ms)
        peak = max(peak, rss)
        codes.add(code)
    return Measurement(label, tuple(times), peak, frozenset(codes))
