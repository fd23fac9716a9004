"""A TCP forwarder on 127.0.0.1 that delays every client-to-server chunk.

It stands between a signing client and the local Sigstore instance to model a
remote one: each request arrives ``delay_ms`` later, as over a link with that
round-trip time.  Benchmarks only; loopback only; stops with the process.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


def start_delay_proxy(target: tuple[str, int], delay_ms: float) -> int:
    """Listen on a free loopback port, forward to ``target``; return the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    delay = delay_ms / 1000

    def pump(src: socket.socket, dst: socket.socket, wait: float) -> None:
        try:
            while data := src.recv(65536):
                if wait:
                    time.sleep(wait)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while True:
            client, _ = listener.accept()
            upstream = socket.create_connection(target)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=pump, args=(client, upstream, delay), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, 0.0), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1])
