"""The account's line in ``leger status``: which server and account, whether the server still
accepts the saved token (valid, logged out, expired), and when secrets were last synced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leger_core import paths
from leger_core.errors import LegerError
from leger_core.status import QUICK_TIMEOUT, StatusCheck
from leger_plugin_cloud.client import CloudClient
from leger_plugin_cloud.session import load_token

_LOGIN = "leger auth login"


def account_status() -> StatusCheck:
    account = paths.read_account()
    if not account or not account.get("server"):
        return StatusCheck("account", "leger-server", ok=True, summary="not logged in (local only)")
    server = str(account["server"])
    who = str(account.get("email") or account.get("user_uuid"))
    facts: dict[str, Any] = {
        "server": server,
        "account": who,
        "last_sync": account.get("last_sync"),
    }
    synced = _last_sync(account.get("last_sync"))
    token = load_token(account)
    if not token:
        return StatusCheck(
            "account",
            server,
            ok=False,
            summary=f"{who}: no saved token in {account.get('token_location')}",
            action=_LOGIN,
            facts={**facts, "token": "missing"},
        )
    try:
        with CloudClient(server, token, timeout=QUICK_TIMEOUT) as client:
            state, _ = client.session_state()
    except LegerError as exc:
        return StatusCheck(
            "account",
            server,
            ok=False,
            summary=f"{who}: {exc.message}",
            action=exc.hint or "check that leger-server is running",
            facts={**facts, "token": "unknown"},
        )
    facts["token"] = state
    if state != "valid":
        why = {"revoked": "logged out", "expired": "expired"}.get(state, "not accepted")
        return StatusCheck(
            "account",
            server,
            ok=False,
            summary=f"{who}: the saved token was {why} by the server",
            action=_LOGIN,
            facts=facts,
        )
    return StatusCheck(
        "account", server, ok=True, summary=f"{who}, token valid, {synced}", facts=facts
    )


def _last_sync(record: object) -> str:
    if not isinstance(record, dict) or not isinstance(record.get("at"), str):
        return "never synced (leger secrets sync)"
    try:
        at = datetime.fromisoformat(record["at"])
    except ValueError:
        return "last sync unknown"
    return f"last synced {_ago(datetime.now(UTC) - at)} into {record.get('backend', '?')}"


def _ago(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"
