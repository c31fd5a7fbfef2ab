"""The bridge from :class:`~openprotocols.network.Network` to niquests' resolver interface.

niquests (through urllib3-future) asks a resolver object for socket addresses. This one
answers from the network's overrides and its dnspython resolver, so HTTP goes where IMAP
and SMTP go. Imported only when an HTTP session is built.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from urllib3.contrib.resolver.protocols import BaseResolver, ProtocolResolver

from .errors import ConnectionError

if TYPE_CHECKING:
    from .network import Network

_AddrInfo = tuple[
    socket.AddressFamily,
    socket.SocketKind,
    int,
    str,
    tuple[str, int] | tuple[str, int, int, int],
]


class NetworkResolver(BaseResolver):
    """Resolve host names for niquests through a :class:`Network`."""

    protocol = ProtocolResolver.CUSTOM
    implementation = "openprotocols"

    def __init__(self, network: Network) -> None:
        super().__init__(None, None)
        self._network = network

    def recycle(self) -> BaseResolver:
        return self

    def close(self) -> None:
        """Nothing to release: the network holds no connections."""

    def is_available(self) -> bool:
        return True

    def getaddrinfo(  # type: ignore[override]  # urllib3-future's signature is wider
        self,
        host: bytes | str | None,
        port: str | int | None,
        family: socket.AddressFamily,
        type: socket.SocketKind,
        proto: int = 0,
        flags: int = 0,
        *,
        quic_upgrade_via_dns_rr: bool = False,
    ) -> list[_AddrInfo]:
        name = host.decode("ascii") if isinstance(host, bytes) else (host or "localhost")
        number = int(port or 0)
        try:
            addresses = self._network.resolve(name, number)
        except ConnectionError as exc:
            raise socket.gaierror(str(exc)) from exc
        result: list[_AddrInfo] = []
        for address, to_port in addresses:
            v6 = ":" in address
            if family not in (socket.AF_UNSPEC, socket.AF_INET6 if v6 else socket.AF_INET):
                continue
            kind = type or socket.SOCK_STREAM
            proto_number = proto or (
                socket.IPPROTO_UDP if kind == socket.SOCK_DGRAM else socket.IPPROTO_TCP
            )
            sockaddr: tuple[str, int] | tuple[str, int, int, int] = (
                (address, to_port, 0, 0) if v6 else (address, to_port)
            )
            result.append(
                (socket.AF_INET6 if v6 else socket.AF_INET, kind, proto_number, "", sockaddr)
            )
        if not result:
            raise socket.gaierror(f"no address of the requested family for {name}")
        return result
