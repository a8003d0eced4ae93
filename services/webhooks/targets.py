"""Which addresses a webhook may reach (SSRF protection).

An endpoint's URL is checked when it is registered and again before every attempt, on the addresses
its name resolves to then: a name that later resolves to an internal address (DNS rebinding) is refused
at send time, and the attempt connects to the very address that was checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services answer on link-local addresses (169.254.169.254, fd00:ec2::254) that the
# private/link-local checks already cover; this one is named because it is the classic target.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class TargetRefused(ValueError):
    """A URL or address a webhook must not reach; the message says why."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allow_loopback: bool = False
    require_https: bool = True


def refusal_of_address(address: IPAddress, policy: TargetPolicy) -> str | None:
    """Why a webhook must not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal_of_address(address.ipv4_mapped, policy)
    if address.is_loopback:
        return None if policy.allow_loopback else f"{address} is a loopback address"
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private or address.is_reserved or address.is_multicast or address.is_unspecified:
        return f"{address} is a private or reserved address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_target(url: str, policy: TargetPolicy) -> Target:
    """The scheme, host and port of a webhook URL, or TargetRefused saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with https:// (or http:// where allowed)")
    if parts.scheme == "http" and policy.require_https:
        raise TargetRefused("the URL must use https")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("the URL must not carry credentials")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to now (a literal address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"{host} does not resolve: {exc.strerror}") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def vetted_address(url: str, policy: TargetPolicy) -> tuple[Target, IPAddress]:
    """Resolve the URL's host and check every address; returns the target and the address to connect to.

    All addresses must pass, not just the one used: otherwise a name with one public and one internal
    address could be used to probe the internal one."""
    target = parse_target(url, policy)
    addresses = await resolve(target.host, target.port)
    if not addresses:
        raise TargetRefused(f"{target.host} resolves to no address")
    for address in addresses:
        if (reason := refusal_of_address(address, policy)) is not None:
            raise TargetRefused(f"{target.host} resolves to a refused address: {reason}")
    return target, addresses[0]
