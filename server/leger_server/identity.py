"""Who may log in: the claim a CLI sends (``device_id, user_id, email, tailnet, hostname``) is
checked by a verifier before a token is issued.

* ``tailscale`` asks the Tailscale API for the tailnet's devices and users
  (``GET {base}/api/v2/tailnet/{tailnet}/devices`` and ``…/users``) and accepts the claim only
  when a device with that id (``id`` or ``nodeId``) exists, is authorized and belongs to the
  claimed login name (``user``), and the claimed user id is that same user (``id`` and
  ``loginName`` in the users list) and not suspended. The account is derived from the user id
  (UUIDv5), so a claim whose user id is not checked would let any tailnet member sign in to
  anyone's account. The API key needs read access to devices and users.
* ``dev`` accepts every well-formed claim, for development and tests; the server says so
  loudly at start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from leger_server.errors import ApiError, IdentityRejected, InvalidInput

_FIELD_LIMITS = {"device_id": 128, "user_id": 128, "email": 320, "tailnet": 255, "hostname": 255}
_TEXT = re.compile(r"[\x21-\x7e][\x20-\x7e]*")  # printable ASCII, no leading space


@dataclass(frozen=True)
class IdentityClaim:
    device_id: str
    user_id: str
    email: str
    tailnet: str
    hostname: str
    cli_version: str | None = None

    @classmethod
    def parse(cls, body: Any) -> IdentityClaim:
        if not isinstance(body, dict):
            raise InvalidInput("the login body must be a JSON object")
        values: dict[str, str] = {}
        for field, limit in _FIELD_LIMITS.items():
            value = body.get(field)
            if field == "hostname" and value in (None, ""):
                value = "unknown"
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"{field} is required and must be a string")
            if len(value) > limit or not _TEXT.fullmatch(value):
                raise InvalidInput(f"{field} must be printable text of at most {limit} chars")
            values[field] = value
        cli_version = body.get("cli_version")
        if cli_version is not None and (
            not isinstance(cli_version, str)
            or len(cli_version) > 64
            or not _TEXT.fullmatch(cli_version)
        ):
            raise InvalidInput("cli_version must be short printable text")
        return cls(cli_version=cli_version, **values)


class IdentityVerifier(Protocol):
    name: str

    async def verify(self, claim: IdentityClaim) -> None:
        """Return when the claim is true; raise :class:`IdentityRejected` otherwise."""
        ...


class DevVerifier:
    """Trusts the claim. Only ever chosen explicitly (``--identity dev``)."""

    name = "dev"

    async def verify(self, claim: IdentityClaim) -> None:
        return None


class TailscaleVerifier:
    name = "tailscale"

    def __init__(self, api_key: str, base_url: str = "https://api.tailscale.com") -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"TailscaleVerifier(base_url={self.base_url!r})"

    async def verify(self, claim: IdentityClaim) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            devices = await self._list(client, claim.tailnet, "devices")
            device = self._device(devices, claim)
            if device.get("authorized") is False:
                raise IdentityRejected(
                    "the device is not authorized in the tailnet",
                    action="Approve the device in the Tailscale admin console",
                )
            users = await self._list(client, claim.tailnet, "users")
        self._check_user(users, claim)

    @staticmethod
    def _device(devices: list[Any], claim: IdentityClaim) -> dict[str, Any]:
        for device in devices:
            if not isinstance(device, dict):
                continue
            if claim.device_id not in (device.get("id"), device.get("nodeId")):
                continue
            owner = str(device.get("user", ""))
            if owner.lower() != claim.email.lower():
                raise IdentityRejected(
                    "the device belongs to another user",
                    action="Log in to Tailscale as the account you claim",
                )
            return device
        raise IdentityRejected(
            "Device not found in tailnet", action="Check Tailscale status: tailscale status"
        )

    @staticmethod
    def _check_user(users: list[Any], claim: IdentityClaim) -> None:
        for user in users:
            if not isinstance(user, dict) or str(user.get("id", "")) != claim.user_id:
                continue
            if str(user.get("loginName", "")).lower() != claim.email.lower():
                raise IdentityRejected(
                    "the user id belongs to another user",
                    action="Log in with the identity `tailscale status --json` reports",
                )
            if user.get("status") == "suspended":
                raise IdentityRejected(
                    "the user is suspended in the tailnet", action="Ask a tailnet admin"
                )
            return
        raise IdentityRejected(
            "User not found in tailnet", action="Check Tailscale status: tailscale status"
        )

    async def _list(self, client: httpx.AsyncClient, tailnet: str, what: str) -> list[Any]:
        """``GET /api/v2/tailnet/{tailnet}/{what}`` → its ``what`` list (devices, users)."""
        url = f"{self.base_url}/api/v2/tailnet/{quote(tailnet, safe='')}/{what}"
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
                "tailnet not found", action="Check Tailscale status: tailscale status"
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


def make_verifier(
    identity: str, *, api_key: str | None = None, base_url: str | None = None
) -> IdentityVerifier:
    if identity == "dev":
        return DevVerifier()
    if identity == "tailscale":
        if not api_key:
            raise ValueError("the tailscale verifier needs an API key")
        return TailscaleVerifier(api_key, base_url or "https://api.tailscale.com")
    raise ValueError(f"unknown identity verifier {identity!r}")
