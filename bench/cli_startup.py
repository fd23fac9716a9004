"""CLI cold start and one offline verify: attestkit vs pypi-attestations, same run.

Run: ``.venv/bin/python -m bench.cli_startup [--runs 20]``.  Every command is a
fresh process (cold interpreter, warm OS file cache); figures are wall times
and the peak RSS of the process.  Both tools verify the same real pair
(``pypi_attestations-0.0.19.tar.gz`` with its publish and SLSA attestations)
offline against the production trust root.

Both run as installed: pip byte-compiles what it installs, so attestkit's
sources are compiled first (``compileall``, into ``__pycache__``) even where
``PYTHONDONTWRITEBYTECODE`` is set; without that, every start would compile
the command modules again, which no installed copy does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench._proc import Measurement, measure

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SDIST = DATA / "pypi_attestations-0.0.19.tar.gz"
ATT = DATA / "pypi_attestations-0.0.19.tar.gz.publish.attestation"
SAN = "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19"


def cases(python: str) -> list[tuple[str, list[str], list[str]]]:
    """(name, attestkit command, pypi-attestations command) triples."""
    ak = [python, "-m", "attestkit"]
    pa = [python, "-m", "pypi_attestations"]
    return [
        ("--help", [*ak, "--help"], [*pa, "--help"]),
        ("inspect", [*ak, "inspect", str(ATT)], [*pa, "inspect", str(ATT)]),
        (
            "verify attestation",
            [
                *ak,
                "verify",
                "attestation",
                "--repository",
                "https://github.com/trailofbits/pypi-attestations",
                "--workflow",
                "release.yml",
                str(SDIST),
            ],
            [*pa, "verify", "attestation", "--offline", "--identity", SAN, str(SDIST)],
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON")
    args = parser.parse_args()
    import compileall

    compileall.compile_dir(str(ROOT / "src" / "attestkit"), quiet=1)
    rows: list[tuple[str, Measurement, Measurement]] = []
    baseline = measure("python -c pass", [sys.executable, "-c", "pass"], args.runs)
    for name, ours, theirs in cases(sys.executable):
        a = measure(f"attestkit {name}", ours, args.runs)
        b = measure(f"pypi-attestations {name}", theirs, args.runs)
        if a.exit_codes != {0} or b.exit_codes != {0}:
            print(f"warning: {name}: exit codes {set(a.exit_codes)} / {set(b.exit_codes)}")
        rows.append((name, a, b))
    print(
        f"{args.runs} runs each after 2 warm-ups; python -c pass: median {baseline.median:.1f} ms"
    )
    header = (
        f"{'command':<20} {'attestkit ms':>12} {'RSS MiB':>8} {'pypi-att. ms':>12}"
        f" {'RSS MiB':>8} {'speed-up':>8}"
    )
    print(header)
    print("-" * len(header))
    out = []
    for name, a, b in rows:
        ratio = b.median / a.median
        print(
            f"{name:<20} {a.median:>12.1f} {a.peak_rss_mib:>8.1f} {b.median:>12.1f}"
            f" {b.peak_rss_mib:>8.1f} {ratio:>7.2f}x"
        )
        out.append(
            {
                "command": name,
                "attestkit": {
                    "median_ms": a.median,
                    "mean_ms": a.mean,
                    "peak_rss_mib": a.peak_rss_mib,
                },
                "pypi_attestations": {
                    "median_ms": b.median,
                    "mean_ms": b.mean,
                    "peak_rss_mib": b.peak_rss_mib,
                },
                "speedup": ratio,
            }
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
