"""Copy Sigstore's public trust roots from an installed sigstore-python into attestkit.

sigstore-python keeps the files it fetched through TUF in its package data; run
``python -c "import sigstore.models; ..."`` or any sigstore verify first to refresh
them, then this script.  See src/attestkit/sigstore/roots/README.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import sigstore

from attestkit.sigstore.roots import INSTANCES

ROOTS = Path(__file__).resolve().parents[1] / "src" / "attestkit" / "sigstore" / "roots"


def main() -> None:
    store = Path(sigstore.__file__).parent / "_store"
    for instance, url in INSTANCES.items():
        for name in ("trusted_root.json", "signing_config.v0.2.json"):
            source = store / quote(url, safe="") / name
            shutil.copyfile(source, ROOTS / instance / name)
            print(f"{instance}/{name} <- {source}")


if __name__ == "__main__":
    main()
