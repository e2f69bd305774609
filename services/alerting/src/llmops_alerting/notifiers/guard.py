"""SSRF guard: notifier requests connect only to public addresses, checked on the address actually connected.

A URL's host is resolved here, every address it resolves to is checked, and the connection is opened to one of
those checked addresses (never resolved a second time: no DNS rebinding between check and connect). TLS still
verifies the certificate against the URL's host name. Private, loopback, link-local, multicast, reserved and
unspecified addresses are refused unless a configured network allows them (a lab's receiver, the tests' local
receivers). Redirects are not followed and proxies from the environment are ignored, so neither can lead the
request elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
import httpcore
import httpx

__all__ = ["AddressPolicy", "BlockedAddress", "guarded_client"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(httpcore.ConnectError):
    """The host resolved to an address notifiers may not reach (a ``ConnectError``: httpx maps it)."""


class AddressPolicy:
    """Which addresses a notifier may connect to: public ones, and those of ``allowed`` networks."""

    def __init__(self, allowed: Iterable[Network] = ()) -> None:
        self.allowed = tuple(allowed)

    def permits(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allowed):
            return True
        return address.is_global and not (address.is_multicast or address.is_reserved)

    def check(self, host: str, addresses: Sequence[str]) -> str:
        """The first address to connect to; :class:`BlockedAddress` when any of them is not permitted."""
        if not addresses:
            raise BlockedAddress(f"{host} resolved to no address")
        for text in addresses:
            if not self.permits(ipaddress.ip_address(text.split("%", 1)[0])):
                raise BlockedAddress(f"{host} resolves to {text}, a non-public address notifiers may not reach")
        return addresses[0]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking the host before it connects to the checked address."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        address = self._policy.check(host, [str(info[4][0]) for info in infos])
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("notifiers do not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(policy: AddressPolicy, timeout_s: float, max_connections: int = 100) -> httpx.AsyncClient:
    """An httpx client whose every connection goes through the policy (no redirects, no environment proxies)."""
    transport = httpx.AsyncHTTPTransport()
    # httpx's transport takes no network backend; its pool does. The pool is replaced by an identical one with
    # the guarded backend (the TLS context is httpx's default: certificates verified against the URL's host).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl.create_default_context(),
        max_connections=max_connections,
        network_backend=_GuardedBackend(policy),
    )
    return httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False
    )
