"""Who a tailnet peer is, from tailscaled's LocalAPI (``GET /localapi/v0/whois?addr=IP:PORT``).

tailscaled answers on its Unix socket with ``{"Node": {"Name", "Tags", …}, "UserProfile":
{"LoginName", …}, "CapMap": …}``. A tagged node is its tags (like setec); otherwise the
user's login name.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from legerd.access import Principal

DEFAULT_SOCKET = "/var/run/tailscale/tailscaled.sock"


class WhoIsError(Exception):
    pass


async def whois(socket_path: str, addr: str, timeout: float = 2.0) -> Principal:
    """The principal for a remote ``ip:port``; raises :class:`WhoIsError` when unknown."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(socket_path), timeout)
    except (OSError, TimeoutError) as exc:
        raise WhoIsError(f"tailscaled LocalAPI at {socket_path} unreachable: {exc}") from None
    try:
        request = (
            f"GET /localapi/v0/whois?addr={quote(addr)} HTTP/1.1\r\n"
            "Host: local-tailscaled.sock\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode())
        raw = await asyncio.wait_for(reader.read(), timeout)
    except (OSError, TimeoutError) as exc:
        raise WhoIsError(f"tailscaled LocalAPI WhoIs failed: {exc}") from None
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1:2]
    if status != [b"200"]:
        raise WhoIsError(f"WhoIs {addr}: tailscaled answered {status[0:1]!r}")
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    try:
        doc = json.loads(body)
        node = doc.get("Node") or {}
        profile = doc.get("UserProfile") or {}
    except (ValueError, AttributeError):
        raise WhoIsError("WhoIs answer is not the documented JSON") from None
    tags = tuple(t for t in node.get("Tags") or [] if isinstance(t, str))
    if tags:
        return Principal("tailscale", tags=tags)
    login = profile.get("LoginName")
    if isinstance(login, str) and login:
        return Principal("tailscale", user=login)
    raise WhoIsError(f"WhoIs {addr}: no user or tags")


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)
