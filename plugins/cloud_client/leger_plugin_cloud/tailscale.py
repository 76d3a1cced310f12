"""The Tailscale identity provider: who this user and machine are, from ``tailscale status
--json`` or, when the CLI is not on PATH, the tailscaled LocalAPI socket
(``GET /localapi/v0/status``, the same JSON).

Config (all optional): ``[tailscale] bin = "tailscale"``, ``socket =
"/var/run/tailscale/tailscaled.sock"``, ``enabled = false`` to skip this provider.
Returns None when Tailscale is not there or not logged in, so the next provider is asked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

DEFAULT_SOCKETS = ("/var/run/tailscale/tailscaled.sock", "/run/tailscale/tailscaled.sock")


def identity_from_status(status: Any) -> dict[str, Any] | None:
    """Map ``tailscale status --json`` to Leger's identity claim."""
    if not isinstance(status, dict) or status.get("BackendState") not in (None, "Running"):
        return None
    me = status.get("Self")
    if not isinstance(me, dict) or not me.get("ID"):
        return None
    user_id = me.get("UserID")
    users = status.get("User") or {}
    user = users.get(str(user_id)) if isinstance(users, dict) else None
    email = user.get("LoginName") if isinstance(user, dict) else None
    tailnet_info = status.get("CurrentTailnet") or {}
    tailnet = tailnet_info.get("Name") if isinstance(tailnet_info, dict) else None
    if not tailnet:
        suffix = status.get("MagicDNSSuffix")
        tailnet = suffix if isinstance(suffix, str) else None
    if user_id is None or not email or not tailnet:
        return None
    return {
        "user_id": str(user_id),
        "email": str(email),
        "tailnet": str(tailnet),
        "device_id": str(me["ID"]),
        "hostname": str(me.get("HostName") or ""),
        "display_name": user.get("DisplayName") if isinstance(user, dict) else None,
        "source": "tailscale",
    }


def status_from_cli(binary: str) -> Any | None:
    try:
        proc = subprocess.run(
            [binary, "status", "--json"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def status_from_socket(path: str) -> Any | None:
    """``GET /localapi/v0/status`` through the WhoIs client's LocalAPI transport (one
    HTTP-over-Unix-socket client for the project, :mod:`leger_core.tailscale_whois`)."""
    import asyncio

    from leger_core.tailscale_whois import WhoIsError, local_status

    try:
        return asyncio.run(local_status(path, timeout=5.0))
    except WhoIsError:
        return None


def tailscale_identity(config: Any) -> dict[str, Any] | None:
    table = config.section("tailscale") if config is not None else {}
    if table.get("enabled") is False:
        return None
    binary = table.get("bin") or os.environ.get("LEGER_TAILSCALE_BIN") or "tailscale"
    resolved = shutil.which(binary)
    if resolved:
        status = status_from_cli(resolved)
        if status is not None:
            return identity_from_status(status)
    sockets = [table["socket"]] if table.get("socket") else list(DEFAULT_SOCKETS)
    for path in sockets:
        if os.path.exists(path):
            status = status_from_socket(path)
            if status is not None:
                return identity_from_status(status)
    return None
