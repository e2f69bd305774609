"""Free TCP ports for locally started services."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picked it for a bind to 0).

    There is an unavoidable window between this call and the service binding the port; callers
    that start a process on it should surface "address already in use" clearly.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
