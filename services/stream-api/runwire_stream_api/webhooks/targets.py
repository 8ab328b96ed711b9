"""Which URLs a webhook may call: http(s) to public addresses only, unless the operator allows private ones.

Checked at registration and again before every attempt (DNS answers change), so a webhook cannot
be pointed at the inside of the network runwire runs in (metadata services, admin ports).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final
from urllib.parse import urlsplit

MAX_URL_LENGTH: Final = 2048
NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(ValueError):
    """The URL is malformed or reaches an address webhooks may not call; the message says which."""


def check_url(url: str) -> tuple[str, int]:
    """The host and port of an absolute http(s) URL, or TargetRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("must be an http:// or https:// URL")
    host = parts.hostname
    if not host:
        raise TargetRefused("must name a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not carry credentials; authenticate the sender by its signature")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("must not contain whitespace or control characters")
    return host, port or (443 if parts.scheme == "https" else 80)


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local, reserved...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address are judged by that address.
        if ip.ipv4_mapped is not None:
            return is_public(str(ip.ipv4_mapped))
        if ip in NAT64:
            return is_public(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        if ip.sixtofour is not None:
            return is_public(str(ip.sixtofour))
        if ip.teredo is not None:
            return is_public(str(ip.teredo[1]))
    return ip.is_global and not ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is malformed, does not resolve, or resolves to any non-public address."""
    host, port = check_url(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"host {host!r} does not resolve") from exc
    if allow_private:
        return
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if not is_public(address):
            raise TargetRefused(
                f"host {host!r} resolves to {address}, a private, loopback, link-local or reserved "
                "address (allowed only with RUNWIRE_WEBHOOKS_ALLOW_PRIVATE=1)"
            )
