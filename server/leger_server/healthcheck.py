"""``leger-server health``: ask a running server's ``GET /health``, optionally until it answers.

The systemd unit runs it as ``ExecStartPost=``, so ``systemctl start leger-server`` returns only
once the server serves (the server itself does not speak sd_notify), and the container image
uses it as its health check. Standard library only: it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.error
import urllib.request
from typing import Any

# An address the server listens on for every interface is reached on loopback.
_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def health_url(host: str, port: int) -> str:
    host = _ANY.get(host, host)
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}/health"


def ask(url: str, timeout: float) -> dict[str, Any] | None:
    """The health answer, or None if the server does not answer healthy. Proxies from the
    environment are ignored: this is always a local call."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            if resp.status != 200:
                return None
            body: dict[str, Any] = json.loads(resp.read(64 * 1024))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body if body.get("status") == "healthy" else None


def wait_healthy(url: str, wait: float) -> dict[str, Any] | None:
    """Ask until healthy or ``wait`` seconds have passed (one try with ``wait`` 0)."""
    deadline = time.monotonic() + wait
    while True:
        remaining = deadline - time.monotonic()
        answer = ask(url, timeout=max(0.5, min(2.0, remaining)))
        if answer is not None or remaining <= 0:
            return answer
        time.sleep(min(0.1, max(remaining, 0)))
