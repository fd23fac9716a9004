"""Strict encodings and safe file I/O used by every parser and writer.

* Base64 is decoded strictly (standard alphabet, padding required, no stray
  characters), unlike pydantic's ``Base64Bytes`` which silently drops invalid
  characters so URL-safe input decodes to the wrong bytes (pypi-attestations
  defect D12 in ``docs/defects.md``).
* JSON is decoded from bytes as UTF-8 explicitly; charset guessing once broke
  pypi-attestations (#171).
* Files are written atomically: a temporary file in the same directory, fsync,
  then ``os.replace``, so a crash never leaves a half-written output.

>>> b64decode("aGk=", what="statement")
b'hi'
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from attestkit.errors import InputError

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_TIMESTAMP",
    "ascii_int",
    "atomic_write",
    "b64decode",
    "b64encode",
    "file_error",
    "loads_json",
    "plausible_time",
    "read_bytes",
    "read_json",
]


def b64encode(data: bytes) -> str:
    """Standard, padded base64 with no newlines."""
    return base64.b64encode(data).decode("ascii")


def b64decode(value: object, *, what: str) -> bytes:
    """Decode standard padded base64 strictly; raise :class:`InputError` naming ``what``."""
    if not isinstance(value, str):
        raise InputError(f"{what}: expected a base64 string, got {_json_type(value)}")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InputError(f"{what}: not valid standard base64") from None


#: Deepest JSON nesting read from anywhere (real attestations and pages nest < 10 levels).
MAX_JSON_DEPTH = 64
#: Largest Unix time accepted in a token or log entry (the end of year 9998: any leeway
#: added to it still makes a valid ``datetime``).
MAX_TIMESTAMP = 253_370_764_799
_ASCII_INT = re.compile(r"[0-9]{1,18}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iterative: no recursion of its own)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads_json(
    data: bytes | str,
    *,
    what: str = "input",
    max_bytes: int | None = None,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Parse untrusted JSON: UTF-8, at most ``max_bytes``, ``max_depth`` levels, no NaN.

    Every refusal is an :class:`InputError` with a one-line reason, including the
    inputs ``json.loads`` would let escape as ``RecursionError`` (deep nesting) or
    accept although they are not JSON (``NaN``, ``Infinity``).  The one JSON reader for
    everything attestkit reads from outside: files, request bodies, upstream indexes.
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{what} is larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InputError(f"{what} is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except (RecursionError, ValueError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InputError(f"{what} is not valid JSON ({why})") from None
    if _depth_exceeds(value, max_depth):
        raise InputError(f"{what} is nested more than {max_depth} levels deep")
    return value


def ascii_int(value: str | None) -> int | None:
    """A non-negative decimal integer of ASCII digits only (``²`` and ``１`` are not), or None."""
    if value is None or not _ASCII_INT.fullmatch(value):
        return None
    return int(value)


def plausible_time(value: object) -> float | None:
    """A JSON number that can be a Unix time (0 to :data:`MAX_TIMESTAMP`), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value <= MAX_TIMESTAMP:
        return None
    return float(value)


def file_error(exc: OSError, path: str | os.PathLike[str]) -> InputError:
    """The one-line :class:`InputError` for an ``OSError`` raised reading ``path``."""
    if isinstance(exc, FileNotFoundError):
        reason = "no such file"
    elif isinstance(exc, IsADirectoryError):
        reason = "is a directory, not a file"
    elif isinstance(exc, PermissionError):
        reason = "permission denied"
    else:
        reason = f"cannot read: {exc.strerror or exc}"
    return InputError(reason, source=str(path))


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a whole file; failures become :class:`InputError` naming the file."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise file_error(exc, path) from None


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read and parse a JSON file; every failure is an :class:`InputError` naming it."""
    data = read_bytes(path)
    try:
        return loads_json(data, what="file")
    except InputError as exc:
        raise InputError(exc.reason.replace("file ", "", 1), source=str(path)) from None


def atomic_write(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename).

    With ``overwrite=False`` an existing file is never replaced (the final step
    uses a hard link, which fails if the target exists), so two concurrent
    writers cannot clobber each other.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        if overwrite:
            tmp.replace(target)
        else:
            try:
                target.hardlink_to(tmp)
            except FileExistsError:
                raise InputError("already exists", source=str(target)) from None
            finally:
                tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def json_type(value: object) -> str:
    """Describe a JSON value's type for error messages ('a string', 'null', ...)."""
    return _json_type(value)
