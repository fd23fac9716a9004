"""Install footprint: the client (``pip install attestkit``) vs everything (``[server,login]``).

Run: ``.venv/bin/python -m bench.install_bench``.  Each variant is installed
from this checkout into a fresh virtual environment with the same pip and
package registry, one after the other; figures are the wall time of ``pip
install``, the number of installed distributions (``pip list``, pip itself
included) and the size of the environment on disk.  ``.[server,login]`` is
what every install was before the server stack and sigstore-python became
extras; ``.[login]`` is the client with the interactive login.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _size_mb(path: Path) -> float:
    files = (p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return sum(p.stat().st_size for p in files) / 1e6


def measure(spec: str, where: Path) -> dict[str, float | int | str]:
    """Install ``spec`` into a fresh venv under ``where``; time, package count, size."""
    venv = where / spec.replace("[", "_").replace("]", "").replace(".", "client")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    start = time.perf_counter()
    subprocess.run([*pip, "install", "-q", spec], cwd=ROOT, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    listed = subprocess.run([*pip, "list", "--format", "json"], check=True, capture_output=True)
    return {
        "install": spec,
        "seconds": round(seconds, 1),
        "packages": len(json.loads(listed.stdout)),
        "size_mb": round(_size_mb(venv), 1),
    }


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        client = measure(".", Path(tmp))
        login = measure(".[login]", Path(tmp))
        server = measure(".[server,login]", Path(tmp))
    for row in (client, login, server):
        print(
            f"{row['install']:<16} {row['seconds']:>6} s  {row['packages']:>3} packages"
            f"  {row['size_mb']:>7} MB"
        )
    print(
        f"client / everything: {client['packages']}/{server['packages']} packages"
        f" ({int(client['packages']) / int(server['packages']):.2f}),"
        f" {float(client['size_mb']) / float(server['size_mb']):.2f} of the size,"
        f" {float(client['seconds']) / float(server['seconds']):.2f} of the time"
    )


if __name__ == "__main__":
    main()
