"""Who a tailnet peer is, as legerd's :class:`Principal`: tailscaled's WhoIs (the shared client in
:mod:`leger_core.tailscale_whois`) mapped the way setec does. A tagged node is its tags;
otherwise the user's login name.
"""

from __future__ import annotations

from leger_core.tailscale_whois import DEFAULT_SOCKET, WhoIsError
from leger_core.tailscale_whois import whois as _whois
from legerd.access import Principal

__all__ = ["DEFAULT_SOCKET", "WhoIsError", "whois"]


async def whois(socket_path: str, addr: str, timeout: float = 2.0) -> Principal:
    """The principal for a remote ``ip:port``; raises :class:`WhoIsError` when unknown."""
    who = await _whois(socket_path, addr, timeout)
    if who.tagged:
        return Principal("tailscale", tags=who.tags)
    if who.login_name:
        return Principal("tailscale", user=who.login_name)
    raise WhoIsError(f"WhoIs {addr}: no user or tags")
