"""What listens at a ``--scheduler`` address: a Dask scheduler, or something else.

``distributed.Client`` trusts the first bytes it reads: a listener that never answers keeps it
waiting, and one that sends a banner makes it allocate whatever length the banner's first
eight bytes spell ("Unable to allocate 2.82 EiB"). :func:`probe_scheduler` connects once with
a timeout and reads what the peer sends first. A Dask server sends its handshake at once, a
frame whose first eight bytes are its little-endian length; anything else is reported in one
line (an HTTP server is recognised by asking it for ``/`` once it has stayed silent).
"""

from __future__ import annotations

import socket
import struct
import time

MAX_HANDSHAKE_BYTES = 1 << 20  # a Dask handshake is a few hundred bytes
HTTP_WAIT_S = 2.0


def _host_port(address: str) -> tuple[str, int]:
    hostport = address.partition("://")[2]
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port)


def _show(data: bytes) -> str:
    text = data[:40].decode("latin-1")
    printable = "".join(c if c.isprintable() else "." for c in text)
    return repr(printable)


def _recv_some(sock: socket.socket, want: int, timeout_s: float) -> tuple[bytes, bool]:
    """Up to ``want`` bytes, until the peer closes or ``timeout_s`` passes; and whether the
    peer closed (or reset) the connection."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while len(data) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(want - len(data))
        except TimeoutError:
            break
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _http_status(sock: socket.socket, host: str) -> str | None:
    """The status line when the peer answers an HTTP request, else None."""
    try:
        sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    except OSError:
        return None
    reply, _ = _recv_some(sock, 64, HTTP_WAIT_S)
    if reply.startswith(b"HTTP/"):
        return reply.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    return None


def probe_scheduler(address: str, timeout_s: float) -> None:
    """Return when a Dask server answers at ``address`` (tcp:// only; other schemes are left
    to ``distributed``); else ``ValueError`` saying in one line what was found there."""
    if not address.startswith("tcp://"):
        return
    host, port = _host_port(address)
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ValueError(f"cannot reach scheduler {address}: {reason}") from None
    with sock:
        first, closed = _recv_some(sock, 8, timeout_s)
        if len(first) == 8:
            (length,) = struct.unpack("<Q", first)
            if 0 < length <= MAX_HANDSHAKE_BYTES:
                return
            first += _recv_some(sock, 32, 0.2)[0]
            raise ValueError(
                f"{address} is not a Dask scheduler: it sent {_show(first)} "
                "instead of a Dask handshake"
            )
        if first:
            raise ValueError(
                f"{address} is not a Dask scheduler: it sent {_show(first)} and nothing more"
            )
        if closed:
            raise ValueError(
                f"{address} closed the connection without a Dask handshake: not a Dask "
                "scheduler"
            )
        status = _http_status(sock, host)
        if status:
            raise ValueError(
                f"{address} is an HTTP server ({status}), not a Dask scheduler "
                "(the scheduler's port is 8786 by default; the dashboard's is 8787)"
            )
        raise ValueError(
            f"{address} accepted the connection but sent no Dask handshake within "
            f"{timeout_s:g} s: not a Dask scheduler, or one that does not respond"
        )
