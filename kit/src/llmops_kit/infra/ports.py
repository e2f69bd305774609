"""Free TCP ports for locally started services."""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000
_ATTEMPTS = 64


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago, chosen below the kernel's ephemeral range.

    There is an unavoidable window between this call and the service binding the port; callers
    that start a process on it should surface "address already in use" clearly. A port the OS picks
    for a bind to 0 is an ephemeral one, which any outgoing connection (a Kafka client's, say) may take
    during that window: ports below the ephemeral range are only ever taken by an explicit bind, so the
    window is far less likely to bite. Falls back to the OS's pick where the range is unknown or full.
    """
    low = _ephemeral_low()
    for _ in range(_ATTEMPTS if low > LOWEST_PORT else 0):
        port = random.randrange(LOWEST_PORT, low)  # spreads picks; not security
        if _bindable(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
