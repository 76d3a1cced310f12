"""Reports a changed deployment to the logged-in account (``POST /api/deployments``), for the
web UI's "what runs where": the deploy plugin's ``leger_deployment_changed`` event.

A report must never fail or slow a deploy: not logged in is a silent skip, the server gets
:data:`REPORT_TIMEOUT` seconds, and any failure becomes one note for the user.
"""

from __future__ import annotations

import logging
from typing import Any

from leger_core import paths
from leger_core.errors import LegerError

log = logging.getLogger("leger.cloud")

REPORT_TIMEOUT = 3.0
FIELDS = ("name", "event", "release_name", "version", "source_kind", "source", "units")


def report(event: dict[str, Any]) -> str | None:
    """Send ``event``; None when done or skipped, else a one-line note saying why not."""
    from leger_plugin_cloud.client import CloudClient
    from leger_plugin_cloud.session import load_token

    account = paths.read_account()
    if not account or not account.get("server"):
        log.debug("not logged in to a leger-server: deployment %s not reported", event["name"])
        return None
    try:
        token = load_token(account)
    except LegerError:
        token = None
    if not token:
        log.debug("no saved token: deployment %s not reported", event["name"])
        return None
    server = str(account["server"])
    body = {key: event.get(key) for key in FIELDS}
    try:
        with CloudClient(server, token, timeout=REPORT_TIMEOUT) as api:
            api.report_deployment(body)
    except LegerError as exc:
        return f"{event['name']} was not reported to your leger account: {exc}"
    except Exception as exc:  # never let a report break the deploy that already succeeded
        return f"{event['name']} was not reported to {server}: {type(exc).__name__}"
    return None
