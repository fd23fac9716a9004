"""Starting a server, the same way for the index and the local Sigstore.

One place decides where a server keeps its state by default, locks its data
directory against a second server, opens the listening socket, announces its
address in ``server.json`` (atomically, read by ``attestkit sigstore
trust-config`` and ``attestkit index``) and withdraws it again on a clean stop
(SIGINT, SIGTERM), and runs uvicorn on the socket, with one process or many.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "SERVER_INFO",
    "announce",
    "announced",
    "default_data_dir",
    "listen",
    "lock_data_dir",
    "run",
    "running_url",
    "withdraw",
]

#: The file in a data directory that names the running server's URL and pid.
SERVER_INFO = "server.json"


def default_data_dir(variable: str, *parts: str) -> Path:
    """``$variable`` if set, else ``$XDG_DATA_HOME/attestkit/<parts>`` (~/.local/share)."""
    explicit = os.environ.get(variable)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base, "attestkit", *parts)


def lock_data_dir(data_dir: Path, what: str) -> IO[str]:
    """Create ``data_dir`` and hold its lock (closing the file releases it); OSError if taken."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise OSError(f"another {what} is using {data_dir}") from None
    return lock


def listen(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening TCP socket on ``host:port`` (0: any free port) and its ``http://`` URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every response stalls ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(511)  # clients that connect before uvicorn accepts wait in the backlog
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    return sock, f"http://{url_host}:{sock.getsockname()[1]}"


def announce(directories: Sequence[Path], url: str) -> None:
    """Write ``server.json`` (URL and this pid) into each directory, atomically."""
    from attestkit.core.encoding import atomic_write

    info = json.dumps({"url": url, "pid": os.getpid()}).encode()
    for directory in directories:
        atomic_write(directory / SERVER_INFO, info)


def withdraw(directories: Sequence[Path]) -> None:
    """Remove the ``server.json`` files this process wrote (never another server's)."""
    for directory in directories:
        path = directory / SERVER_INFO
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError, AttributeError):
            pass


def running_url(directory: Path) -> str | None:
    """The URL in ``directory``'s ``server.json`` if that server is still running.

    A server killed with SIGKILL cannot withdraw its file, so the file alone proves
    nothing: the server must also still hold its data directory's lock (this
    directory's, or its parent's for the Sigstore inside ``attestkit serve --dev``)
    and its pid must be alive.  A stale file is removed.
    """
    import fcntl

    path = directory / SERVER_INFO
    try:
        info = json.loads(path.read_text())
        url, pid = info["url"], info["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    alive = isinstance(pid, int) and isinstance(url, str)
    if alive:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            alive = False
        except PermissionError:
            pass  # another user's live process
    for lock_path in (directory / "lock", directory.parent / "lock"):
        if alive and lock_path.exists():
            with lock_path.open("a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    break  # held: the server is running
                fcntl.flock(lock, fcntl.LOCK_UN)
                alive = False
    if not alive:
        path.unlink(missing_ok=True)
        return None
    return str(url)


@contextmanager
def announced(directories: Sequence[Path], url: str) -> Iterator[None]:
    """``server.json`` in ``directories`` while the block runs.

    SIGTERM ends the block cleanly: uvicorn shuts down on it and then re-raises it
    to the previous handler, which here unwinds this block (withdrawing the
    address) instead of killing the process with the file left behind.  SIGINT
    unwinds as KeyboardInterrupt.
    """
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    announce(directories, url)
    try:
        yield
    except _Terminated:
        pass
    finally:
        withdraw(directories)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(BaseException):
    """SIGTERM arrived: stop serving (BaseException, so no ``except Exception`` swallows it)."""


#: Set by the SIGTERM handler.  Raising alone is not enough: a signal that lands
#: while the interpreter runs a ``__del__`` or weakref callback has its exception
#: printed and dropped ("Exception ignored in ..."), and a server that was told to
#: stop before uvicorn took over the signals would serve forever.
_TERMINATED = threading.Event()


def _interrupt(signum: int, frame: object) -> None:
    _TERMINATED.set()
    raise _Terminated


def run(config: uvicorn.Config, sock: socket.socket, *, workers: int = 1) -> None:
    """Serve ``config`` on ``sock`` until SIGINT/SIGTERM: one process, or ``workers``."""
    if workers > 1:
        from uvicorn.supervisors.multiprocess import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
        return
    if _TERMINATED.is_set():  # told to stop before serving began
        return
    import uvicorn

    class _Server(uvicorn.Server):
        async def on_tick(self, counter: int) -> bool:
            # A SIGTERM whose exception was dropped still stops the server (0.1 s ticks).
            return _TERMINATED.is_set() or await super().on_tick(counter)

    _Server(config).run(sockets=[sock])
