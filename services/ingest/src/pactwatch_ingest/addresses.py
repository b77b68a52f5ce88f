"""The private-address guard: which addresses a fetch may connect to (server-side request
forgery defence).

A feed or page URL comes from a user, and every redirect hop from a server we do not
control, so each one could point at the metadata service (169.254.169.254), the Redis next
door or a router's admin page. Only globally routable unicast addresses are allowed, unless
a setting allows more. IPv6 forms that embed an IPv4 address (mapped ``::ffff:a.b.c.d``,
6to4, NAT64) are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TEREDO = ipaddress.IPv6Network("2001::/32")


class AddressRefusedError(Exception):
    """The guard refused a destination; nothing was sent to it."""

    def __init__(self, host: str, address: str | None, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        where = f"{host} ({address})" if address and address != host else host
        super().__init__(f"refused to fetch from {where}: {reason}")


@dataclass(frozen=True)
class AddressPolicy:
    """What may be fetched: public addresses, plus ``allow_networks``, plus (when
    ``allow_private``) every non-multicast address."""

    allow_private: bool = False
    allow_networks: tuple[Network, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be contacted, or None when it may."""
        judged = embedded_ipv4(address) or address
        if any(address in net or judged in net for net in self.allow_networks):
            return None
        if judged.is_multicast:
            return "multicast address"
        if self.allow_private:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address in _TEREDO:
            return "Teredo address (hides the IPv4 destination)"
        for reason, flagged in (
            ("unspecified address", judged.is_unspecified),
            ("loopback address", judged.is_loopback),
            ("link-local address", judged.is_link_local),
            ("private address", judged.is_private),
            ("reserved address", judged.is_reserved),
            ("not a globally routable address", not judged.is_global),
        ):
            if flagged:
                return reason
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets and zone allowed), else None."""
    candidate = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in resolver order (an IP literal is itself)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise LookupError(f"cannot resolve {host}: {exc}") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise LookupError(f"cannot resolve {host}: no addresses")
    return found


async def checked_addresses(host: str, port: int, policy: AddressPolicy) -> Sequence[IPAddress]:
    """Resolve ``host`` and return its addresses if EVERY one is allowed; else raise
    :class:`AddressRefusedError` (a name that also resolves to a private address is refused)."""
    addresses = await resolve(host, port)
    for address in addresses:
        reason = policy.refusal(address)
        if reason:
            raise AddressRefusedError(host, str(address), reason)
    return addresses
