"""Reading a transparency log: its signed checkpoint and its entries, in order.

Two ways: a tile-backed log (C2SP tlog-tiles: ``<url>/checkpoint`` and 256-entry
bundles at ``<url>/tile/entries/...``), which is how Rekor v2 logs are read and
how the local instance serves both its logs; and a Rekor v1 API
(``GET /api/v1/log``, ``POST /api/v1/log/entries/retrieve`` in batches), for the
public Rekor v1 log.  Checkpoints are verified with the trusted root's log keys
(the signed note's key hint picks the key, as sigstore's verifier does).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from attestkit.core.tiles import TILE_WIDTH
from attestkit.errors import AttestkitError, VerificationError
from attestkit.sigstore.trust import TrustRoot

if TYPE_CHECKING:
    from attestkit.client.monitor.tree import CompactRange

__all__ = ["Checkpoint", "LogReadError", "LogSource", "RekorV1Log", "TileLog", "verify_note"]

#: Entries per ``retrieve`` request of Rekor v1 (public Rekor's limit is 10).
_V1_BATCH = 10


class LogReadError(AttestkitError):
    """The log could not be read (transient: the monitor retries on its next run)."""


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the tree size and root hash the log signed."""

    size: int
    root: bytes
    text: str


class LogSource(Protocol):
    """A log the monitor reads."""

    name: str

    def checkpoint(self) -> Checkpoint:
        """The log's current signed checkpoint, verified."""
        ...

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """The canonical bodies of entries ``[start, end)``, in order."""
        ...


def verify_note(text: str, trust_root: TrustRoot, what: str) -> Checkpoint:
    """Verify a checkpoint (signed note) with any of ``trust_root``'s log keys."""
    from attestkit.sigstore.verify.tlog import verify_checkpoint

    header = text.split("\n\n", 1)[0].split("\n")
    if len(header) < 3 or not header[1].isdigit():
        raise VerificationError(f"{what}: malformed checkpoint")
    try:
        root = base64.b64decode(header[2], validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{what}: malformed checkpoint root hash") from None
    hints = set()
    for line in text.split("\n\n", 1)[1].splitlines() if "\n\n" in text else []:
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == "\u2014":
            try:
                hints.add(base64.b64decode(parts[2])[:4])
            except (binascii.Error, ValueError):
                continue
    keyring = trust_root.rekor_keyring
    for key_id in keyring:
        if key_id[:4] in hints:
            try:
                verify_checkpoint(text, key_id, root, keyring)
            except VerificationError:
                continue
            return Checkpoint(int(header[1]), root, text)
    raise VerificationError(f"{what}: the checkpoint is not signed by a log of the trusted root")


class TileLog:
    """A tile-backed log at ``url`` (``<url>/checkpoint``, ``<url>/tile/entries/...``)."""

    def __init__(self, name: str, url: str, trust_root: TrustRoot, session: Any) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.trust_root = trust_root
        self.session = session

    def _get(self, path: str) -> bytes:
        import requests

        try:
            response = self.session.get(f"{self.url}/{path}", timeout=60)
        except requests.RequestException as exc:
            raise LogReadError(f"cannot read {self.url}/{path}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise LogReadError(f"{self.url}/{path} answered {response.status_code}")
        content: bytes = response.content
        return content

    def checkpoint(self) -> Checkpoint:
        """``<url>/checkpoint``, verified."""
        return verify_note(self._get("checkpoint").decode(), self.trust_root, self.name)

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """Entry bundles, full tiles where complete, a partial tile at the end."""
        from attestkit.core.tiles import tile_path

        index = start // TILE_WIDTH
        while index * TILE_WIDTH < end:
            width = min(TILE_WIDTH, end - index * TILE_WIDTH)
            data = self._get(f"tile/entries/{tile_path(index, width)}")
            bodies = _bundle(data, width, self.name)
            first = max(start - index * TILE_WIDTH, 0)
            yield from bodies[first:]
            index += 1


def _bundle(data: bytes, width: int, what: str) -> list[bytes]:
    bodies, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise LogReadError(f"{what}: truncated entry bundle")
        n = int.from_bytes(data[offset : offset + 2], "big")
        bodies.append(data[offset + 2 : offset + 2 + n])
        offset += 2 + n
    if len(bodies) != width or offset != len(data):
        raise LogReadError(f"{what}: an entry bundle has {len(bodies)} entries, not {width}")
    return bodies


class RekorV1Log:
    """A Rekor v1 API at ``url`` (public Rekor): the checkpoint and batched retrieves."""

    def __init__(self, name: str, url: str, trust_root: TrustRoot, session: Any) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.trust_root = trust_root
        self.session = session

    def checkpoint(self) -> Checkpoint:
        """``signedTreeHead`` of ``GET /api/v1/log``, verified."""
        import requests

        try:
            response = self.session.get(f"{self.url}/api/v1/log", timeout=60)
            info = response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError) as exc:
            raise LogReadError(f"cannot read {self.url}/api/v1/log: {type(exc).__name__}") from None
        if not isinstance(info, dict) or not isinstance(info.get("signedTreeHead"), str):
            raise LogReadError(f"{self.url}/api/v1/log did not answer a signed tree head")
        return verify_note(info["signedTreeHead"], self.trust_root, self.name)

    def head(self) -> tuple[Checkpoint, CompactRange]:
        """Start at the log's head: a signed checkpoint and the compact range of its tree.

        The inclusion proof of a tree's last entry names every complete subtree to
        its left, and that entry's leaf completes the smallest one; the range's root
        must equal the signed checkpoint's, so the range is the log's.
        """
        from attestkit.client.monitor.tree import CompactRange, leaf_hash

        size = self.checkpoint().size
        for _ in range(5):  # the log may grow between reading the size and the proof
            if size == 0:
                return self.checkpoint(), CompactRange()
            body, proof = self._last_entry(size - 1)
            head = verify_note(proof["checkpoint"], self.trust_root, self.name)
            if head.size == size and int(proof["treeSize"]) == size:
                break
            size = head.size
        else:
            raise LogReadError(f"{self.url}: the log grew too fast to start at its head")
        try:
            path = [bytes.fromhex(h) for h in proof["hashes"]]
            tree = CompactRange.from_last_inclusion(size, leaf_hash(body), path)
        except ValueError as exc:
            raise VerificationError(f"{self.name}: the head's inclusion proof: {exc}") from None
        if tree.root() != head.root:
            raise VerificationError(f"{self.name}: the head's inclusion proof does not verify")
        return head, tree

    def _last_entry(self, index: int) -> tuple[bytes, dict[str, Any]]:
        import requests

        try:
            response = self.session.get(
                f"{self.url}/api/v1/log/entries", params={"logIndex": index}, timeout=60
            )
            if response.status_code != 200:
                raise ValueError(f"it answered {response.status_code}")
            found: dict[str, Any] = response.json()
            [entry] = found.values()
            proof = entry["verification"]["inclusionProof"]
            if int(proof["logIndex"]) != index or not isinstance(proof["hashes"], list):
                raise ValueError("the proof is not of the entry asked for")
            return base64.b64decode(entry["body"]), proof
        except (requests.RequestException, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise LogReadError(f"cannot read entry {index} of {self.url}: {exc}") from None

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """``POST /api/v1/log/entries/retrieve`` with up to 10 indexes at a time."""
        import requests

        for first in range(start, end, _V1_BATCH):
            wanted = list(range(first, min(first + _V1_BATCH, end)))
            try:
                response = self.session.post(
                    f"{self.url}/api/v1/log/entries/retrieve",
                    json={"logIndexes": wanted},
                    timeout=60,
                )
                found = response.json() if response.status_code == 200 else None
            except (requests.RequestException, ValueError) as exc:
                raise LogReadError(f"cannot read entries of {self.url}: {exc}") from None
            if not isinstance(found, list):
                raise LogReadError(f"{self.url} did not answer entries {wanted[0]}-{wanted[-1]}")
            by_index = {}
            for item in found:
                for entry in item.values() if isinstance(item, dict) else ():
                    by_index[entry.get("logIndex")] = entry.get("body")
            for index in wanted:
                body = by_index.get(index)
                if not isinstance(body, str):
                    raise LogReadError(f"{self.url} did not return entry {index}")
                yield base64.b64decode(body)
