"""Which hosts are this machine's own: plain http is accepted only towards them (the local
server's app, media and checkout pages), never towards anything a network can reach."""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """`localhost`, `*.localhost` (RFC 6761: always loopback) or a loopback IP address."""
    host = (host or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
