"""The verifying mirror: projects the index does not host, read from upstream and verified.

``config`` (which upstream a name may come from), ``upstream`` (bounded reads
of PEP 691 pages, provenance and files), ``verdicts`` (the policy and the
trust-on-first-use rules, no I/O), ``service`` (pages: caching, revalidation,
stale serving), ``judging`` (fetch, verify and judge provenance),
``downloads`` (files and core metadata) and ``quarantine`` (the operator's
decisions).  The Simple, Integrity and web pages serve mirrored projects
through :attr:`attestkit.index.instance.Index.mirror`.
"""

from attestkit.index.mirror.config import MirrorConfig
from attestkit.index.mirror.downloads import FileRefused, open_file, open_metadata
from attestkit.index.mirror.quarantine import reject_file, release_file, release_states
from attestkit.index.mirror.service import Mirror, MirrorState, MirrorUnavailable

__all__ = [
    "FileRefused",
    "Mirror",
    "MirrorConfig",
    "MirrorState",
    "MirrorUnavailable",
    "open_file",
    "open_metadata",
    "reject_file",
    "release_file",
    "release_states",
]
