"""legerd's line in ``leger status``: is it answering, and how many secrets may we see."""

from __future__ import annotations

from leger_core.context import Leger
from leger_core.errors import DeniedError, LegerError, UnavailableError
from leger_core.status import QUICK_TIMEOUT, StatusCheck
from leger_plugin_setec.client import client_from_config


def legerd_status(leger: Leger) -> StatusCheck:
    """One ``list`` call with a short timeout: it proves the socket answers and that this user
    may read, and counts the secrets visible to us (names only)."""
    try:
        client = client_from_config(leger.config, timeout=QUICK_TIMEOUT)
    except LegerError as exc:
        return StatusCheck("legerd", "config", ok=False, summary=str(exc), action=exc.hint)
    address = client.address
    try:
        with client:
            count = len(client.list())
    except UnavailableError as exc:
        return StatusCheck(
            "legerd",
            address,
            ok=False,
            summary="not answering",
            action=exc.hint or "start legerd (systemctl start legerd, or legerd serve)",
            facts={"up": False},
        )
    except DeniedError:
        return StatusCheck(
            "legerd",
            address,
            ok=False,
            summary="answering, but it refuses to list secrets for this user",
            action="grant this user 'get' and 'info' in legerd's access rules (docs/legerd.md)",
            facts={"up": True, "denied": True},
        )
    return StatusCheck(
        "legerd",
        address,
        ok=True,
        summary=f"up, {count} secret(s) visible",
        facts={"up": True, "secrets": count},
    )
