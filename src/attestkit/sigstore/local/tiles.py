"""The local logs read as C2SP tlog-tiles: a signed checkpoint and 256-entry bundles.

Rekor v2 logs (rekor-tiles) are read this way; the local instance serves both
its logs so: the v2 log at ``/checkpoint`` and ``/tile/entries/...`` (the
layout a Rekor v2 ``baseUrl`` has), the v1 log at ``/api/v1/tiles/...`` (an
attestkit extension, so that a monitor reads a v1 log in bulk too).  An entry
bundle is the tile's leaves, each a 2-byte big-endian length and the entry's
canonical body (c2sp.org/tlog-tiles); tile indexes are paths of 3-digit groups,
``x``-prefixed but the last (``1234067`` is ``x001/x234/067``), and a partial
tile adds ``.p/W``.  Only entry bundles are served: a monitor recomputes the
tree from the entries, which proves both what it read and the tree's
consistency, so it needs no hash tiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attestkit.core.tiles import TILE_WIDTH, parse_tile_path, tile_path

if TYPE_CHECKING:
    from attestkit.sigstore.local.log import TransparencyLog

__all__ = ["TILE_WIDTH", "entry_bundle", "parse_tile_path", "tile_path"]


def entry_bundle(log: TransparencyLog, index: int, width: int) -> bytes | None:
    """The entry bundle of tile ``index`` with ``width`` leaves, or None if the log is smaller."""
    start = index * TILE_WIDTH
    if start + width > log.size():
        return None
    out = bytearray()
    for body in log.bodies(start, width):
        out += len(body).to_bytes(2, "big") + body
    return bytes(out)
