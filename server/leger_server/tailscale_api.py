"""The optional extra check against the Tailscale control API: the device is authorized and its
user not suspended (``GET {base}/api/v2/tailnet/{tailnet}/devices`` and ``…/users``).

It is keyed by what tailscaled's WhoIs said about the connection (node id, user id, login
name), never by what a login body claims. The API key needs read access to devices and users;
``tailnet`` is ``-`` (the key's own tailnet) unless configured.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from leger_server.errors import ApiError, IdentityRejected


class TailscaleAPICheck:
    def __init__(
        self, api_key: str, base_url: str = "https://api.tailscale.com", tailnet: str = "-"
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.tailnet = tailnet

    def __repr__(self) -> str:
        return f"TailscaleAPICheck(base_url={self.base_url!r}, tailnet={self.tailnet!r})"

    async def check(self, *, node_id: str, user_id: str, login_name: str) -> None:
        """Return when the node is authorized and the user active; raise otherwise."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            devices = await self._list(client, "devices")
            device = _device(devices, node_id, login_name)
            if device.get("authorized") is False:
                raise IdentityRejected(
                    "the device is not authorized in the tailnet",
                    action="Approve the device in the Tailscale admin console",
                )
            users = await self._list(client, "users")
        _check_user(users, user_id, login_name)

    async def _list(self, client: httpx.AsyncClient, what: str) -> list[Any]:
        """``GET /api/v2/tailnet/{tailnet}/{what}`` → its ``what`` list (devices, users)."""
        url = f"{self.base_url}/api/v2/tailnet/{quote(self.tailnet, safe='-')}/{what}"
        try:
            resp = await client.get(url, headers={"Authorization": f"Bearer {self._api_key}"})
        except httpx.HTTPError:
            raise ApiError(
                "could not reach the Tailscale API to verify the login",
                code="tailscale_unavailable",
                status=503,
                action="try again later",
            ) from None
        if resp.status_code == 404:
            raise IdentityRejected(
                "tailnet not found in the Tailscale API",
                action="Check the server's LEGER_SERVER_TAILNET setting",
            )
        if resp.status_code != 200:
            raise ApiError(
                f"the Tailscale API answered {resp.status_code}",
                code="tailscale_unavailable",
                status=503,
            )
        try:
            items = resp.json().get(what) or []
        except (ValueError, AttributeError):
            items = None
        if not isinstance(items, list):
            raise ApiError(
                "the Tailscale API answered with invalid JSON",
                code="tailscale_unavailable",
                status=503,
            )
        return items


def _device(devices: list[Any], node_id: str, login_name: str) -> dict[str, Any]:
    for device in devices:
        if not isinstance(device, dict) or node_id not in (device.get("id"), device.get("nodeId")):
            continue
        if str(device.get("user", "")).lower() != login_name.lower():
            raise IdentityRejected(
                "the Tailscale API says this device belongs to another user",
                action="Ask a tailnet admin",
            )
        return device
    raise IdentityRejected(
        "Device not found in tailnet", action="Check Tailscale status: tailscale status"
    )


def _check_user(users: list[Any], user_id: str, login_name: str) -> None:
    for user in users:
        if not isinstance(user, dict):
            continue
        if str(user.get("id", "")) != user_id and (
            str(user.get("loginName", "")).lower() != login_name.lower()
        ):
            continue
        if user.get("status") == "suspended":
            raise IdentityRejected(
                "the user is suspended in the tailnet", action="Ask a tailnet admin"
            )
        return
    raise IdentityRejected(
        "User not found in tailnet", action="Check Tailscale status: tailscale status"
    )
