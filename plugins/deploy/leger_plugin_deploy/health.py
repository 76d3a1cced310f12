"""Per-service health checks from the manifest, run after systemd calls the units active.

    "services": [{"name": "openwebui", …,
                  "health": {"url": "http://127.0.0.1:3000/health", "timeout": 60}},
                 {"name": "postgres", …,
                  "health": {"command": ["podman", "healthcheck", "run", "ai-stack-postgres"]}}]

``url``: an ``http``/``https`` GET must answer 2xx; ``command``: an argument list (no shell)
must exit 0. Each is retried every half second until ``timeout`` seconds (default 30) pass;
then the change fails and is rolled back like a unit that does not start.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leger_core.errors import InvalidInputError

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 600.0
# No proxy from the environment: a health URL is the service's own, usually on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class HealthCheck:
    service: str
    url: str | None
    command: tuple[str, ...] | None
    timeout: float

    def describe(self) -> str:
        return self.url if self.url else " ".join(self.command or ())


def from_manifest(manifest: Mapping[str, Any] | None) -> dict[str, HealthCheck]:
    """service name → its check; a malformed ``health`` entry is an error."""
    out: dict[str, HealthCheck] = {}
    services = manifest.get("services") if manifest else None
    for entry in services if isinstance(services, list) else []:
        if not isinstance(entry, dict) or "health" not in entry:
            continue
        name = entry.get("name")
        health = entry["health"]
        where = f"manifest.json: services[{name!r}].health"
        if not isinstance(name, str) or not isinstance(health, dict):
            raise InvalidInputError(f"{where} must be an object")
        url, command = health.get("url"), health.get("command")
        timeout = health.get("timeout", DEFAULT_TIMEOUT)
        if (url is None) == (command is None):
            raise InvalidInputError(f"{where} needs exactly one of url or command")
        if url is not None and (
            not isinstance(url, str) or not url.startswith(("http://", "https://"))
        ):
            raise InvalidInputError(f"{where}.url must be an http:// or https:// URL")
        if command is not None and (
            not isinstance(command, list)
            or not command
            or not all(isinstance(c, str) and c for c in command)
        ):
            raise InvalidInputError(f"{where}.command must be a list of arguments")
        if not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
            raise InvalidInputError(f"{where}.timeout must be 1 to {MAX_TIMEOUT:.0f} seconds")
        out[name] = HealthCheck(name, url, tuple(command) if command else None, float(timeout))
    return out


def _probe(check: HealthCheck, remaining: float) -> str | None:
    """None when healthy, else why not."""
    step = max(0.5, min(5.0, remaining))
    if check.url:
        try:
            with _OPENER.open(check.url, timeout=step) as response:
                code = int(response.status)
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (OSError, ValueError) as exc:
            return f"no answer ({getattr(exc, 'reason', exc)})"
        return None if 200 <= code < 300 else f"HTTP {code}"
    try:
        proc = subprocess.run(
            list(check.command or ()), capture_output=True, timeout=step,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "the command did not finish"
    except OSError as exc:
        return f"cannot run it: {exc.strerror}"
    return None if proc.returncode == 0 else f"exit {proc.returncode}"


def wait_healthy(check: HealthCheck, sleep: Callable[[float], None] = time.sleep) -> str | None:
    """None once ``check`` passes, else the last reason after its timeout."""
    deadline = time.monotonic() + check.timeout
    while True:
        why = _probe(check, deadline - time.monotonic())
        if why is None:
            return None
        if time.monotonic() >= deadline:
            return why
        sleep(0.5)
