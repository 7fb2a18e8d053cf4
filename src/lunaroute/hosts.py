"""Which `Host` header values a listener answers: the defence against DNS rebinding, pure.

A web page can make a browser send requests to `127.0.0.1:8081` under a name the attacker controls (DNS
rebinding); the browser then lets the page read the answers. The browser still sends the attacker's name as
`Host`, so a listener that only answers the names it is known by is out of reach.

- A listener on a loopback address answers `localhost`, `127.0.0.1`, `[::1]` and its own address, on any port.
- A listener on a wildcard address (`0.0.0.0`, `::`) answers those loopback names too.
- `allowed_hosts` adds names (a leading `*.` matches any subdomain); `*` alone allows any `Host`.
- A listener on any other address, or a wildcard one, with no `allowed_hosts`, answers any `Host` (a team
  gateway behind a load balancer has names this process cannot know).
- A request without `Host` (HTTP/1.0) is answered: browsers always send one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

__all__ = ["HOST_PATTERN", "HostCheck"]

HOST_PATTERN = re.compile(
    r"\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*"
)
"""What an `allowed_hosts` entry may be: `*`, a name (optionally `*.`-prefixed), or an IP address literal."""
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _canonical(name: str) -> str:
    """Lower case, no trailing dot, IPv6 literals in brackets and compressed."""
    name = name.lower().rstrip(".")
    address = _address(name) if ":" in name else None
    return f"[{address.compressed}]" if address is not None else name


def _hostname(header: str) -> str:
    """The name part of a `Host` header value (`[::1]:8081` → `[::1]`, `Example.COM:80` → `example.com`)."""
    if header.startswith("["):
        end = header.find("]")
        return _canonical(header[: end + 1] if end > 0 else header)
    return _canonical(header.rsplit(":", 1)[0] if header.count(":") == 1 else header)


class HostCheck:
    """The `Host` values one listener answers (see the module docstring); `allows(None)` is True."""

    __slots__ = ("_any", "_names", "_suffixes")

    def __init__(self, listen_host: str, allowed_hosts: Sequence[str] = ()) -> None:
        listen = _canonical(listen_host)
        address = _address(listen)
        loopback = listen == "localhost" or (address is not None and address.is_loopback)
        wildcard = listen in _WILDCARDS
        names = {_canonical(a) for a in allowed_hosts}
        self._any = "*" in names or (not names and not loopback)
        self._suffixes = tuple(n[1:] for n in names if n.startswith("*."))
        if loopback or wildcard:
            names |= _LOOPBACK_NAMES
        if not wildcard:
            names.add(listen)
        self._names = frozenset(names)

    def allows(self, host_header: str | None) -> bool:
        if self._any or host_header is None:
            return True
        name = _hostname(host_header)
        return name in self._names or (bool(self._suffixes) and name.endswith(self._suffixes))
