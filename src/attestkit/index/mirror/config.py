"""What a mirror is told: its upstream indexes, how often it revalidates, and its policy.

Which upstream serves a project is decided here, in one place, so that a name
never reaches an index it must not come from:

* a name matching ``local_only`` (shell-style patterns on the PEP 503 name, e.g.
  ``acme-*``) is never fetched from any upstream: only this index may host it;
* a project the policy binds to an index (``[policy.projects.NAME] index = URL``)
  is read from that index only;
* any other project comes from the first upstream, in the configured order,
  that has it — and from that one alone: pages are never merged across
  upstreams (a merge is how dependency confusion happens).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from attestkit.core.install_policy import Policy
from attestkit.core.issuers import is_loopback_host
from attestkit.errors import InputError

__all__ = ["MirrorConfig", "check_upstream"]


def check_upstream(url: str) -> str:
    """``url`` as a Simple API root ending in ``/``; ``https://`` or loopback ``http://`` only."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        pass
    elif parts.scheme != "https" or not parts.hostname:
        raise InputError(
            f"mirror upstream {url!r} must be an https:// URL (http:// only on a loopback address)"
        )
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class MirrorConfig:
    """The mirror's settings (``attestkit serve --mirror URL ...``)."""

    #: Upstream Simple API roots, in priority order.
    upstreams: tuple[str, ...]
    #: Seconds a project page is served before it is revalidated against upstream.
    ttl: float = 300.0
    #: Expected publishers, modes and per-project index bindings (``[policy]``).
    policy: Policy = field(default_factory=Policy)
    #: Names (patterns) that only this index may serve: never fetched upstream.
    local_only: tuple[str, ...] = ()
    #: Files whose provenance is verified while a page is built (the rest on download).
    eager: int = 256
    #: Seconds an unreachable upstream is left alone before it is tried again.
    retry_after: int = 30
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise InputError("a mirror needs at least one upstream index")
        object.__setattr__(self, "upstreams", tuple(check_upstream(u) for u in self.upstreams))

    def is_local_only(self, normalized: str) -> bool:
        """Whether ``normalized`` may only ever be hosted here."""
        return any(fnmatch.fnmatchcase(normalized, pattern) for pattern in self.local_only)

    def upstreams_for(self, normalized: str) -> tuple[str, ...]:
        """The upstreams ``normalized`` may come from, in order (none for local-only names)."""
        if self.is_local_only(normalized):
            return ()
        bound = self.policy.rule(normalized).index
        if bound:
            return (check_upstream(bound),)
        return self.upstreams
