"""Where the chat page listens: the host and port checked before anything loads, and who can reach it.

`rag serve --host 0.0.0.0` answers anyone on the network; the warning names the addresses it is reachable at,
found with the socket module alone (no `ip` or `ifconfig`).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import struct
import sys
from dataclasses import dataclass

from rag.errors import ServeError

_SIOCGIFADDR = 0x8915  # Linux ioctl: the IPv4 address of a named interface


@dataclass(frozen=True)
class ListenAddress:
    """A host and port the page can bind, and the addresses a browser can use to reach it."""

    host: str
    port: int
    reachable: tuple[str, ...]  # IP addresses, the loopback ones last
    loopback: bool  # only this machine can connect

    @property
    def outside(self) -> tuple[str, ...]:
        """Where another machine reaches the page: the host as given when it is a name, then the addresses."""
        if self.loopback:
            return ()
        named = [self.host] if self.host and not _is_wildcard(self.host) and self.host not in self.reachable else []
        return tuple(named + [a for a in self.reachable if not _is_loopback(a)])

    @property
    def page_url(self) -> str:
        """The URL to print: the host as given, or for a wildcard the first address another machine can use."""
        host = self.host if self.host and not _is_wildcard(self.host) else (self.outside or self.reachable)[0]
        return page_url(host, self.port)


def page_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _is_wildcard(host: str) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_unspecified
    return host == ""


def _is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.split("%")[0]).is_loopback


def _resolve(host: str, port: int) -> list[tuple[socket.AddressFamily, str]]:
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise ServeError(f"cannot listen on host {host!r}: {reason}; give an address of this machine such as "
                         "127.0.0.1 (this machine only) or 0.0.0.0 (every network)") from None
    return list(dict.fromkeys((family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos))


def _check_free(family: socket.AddressFamily, address: str, port: int, host: str) -> None:
    """Bind and release the port as the server will (SO_REUSEADDR, as uvicorn sets it), for a precise message."""
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            raise ServeError(_bind_failure(host, port, exc)) from None


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    where = page_url(host, port).removeprefix("http://").rstrip("/")
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is already in use; stop the other server or pick another --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host} is not an address of this machine"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: not allowed (ports below 1024 need privileges); pick another --port"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def _interface_addresses() -> set[str]:
    """This machine's addresses: its host name's, each interface's IPv4 address (Linux), and the address of
    the default route (a UDP socket is connected, which sends nothing)."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        found |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    if sys.platform.startswith("linux"):
        import fcntl

        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, name in socket.if_nameindex():
                with contextlib.suppress(OSError):
                    request = struct.pack("256s", name.encode()[:15])
                    found.add(socket.inet_ntoa(fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)[20:24]))
    for family, target in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):  # documentation nets
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((target, 9))
            found.add(str(probe.getsockname()[0]))
    return found


def listen_address(host: str, port: int) -> ListenAddress:
    """Check that the page can listen on host:port, and find who could reach it there. Raises ServeError with
    one line when the host does not resolve or the port is taken or refused."""
    if not 1 <= port <= 65535:
        raise ServeError(f"cannot listen on port {port}: ports run from 1 to 65535")
    resolved = _resolve(host, port)
    family, first = resolved[0]
    _check_free(family, first, port, host)
    addresses = {address for _, address in resolved}
    if any(_is_wildcard(address) for address in addresses):
        families = {family for family, _ in resolved}
        # An IPv6 wildcard socket also takes IPv4 connections (Linux's default dual stack).
        addresses = {a for a in _interface_addresses()
                     if socket.AF_INET6 in families or ipaddress.ip_address(a.split("%")[0]).version == 4}
        addresses |= {"127.0.0.1"} | ({"::1"} if socket.AF_INET6 in families else set())
    ordered = sorted(addresses, key=lambda a: (_is_loopback(a), ":" in a, a))
    return ListenAddress(host, port, tuple(ordered), loopback=all(_is_loopback(a) for a in ordered))


def exposure_warning(address: ListenAddress, has_login: bool) -> str:
    """What `rag serve` says before it listens anywhere but this machine."""
    urls = ", ".join(page_url(host, address.port) for host in address.outside)
    who = ("anyone who reaches it must log in" if has_login
           else "no login is set, so anyone who reaches it can ask questions and read every indexed release "
                "(add --auth USER:PASSWORD, RAG_AUTH or --auth-file, or listen on 127.0.0.1)")
    return f"warning: the chat page listens on {address.host or 'every address'}, reachable at {urls}; {who}"
