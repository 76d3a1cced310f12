"""Tells the plugins that a deployment changed (hook ``leger_deployment_changed``), so that the
cloud plugin can report it to the account: the web UI's "what runs where".

What leaves the machine is the deployment's name, version, release, unit states and a public
form of its source: a local path or ``file:`` URL becomes e.g. "local git repository", and a
URL loses any user, password, query and fragment (where tokens hide). A report never fails a
deploy: a plugin's failure is one ``note:`` line. Config ``[deploy] report = false`` turns it
off.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from leger_core.context import Leger
from leger_plugin_deploy.sources.bundle import SERVER_PREFIX
from leger_plugin_deploy.state import Deployment
from leger_plugin_deploy.systemd import Systemctl

Note = Callable[[str], None]

_LOCAL_WORDS = {"git": "local git repository", "bundle": "local bundle file"}
_SCP = re.compile(r"(?:[^@/:]+@)?([A-Za-z0-9.-]+):(?!//)(.+)")


def public_source(source: dict[str, Any]) -> str:
    """The source as the account may see it: never a local path, never credentials."""
    kind = str(source.get("kind", ""))
    location = str(source.get("location", ""))
    if location.startswith(SERVER_PREFIX):
        return f"release {location[len(SERVER_PREFIX) :]} of your leger account"
    if "://" in location:
        parts = urlsplit(location)
        if parts.scheme.lower() == "file":
            return _LOCAL_WORDS.get(kind, f"local {kind} source")
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    scp = _SCP.fullmatch(location)
    if scp and not location.startswith(("/", ".", "~")):
        return f"{scp.group(1)}:{scp.group(2)}"  # git@host:path without the user
    return _LOCAL_WORDS.get(kind, f"local {kind} folder")


def release_name(dep: Deployment) -> str | None:
    """The account's release this deployment came from, if it came from one."""
    named = dep.metadata.get("release")
    server = dep.metadata.get("server")
    if not named and isinstance(server, dict):
        named = server.get("name")
    return named if isinstance(named, str) and named else None


def event_of(dep: Deployment, event: str, units: dict[str, str]) -> dict[str, Any]:
    return {
        "event": event,
        "name": dep.name,
        "release_name": release_name(dep),
        "version": dep.version,
        "source_kind": str(dep.source.get("kind", "")),
        "source": public_source(dep.source),
        "units": units,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def enabled(leger: Leger, note: Note) -> bool:
    value = leger.config.get("deploy.report", True)
    if not isinstance(value, bool):
        note("deploy.report in the config must be true or false; not reporting")
        return False
    return value


def deployment_changed(
    leger: Leger,
    dep: Deployment,
    event: str,
    systemctl: Systemctl | None,
    note: Note,
) -> None:
    """Call ``leger_deployment_changed`` with the deployment's state now (``systemctl`` None:
    it has no units any more, e.g. removed); each plugin's failure is one note."""
    try:
        hook = leger.pm.hook.leger_deployment_changed
        if not hook.get_hookimpls() or not enabled(leger, note):
            return  # no plugin listens: not even systemctl is asked
        units = sorted(set(dep.units.values()))
        states = systemctl.states(units) if systemctl is not None else {}
        results = hook(leger=leger, event=event_of(dep, event, states))
    except Exception as exc:  # the deploy already succeeded: this must not turn it into a failure
        note(f"{dep.name} was not reported: {type(exc).__name__}")
        return
    for result in results:
        if isinstance(result, str) and result:
            note(result.splitlines()[0][:300])
