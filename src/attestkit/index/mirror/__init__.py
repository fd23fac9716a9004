"""The verifying mirror: projects the index does not host, read from upstream and verified.

``config`` (which upstream a name may come from), ``upstream`` (bounded reads
of PEP 691 pages, provenance and files), ``verdicts`` (the policy and the
trust-on-first-use rules, no I/O) and ``service`` (the mirror itself: caching,
revalidation, quarantine).  The Simple, Integrity and web pages serve mirrored
projects through :attr:`attestkit.index.instance.Index.mirror`.
"""

from attestkit.index.mirror.config import MirrorConfig
from attestkit.index.mirror.service import (
    FileRefused,
    Mirror,
    MirrorState,
    MirrorUnavailable,
    reject_file,
    release_file,
)

__all__ = [
    "FileRefused",
    "Mirror",
    "MirrorConfig",
    "MirrorState",
    "MirrorUnavailable",
    "reject_file",
    "release_file",
]
