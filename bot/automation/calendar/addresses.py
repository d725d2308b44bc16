"""Which calendar addresses this bot may fetch, checked where the connection is made.

A calendar address is input the bot fetches for someone, so it is treated as hostile: only
http(s) (and webcal, which is https by another name), and never an address on this machine, a
private or otherwise non-public network, unless the admin allows it. The check sits in the
resolver the HTTP connector uses (`VettedResolver`): the addresses it vets are the very ones the
connector then connects to, so a name that resolves to a public address for a check and to a
private one a moment later (DNS rebinding) gains nothing. Literal IP hosts never reach a
resolver, so `AddressPolicy.check_host` is called on every URL, the first and each redirect.
Cloud metadata addresses are refused even when private networks are allowed: no calendar lives
there, and they hold the machine's own credentials.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from dataclasses import dataclass
from typing import Final

import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bot.automation.calendar.errors import FeedAddressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, Google Cloud, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
# NAT64 embeds an IPv4 address in the low 32 bits; a gateway may translate it to a private one.
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
SCHEMES: Final = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What the admin allows: `allow_private_networks` opens every non-public address (for
    tests and on-premises calendars); `allowed_networks` opens only the networks named."""

    allow_private_networks: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` may not be fetched (e.g. "an address on a private network"), or None."""
        candidates = _embedded_addresses(address)
        if any(candidate in METADATA_ADDRESSES for candidate in candidates):
            return "a cloud metadata address"
        if self.allow_private_networks:
            return None
        if any(address in network for network in self.allowed_networks):
            return None
        for candidate in candidates:
            reason = _non_public_reason(candidate)
            if reason is not None:
                return reason
        return None

    def check_address(self, address: IPAddress) -> None:
        """Raise FeedAddressRefused if `address` may not be fetched."""
        reason = self.refusal(address)
        if reason is not None:
            raise FeedAddressRefused(
                f"the calendar address points to {address.compressed}, {reason}, which this bot "
                "may not fetch: use the calendar's public address"
            )

    def check_host(self, host: str) -> None:
        """Check a URL's host when it is a literal IP address (names are checked on resolving)."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        self.check_address(address)


def _embedded_addresses(address: IPAddress) -> list[IPAddress]:
    """Where the packets for `address` may end up: an IPv4-mapped or NAT64 address is its IPv4
    address; a 6to4 or Teredo address is itself and the IPv4 addresses it carries."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    found: list[IPAddress] = [address]
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def _non_public_reason(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "an address of this machine (loopback)"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "an address on a private network"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not public"
    return None


class VettedResolver(AbstractResolver):
    """A resolver that answers only with addresses the policy allows, so the connector using it
    connects to nothing else. Any refused address refuses the whole name: a calendar host has no
    reason to resolve to a private address at all."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self._policy.check_address(ipaddress.ip_address(result["host"]))
        return results

    async def close(self) -> None:
        await self._inner.close()


class CalendarUrl:
    """A calendar address, checked for shape, with any `user:password@` held apart.

    Like a token, it never shows itself: `repr` and `str` name the host alone. The address to
    store (encrypted) is `get_secret_value()`.
    """

    __slots__ = ("_authorization", "_raw", "_url")

    def __init__(self, raw: str) -> None:
        text = raw.strip()
        try:
            url = yarl.URL(text)
        except (ValueError, TypeError):
            raise FeedAddressRefused(
                "that is not a web address: give the calendar's ICS link (https://...)"
            ) from None
        scheme = SCHEMES.get(url.scheme.lower())
        if scheme is None:
            raise FeedAddressRefused(
                "only http:// and https:// calendar addresses can be fetched: "
                "give the calendar's ICS link"
            )
        if not url.host:
            raise FeedAddressRefused(
                "that address has no host name: give the calendar's full ICS link"
            )
        self._raw = text
        self._authorization = _basic_authorization(url)
        self._url = url.with_scheme(scheme).with_user(None).with_fragment(None)

    @classmethod
    def _from_parts(cls, url: yarl.URL, authorization: str | None) -> CalendarUrl:
        made = cls.__new__(cls)
        made._raw = str(url)
        made._url = url
        made._authorization = authorization
        return made

    @property
    def host(self) -> str:
        return self._url.host or ""

    @property
    def request_url(self) -> yarl.URL:
        """The URL without credentials (they travel in an Authorization header)."""
        return self._url

    @property
    def has_credentials(self) -> bool:
        return self._authorization is not None

    def request_headers(self) -> dict[str, str]:
        """The Authorization header for the address's credentials, if it has any."""
        return {"Authorization": self._authorization} if self._authorization else {}

    def get_secret_value(self) -> str:
        """The address as given (with credentials): only for encrypting and storing it."""
        return self._raw

    def redirected(self, location: str) -> CalendarUrl:
        """The address a redirect leads to; credentials go along only to the same origin."""
        try:
            target = self._url.join(yarl.URL(location))
        except (ValueError, TypeError):
            raise FeedAddressRefused(
                "the calendar server redirected to an address that is not valid"
            ) from None
        if target.scheme not in ("http", "https") or not target.host:
            raise FeedAddressRefused(
                "the calendar server redirected to an address that is not http(s), "
                "which this bot may not fetch"
            )
        if target.user is not None or target.password is not None:
            authorization = _basic_authorization(target)
        elif target.origin() == self._url.origin():
            authorization = self._authorization
        else:
            authorization = None
        clean = target.with_user(None).with_fragment(None)
        return CalendarUrl._from_parts(clean, authorization)

    def __repr__(self) -> str:
        return f"CalendarUrl(host={self.host!r})"

    def __str__(self) -> str:
        return f"a calendar at {self.host}"


def _basic_authorization(url: yarl.URL) -> str | None:
    """HTTP Basic credentials from `user:password@` (RFC 7617, UTF-8), or None."""
    if url.user is None and url.password is None:
        return None
    pair = f"{url.user or ''}:{url.password or ''}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")
