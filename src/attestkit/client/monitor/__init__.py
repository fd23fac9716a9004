"""``attestkit monitor``: watch transparency logs for what a publishing identity signs.

:mod:`.logs` reads checkpoints and entries (tiles, or Rekor v1's API);
:mod:`.tree` grows the compact range that proves consistency; :mod:`.matching`
finds entries whose certificate a watched identity satisfies; :mod:`.published`
reads what the identity's projects published; :mod:`.run` ties one resumable
pass together.
"""

from attestkit.client.monitor.logs import Checkpoint, LogReadError, RekorV1Log, TileLog
from attestkit.client.monitor.matching import WatchedIdentity, certificates
from attestkit.client.monitor.published import published_leaves
from attestkit.client.monitor.run import Finding, Monitor, MonitorState
from attestkit.client.monitor.tree import CompactRange

__all__ = [
    "Checkpoint",
    "CompactRange",
    "Finding",
    "LogReadError",
    "Monitor",
    "MonitorState",
    "RekorV1Log",
    "TileLog",
    "WatchedIdentity",
    "certificates",
    "published_leaves",
]
