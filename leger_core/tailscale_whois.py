"""Who a tailnet peer is, from the local tailscaled's LocalAPI: the one client of it that legerd
and leger-server share (standard library only, asyncio).

``GET /localapi/v0/whois?addr=IP:PORT`` over tailscaled's Unix socket answers with tailscale's
``apitype.WhoIsResponse``: ``{"Node": {"ID", "StableID", "Name", "Tags", "Hostinfo", …},
"UserProfile": {"ID", "LoginName", "DisplayName"}, "CapMap": {…}}``, or 404 when no node has
that address. ``GET /localapi/v0/status`` gives tailscaled's own view (``CurrentTailnet``).

Nothing here decides what a caller may do: callers map a :class:`WhoIs` to their own idea of
a principal (legerd: ``tailscale:<login>`` or tags; leger-server: an account).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from leger_core.unixhttp import MAX_HEAD, MAX_RESPONSE, BadResponse, parse_response

DEFAULT_SOCKET = "/var/run/tailscale/tailscaled.sock"

__all__ = [
    "DEFAULT_SOCKET",
    "WhoIs",
    "WhoIsError",
    "WhoIsUnknown",
    "format_addr",
    "local_status",
    "whois",
]


class WhoIsError(Exception):
    """tailscaled could not be asked, or answered something other than the documented JSON."""


class WhoIsUnknown(WhoIsError):
    """tailscaled knows no node at that address (404): the peer is not on the tailnet."""


@dataclass(frozen=True)
class WhoIs:
    """The parts of a WhoIs answer callers use. ``user_id`` is ``UserProfile.ID`` as text (the
    same number ``tailscale status --json`` calls ``UserID``); ``node_id`` is ``Node.StableID``
    (``Self.ID`` in status), falling back to the numeric ``Node.ID``."""

    node_id: str
    node_name: str  # the MagicDNS name, "host.tailXXXX.ts.net" (no trailing dot)
    hostname: str
    tags: tuple[str, ...]
    user_id: str
    login_name: str
    display_name: str
    cap_map: dict[str, Any] = field(default_factory=dict)

    @property
    def tagged(self) -> bool:
        """A tagged node acts for its tags, not for a person (its UserProfile is a placeholder)."""
        return bool(self.tags)

    @property
    def dns_suffix(self) -> str:
        """The tailnet's MagicDNS suffix, from the node's name ("" when the name has none)."""
        _, _, suffix = self.node_name.partition(".")
        return suffix

    @classmethod
    def from_json(cls, doc: Any) -> WhoIs:
        if not isinstance(doc, dict):
            raise WhoIsError("WhoIs answer is not the documented JSON")
        node, profile = doc.get("Node"), doc.get("UserProfile")
        if not isinstance(node, dict) or not isinstance(profile, dict):
            raise WhoIsError("WhoIs answer lacks Node or UserProfile")
        hostinfo = node.get("Hostinfo")
        if not isinstance(hostinfo, dict):
            hostinfo = {}
        name = _text(node.get("Name")).rstrip(".")
        cap_map = doc.get("CapMap")
        return cls(
            node_id=_text(node.get("StableID")) or _text(node.get("ID")),
            node_name=name,
            hostname=_text(hostinfo.get("Hostname")) or _text(node.get("ComputedName")),
            tags=tuple(t for t in node.get("Tags") or [] if isinstance(t, str)),
            user_id=_text(profile.get("ID")),
            login_name=_text(profile.get("LoginName")),
            display_name=_text(profile.get("DisplayName")),
            cap_map=cap_map if isinstance(cap_map, dict) else {},
        )


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    return str(value) if isinstance(value, (str, int)) else ""


def format_addr(host: str, port: int) -> str:
    """``ip:port`` as WhoIs wants it (``[v6]:port`` for IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def whois(socket_path: str, addr: str, timeout: float = 2.0) -> WhoIs:
    """Who is at ``addr`` (``ip:port``); :class:`WhoIsUnknown` when tailscaled knows no node
    there, :class:`WhoIsError` when it cannot be asked."""
    status, body = await _get(socket_path, f"/localapi/v0/whois?addr={quote(addr)}", timeout)
    if status == 404:
        raise WhoIsUnknown(f"WhoIs {addr}: not a tailnet peer")
    if status != 200:
        raise WhoIsError(f"WhoIs {addr}: tailscaled answered {status}")
    return WhoIs.from_json(_json(body))


async def local_status(
    socket_path: str, timeout: float = 2.0, *, peers: bool = True
) -> dict[str, Any]:
    """tailscaled's own ``/localapi/v0/status`` (what ``tailscale status --json`` prints),
    as a dict; ``peers=False`` leaves the peer list out."""
    target = "/localapi/v0/status" + ("" if peers else "?peers=false")
    status, body = await _get(socket_path, target, timeout)
    if status != 200:
        raise WhoIsError(f"status: tailscaled answered {status}")
    doc = _json(body)
    if not isinstance(doc, dict):
        raise WhoIsError("status answer is not the documented JSON")
    return doc


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise WhoIsError("tailscaled's answer is not JSON") from None


async def _get(socket_path: str, target: str, timeout: float) -> tuple[int, bytes]:
    """One HTTP/1.1 GET over the Unix socket (Connection: close, so the answer ends at EOF)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(socket_path), timeout)
    except (OSError, TimeoutError) as exc:
        raise WhoIsError(f"tailscaled LocalAPI at {socket_path} unreachable: {exc}") from None
    try:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: local-tailscaled.sock\r\n"
            "Sec-Tailscale: localapi\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode())
        raw = await asyncio.wait_for(_read_all(reader), timeout)
    except (OSError, TimeoutError) as exc:
        raise WhoIsError(f"tailscaled LocalAPI request failed: {exc}") from None
    finally:
        writer.close()
    try:
        answer = parse_response(raw)
    except BadResponse as exc:
        raise WhoIsError(f"tailscaled's answer is not readable HTTP: {exc}") from None
    return answer.status, answer.body


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    """Up to the end of the stream, no more than an answer may hold (head and body)."""
    raw = bytearray()
    while chunk := await reader.read(65536):
        raw += chunk
        if len(raw) > MAX_RESPONSE + MAX_HEAD:
            raise BadResponse("response too large")
    return bytes(raw)
