"""Who may log in: the claim a CLI sends (``device_id, user_id, email, tailnet, hostname``) is
checked by a verifier before a token is issued.

* ``tailscale`` asks the Tailscale API for the tailnet's devices
  (``GET {base}/api/v2/tailnet/{tailnet}/devices``) and accepts the claim only when a device
  with that id (``id`` or ``nodeId``) exists and belongs to that user (``user`` = login name).
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
_TEXT = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")  # printable ASCII, no leading space


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
            if len(value) > limit or not _TEXT.match(value):
                raise InvalidInput(f"{field} must be printable text of at most {limit} chars")
            values[field] = value
        cli_version = body.get("cli_version")
        if cli_version is not None and (
            not isinstance(cli_version, str)
            or len(cli_version) > 64
            or not _TEXT.match(cli_version)
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
        url = f"{self.base_url}/api/v2/tailnet/{quote(claim.tailnet, safe='')}/devices"
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
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
            devices = resp.json().get("devices") or []
        except (ValueError, AttributeError):
            raise ApiError(
                "the Tailscale API answered with invalid JSON",
                code="tailscale_unavailable",
                status=503,
            ) from None
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
            return
        raise IdentityRejected(
            "Device not found in tailnet", action="Check Tailscale status: tailscale status"
        )


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
