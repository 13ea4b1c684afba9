"""Where a callback may go, and how its URL is shown.

A callback carries a transcript, so it must not be a way into the cluster: loopback,
link-local (cloud metadata), private, multicast, reserved and unspecified addresses, and
cluster-internal names (``*.svc``, ``*.cluster.local``, ``*.internal``, ``localhost``),
are refused unless ``callback_allowed_networks`` names the host or its network. The
request is checked as written when it arrives (400), and again after name resolution
each time it is sent: the sender connects to the address it checked, so a name that
resolves elsewhere the second time (DNS rebinding) gains nothing.

:func:`redact` is how a callback URL appears in logs and on the shared volume: no
user or password, no query (where tokens go).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> the addresses it resolves to.
Resolver = Callable[[str, int], list[str]]

INTERNAL_SUFFIXES = (".svc", ".cluster.local", ".internal", ".local", ".localhost")
INTERNAL_NAMES = frozenset({"localhost", "metadata", "kubernetes"})
#: What stands for the parts :func:`redact` takes out.
REDACTED = "REDACTED"


class RefusedTargetError(ValueError):
    """A callback URL that may not be used (the message says why, without secrets)."""


def redact(url: str) -> str:
    """``url`` without its user, password and query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"<a malformed URL, {REDACTED}>"
    netloc = (f"{REDACTED}@" if "@" in parts.netloc else "") + host + port
    query = REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def is_redacted(url: str) -> bool:
    """Whether ``url`` lost something to :func:`redact` (it cannot be delivered to)."""
    return REDACTED in url


def has_secrets(url: str) -> bool:
    return redact(url) != url


def system_resolver(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL with its host replaced by the checked address, and the
    name to send as ``Host`` and as the TLS server name."""

    url: str
    host_header: str
    server_name: str


class TargetPolicy:
    def __init__(self, allowed: list[str], resolve: Resolver = system_resolver) -> None:
        self.networks: list[Network] = []
        self.names: set[str] = set()
        for entry in (item.strip() for item in allowed):
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry.lower().rstrip("."))
        self.resolve = resolve

    def _address_allowed(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.networks):
            return True
        return address.is_global and not address.is_multicast

    def _name_internal(self, host: str) -> bool:
        return host in INTERNAL_NAMES or host.endswith(INTERNAL_SUFFIXES)

    def _parts(self, url: str) -> tuple[str, str, int]:
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower().rstrip(".")
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise RefusedTargetError("the callback URL is malformed") from exc
        if parts.scheme not in ("http", "https") or not host:
            raise RefusedTargetError("the callback URL needs http:// or https:// and a host")
        return parts.scheme, host, port

    def check_written(self, url: str) -> None:
        """The checks that need no name resolution (when a request arrives)."""
        _, host, _ = self._parts(url)
        if host in self.names:
            return
        try:
            # A number alone is an IPv4 address to the resolver (2130706433 is 127.0.0.1).
            address = ipaddress.ip_address(int(host) if host.isdigit() else host)
        except ValueError:
            if self._name_internal(host):
                raise RefusedTargetError(f"callbacks to {host} are refused (cluster-internal or "
                                    "local; see callback_allowed_networks)") from None  # fmt: skip
            return
        if not self._address_allowed(address):
            raise RefusedTargetError(f"callbacks to {address} are refused (loopback, link-local or "
                                "private; see callback_allowed_networks)")  # fmt: skip

    def target(self, url: str) -> Target:
        """Where to send ``url`` now: resolved, every address checked, the first used."""
        self.check_written(url)
        scheme, host, port = self._parts(url)
        try:
            addresses = self.resolve(host, port)
        except OSError as exc:
            raise RefusedTargetError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise RefusedTargetError(f"{host} resolves to nothing")
        if host not in self.names:
            for text in addresses:
                if not self._address_allowed(ipaddress.ip_address(text.split("%")[0])):
                    raise RefusedTargetError(f"{host} resolves to {text}, which callbacks may not "
                                        "reach (see callback_allowed_networks)")  # fmt: skip
        chosen = addresses[0]
        parts = urlsplit(url)
        literal = f"[{chosen}]" if ":" in chosen else chosen
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (f"{userinfo}@" if userinfo else "") + f"{literal}:{port}"
        default_port = port == (443 if scheme == "https" else 80)
        shown_host = f"[{host}]" if ":" in host else host
        host_header = shown_host if default_port else f"{shown_host}:{port}"
        pinned = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
        return Target(pinned, host_header, host)
