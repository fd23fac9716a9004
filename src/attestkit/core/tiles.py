"""C2SP tlog-tiles paths (c2sp.org/tlog-tiles): tile indexes as 3-digit path groups.

Tile index ``N`` is written as its decimal digits in groups of three, every
group but the last prefixed with ``x`` (``1234067`` is ``x001/x234/067``); a
partial tile (fewer than 256 leaves) adds ``.p/W``.  Shared by the local
instance, which serves its logs as tiles, and the monitor, which reads them.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["TILE_WIDTH", "parse_tile_path", "tile_path"]

#: Leaves per full tile.
TILE_WIDTH: Final = 256
_GROUP: Final = re.compile(r"^(?:x\d{3}/)*\d{3}$")


def tile_path(index: int, width: int = TILE_WIDTH) -> str:
    """The path of tile ``index`` (``.p/W`` for a partial one)."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def parse_tile_path(path: str) -> tuple[int, int]:
    """``(index, width)`` of a tile path; ValueError if it is not one."""
    width = TILE_WIDTH
    if ".p/" in path:
        path, _, partial = path.partition(".p/")
        if not partial.isdigit() or not 1 <= int(partial) < TILE_WIDTH:
            raise ValueError("a partial tile's width is 1 to 255")
        width = int(partial)
    if not _GROUP.match(path):
        raise ValueError("not a tile index path")
    groups = path.split("/")
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError("a tile index has no leading zero groups")
    return int("".join(g.removeprefix("x") for g in groups)), width
