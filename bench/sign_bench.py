"""Signing N distributions: attestkit vs pypi-attestations' signing loop, same run.

Run: ``/tmp/venv/bin/python -m bench.sign_bench [--counts 1,10,100] [--runs 3]``.

Starts a real ``attestkit sigstore serve`` on 127.0.0.1 (in a temporary
directory), writes N small sdists ``pkg{i}-1.0.tar.gz`` (random bytes: both
tools only hash them) and mints one GitHub Actions token.  For each N, with the
two tools alternating which goes first, it measures the median wall time of:

* **in-process**: ``attestkit.sign(paths, identity_token=..., services=
  SigningServices.from_file(trust_config), overwrite=True)`` (which also
  verifies every result and writes the files) against the loop ``python -m
  pypi_attestations sign`` runs (``SigningContext.from_trust_config``, one
  cached signer, ``Attestation.sign`` and ``model_dump_json`` per file), minus
  its TUF refresh;
* **process**: ``python -m attestkit sign --local URL --identity-token T
  --overwrite files...`` against ``python -c <the same loop>`` (the
  pypi-attestations CLI always uses public Sigstore, so it cannot run
  offline); import costs are included for both, and the peak RSS of each
  process comes from ``os.wait4``.

Both talk to the same server over HTTP; the server's durable log appends are
part of every figure.  The outputs are deleted before every measured run and
counted after it, and one output of each tool is verified with attestkit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from bench._proc import run_lean

ROOT = Path(__file__).resolve().parent.parent
REPO = "octo/repo"
WORKFLOW = "release.yml"

#: The signing loop of ``python -m pypi_attestations sign`` (pypi-attestations
#: 0.0.30, ``_cli._sign``) without its TUF refresh: the trust config is read
#: from a file instead of ``ClientTrustConfig.production()``.  Run as
#: ``python -c PEER_SCRIPT TRUST_CONFIG TOKEN FILE...``, or exec'd to get
#: ``sign_all`` in-process: one source for both cases.
PEER_SCRIPT = """
import sys
from pathlib import Path

from pypi_attestations import Attestation, Distribution
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext


def sign_all(trust_config_text, token, paths):
    trust_config = ClientTrustConfig.from_json(trust_config_text)
    trust_config.force_tlog_version = 1  # as pypi-attestations does
    ctx = SigningContext.from_trust_config(trust_config)
    with ctx.signer(IdentityToken(token), cache=True) as signer:
        for p in paths:
            att = Attestation.sign(signer, Distribution.from_file(Path(p)))
            Path(f"{p}.publish.attestation").write_text(att.model_dump_json())


if __name__ == "__main__":
    sign_all(Path(sys.argv[1]).read_text(), sys.argv[2], sys.argv[3:])
"""


@dataclass(frozen=True)
class Row:
    """Median wall times (ms) for one N and mode; peak RSS (MiB) for processes."""

    n: int
    mode: str
    attestkit_ms: float
    peer_ms: float
    attestkit_rss: float | None = None
    peer_rss: float | None = None

    @property
    def speedup(self) -> float:
        return self.peer_ms / self.attestkit_ms


def _make_dists(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = directory / f"pkg{i}-1.0.tar.gz"
        path.write_bytes(os.urandom(4096))
        paths.append(path)
    return paths


def _clear_outputs(directory: Path) -> None:
    for p in directory.glob("*.publish.attestation"):
        p.unlink()


def _check_outputs(directory: Path, paths: Sequence[Path], label: str) -> None:
    """Every input got its attestation (and nothing else was signed)."""
    written = {p.name for p in directory.glob("*.publish.attestation")}
    expected = {f"{p.name}.publish.attestation" for p in paths}
    if written != expected:
        raise SystemExit(f"{label}: wrote {len(written)} attestations, expected {len(expected)}")


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def _alternating(
    runs: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run both ``runs`` times, swapping which goes first on every repetition."""
    a: list[float] = []
    b: list[float] = []
    for rep in range(runs):
        if rep % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1,10,100", help="comma-separated N values")
    parser.add_argument("--runs", type=int, default=3, help="repetitions per case (median)")
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="model a remote Sigstore: delay every request by this much (default 0: local)",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]

    import attestkit
    from attestkit import SigningServices
    from tests.fixtures.local_sigstore import start_instance

    # The child processes must never pick up an ambient CI identity.
    os.environ["SIGSTORE_OIDC_DISABLE_AMBIENT_PROVIDERS"] = "1"
    namespace: dict[str, object] = {"__name__": "peer"}
    exec(compile(PEER_SCRIPT, "<peer>", "exec"), namespace)
    peer_sign = cast(Callable[[str, str, list[str]], None], namespace["sign_all"])

    with tempfile.TemporaryDirectory(prefix="sign-bench-") as tmp:
        root = Path(tmp)
        instance = start_instance(root / "sigstore")
        try:
            trust_config_text = instance.trust_config_path.read_text()
            if args.latency_ms:
                from urllib.parse import urlsplit

                from bench._latency import start_delay_proxy

                parts = urlsplit(instance.url)
                port = start_delay_proxy((parts.hostname or "", parts.port or 80), args.latency_ms)
                config = json.loads(trust_config_text)
                for key in ("caUrls", "rekorTlogUrls"):
                    for service in config["signingConfig"][key]:
                        service["url"] = f"http://127.0.0.1:{port}"
                trust_config_text = json.dumps(config)
            (root / "trust.json").write_text(trust_config_text)
            trust_config = str(root / "trust.json")
            token = instance.token(
                "--github",
                REPO,
                "--workflow",
                WORKFLOW,
                "--ref",
                "refs/tags/v1",
                "--lifetime",
                "3600",
            )
            most = max(counts)
            ours_all = _make_dists(root / "attestkit", most)
            peer_all = _make_dists(root / "peer", most)

            def ours_api(paths: list[Path]) -> float:
                _clear_outputs(paths[0].parent)
                ms = _timed(
                    lambda: attestkit.sign(
                        paths,
                        identity_token=token,
                        services=SigningServices.from_file(trust_config),
                        overwrite=True,
                    )
                )
                _check_outputs(paths[0].parent, paths, "attestkit.sign")
                return ms

            def peer_api(paths: list[Path]) -> float:
                _clear_outputs(paths[0].parent)
                ms = _timed(lambda: peer_sign(trust_config_text, token, [str(p) for p in paths]))
                _check_outputs(paths[0].parent, paths, "pypi-attestations loop")
                return ms

            rss: dict[str, list[float]] = {}

            def process(label: str, cmd: list[str], paths: list[Path]) -> float:
                _clear_outputs(paths[0].parent)
                ms, peak, code = run_lean(cmd)
                if code != 0:
                    raise SystemExit(f"{label}: exit code {code}: {' '.join(cmd[:6])} ...")
                _check_outputs(paths[0].parent, paths, label)
                rss.setdefault(label, []).append(peak)
                return ms

            def ours_cmd(paths: list[Path]) -> list[str]:
                return [
                    sys.executable,
                    "-m",
                    "attestkit",
                    "sign",
                    "--trust-config",
                    trust_config,
                    "--identity-token",
                    token,
                    "--overwrite",
                    *map(str, paths),
                ]

            def peer_cmd(paths: list[Path]) -> list[str]:
                return [sys.executable, "-c", PEER_SCRIPT, trust_config, token, *map(str, paths)]

            # What the launcher itself contributes to a child's peak RSS.
            _, floor_rss, _ = run_lean([sys.executable, "-c", "pass"])

            # Warm-up (unmeasured): imports, the server's first connections.
            ours_api(ours_all[:1])
            peer_api(peer_all[:1])

            def measure(n: int) -> list[Row]:
                ours, peer = ours_all[:n], peer_all[:n]
                a, b = _alternating(args.runs, lambda: ours_api(ours), lambda: peer_api(peer))
                in_process = Row(n, "in-process", statistics.median(a), statistics.median(b))
                rss.clear()
                a, b = _alternating(
                    args.runs,
                    lambda: process("attestkit", ours_cmd(ours), ours),
                    lambda: process("peer", peer_cmd(peer), peer),
                )
                return [
                    in_process,
                    Row(
                        n,
                        "process",
                        statistics.median(a),
                        statistics.median(b),
                        max(rss["attestkit"]),
                        max(rss["peer"]),
                    ),
                ]

            rows: list[Row] = []
            for n in counts:
                rows += measure(n)
                print(f"N={n} done", file=sys.stderr, flush=True)

            # Sanity: what both tools wrote verifies for the signing identity.
            verifier = attestkit.Verifier(attestkit.TrustRoot.from_file(trust_config))
            for dist in (ours_all[0], peer_all[0]):
                verifier.verify(
                    attestkit.Attestation.from_file(f"{dist}.publish.attestation"),
                    attestkit.GitHubIdentity(REPO, WORKFLOW),
                    attestkit.Distribution.from_file(dist),
                )
        finally:
            instance.stop()

    print(
        f"median of {args.runs} runs, alternating order; peer = pypi-attestations"
        f" {_version('pypi-attestations')} + sigstore {_version('sigstore')} signing loop;"
        f" {os.cpu_count()} CPUs; RSS floor (python -c pass): {floor_rss:.1f} MiB;"
        f" added request latency: {args.latency_ms:g} ms"
    )
    header = (
        f"{'N':>4} {'mode':<11} {'attestkit ms':>12} {'peer ms':>10} {'speed-up':>9}"
        f" {'attestkit RSS':>14} {'peer RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ours_rss = f"{r.attestkit_rss:.1f} MiB" if r.attestkit_rss is not None else "-"
        peer_rss = f"{r.peer_rss:.1f} MiB" if r.peer_rss is not None else "-"
        print(
            f"{r.n:>4} {r.mode:<11} {r.attestkit_ms:>12.1f} {r.peer_ms:>10.1f}"
            f" {r.speedup:>8.2f}x {ours_rss:>14} {peer_rss:>9}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "n": r.n,
                        "mode": r.mode,
                        "attestkit_median_ms": r.attestkit_ms,
                        "peer_median_ms": r.peer_ms,
                        "speedup": r.speedup,
                        "attestkit_peak_rss_mib": r.attestkit_rss,
                        "peer_peak_rss_mib": r.peer_rss,
                    }
                    for r in rows
                ],
                indent=2,
            )
            + "\n"
        )
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    sys.exit(main())
