"""The one door for outbound HTTP: an SSRF guard, timeouts and a size limit.

Every target host is resolved here and each of its addresses checked: private, loopback,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses
are refused unless the host is on the OUTBOUND_ALLOW_HOSTS list. The connection then goes to
the address that was checked (the URL keeps its host for the Host header and TLS SNI), so a
DNS answer that changes between check and connect (DNS rebinding) cannot redirect it.
Redirects are followed by hand, each target checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx2

from app.errors import DomainError
from app.settings import Settings

MAX_REDIRECTS = 5
USER_AGENT = "pricing-platform/0.1 (documentation fetcher)"


class OutboundRefused(DomainError):
    """The target may not be fetched (its address, scheme, size or answer)."""

    code = "OUTBOUND_REFUSED"


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise OutboundRefused(f"cannot resolve {host}: {error}") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def checked_address(url: str, settings: Settings) -> tuple[str, IPAddress]:
    """The URL's host and the address to connect to, or OutboundRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(f"only http(s) URLs can be fetched, not {url!r}")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if not addresses:
        raise OutboundRefused(f"{host} has no address")
    allowed = host.lower() in {h.lower() for h in settings.outbound_allow_hosts}
    refused = [a for a in addresses if not is_public(a)]
    if refused and not allowed:
        raise OutboundRefused(f"{host} resolves to a non-public address ({refused[0]}); refused")
    return host, addresses[0]


def pinned(url: str, address: IPAddress) -> tuple[str, dict[str, str]]:
    """The URL with its host replaced by the checked address, and the request extensions
    that keep TLS verifying the original host name."""
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), extensions


async def fetch(url: str, settings: Settings, max_bytes: int | None = None) -> Fetched:
    """GET `url` through the guard; refuses bodies above `max_bytes` (MAX_FILE_SIZE_MB)."""
    limit = max_bytes or settings.max_file_size_mb * 1024 * 1024
    timeout = httpx2.Timeout(settings.outbound_timeout_seconds)
    async with httpx2.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as c:
        try:
            return await asyncio.wait_for(
                _follow(c, url, settings, limit), settings.outbound_timeout_seconds * 2
            )
        except (TimeoutError, httpx2.TimeoutException):
            raise OutboundRefused(f"{url} did not answer in time") from None
        except httpx2.HTTPError as error:
            raise OutboundRefused(f"fetching {url} failed: {error}") from None


async def _follow(client: httpx2.AsyncClient, url: str, settings: Settings, limit: int) -> Fetched:
    for _ in range(MAX_REDIRECTS + 1):
        host, address = await checked_address(url, settings)
        target, extensions = pinned(url, address)
        headers = {"host": urlsplit(url).netloc, "user-agent": USER_AGENT}
        request = client.build_request("GET", target, headers=headers, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect:
                location = response.headers.get("location", "")
                url = urljoin(url, location)
                continue
            if response.status_code >= 400:
                raise OutboundRefused(f"{host} answered {response.status_code} for {url}")
            body = await _read(response, limit, url)
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            return Fetched(url, response.status_code, content_type.lower(), body)
        finally:
            await response.aclose()
    raise OutboundRefused(f"more than {MAX_REDIRECTS} redirects from {url}")


async def _read(response: httpx2.Response, limit: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise OutboundRefused(f"{url} is larger than {limit} bytes")
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > limit:
            raise OutboundRefused(f"{url} is larger than {limit} bytes")
    return bytes(body)
