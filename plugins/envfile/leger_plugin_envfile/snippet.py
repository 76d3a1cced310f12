"""The quadlet lines that make a service use its env file."""

from __future__ import annotations

from collections.abc import Sequence

from leger_core.models import ServiceSecret
from leger_core.names import check_service
from leger_core.paths import leger_executable

# legerd's unit, in the system and in a user's systemd alike (`legerd install-units [--user]`).
LEGERD_UNIT = "legerd.service"


def quadlet_snippet(service: str, secrets: Sequence[ServiceSecret]) -> str:
    check_service(service)
    leger = leger_executable()
    # %t is the unit's runtime directory ($XDG_RUNTIME_DIR for user units, /run for system
    # ones); passing the path explicitly keeps fetch, the container and clean on one file.
    path = f"%t/leger/{service}.env"
    names = ", ".join(f"{s.env} <- {s.secret}" for s in secrets) or "none"
    return (
        f"# Secrets for {service} via an env file (leger envfile strategy): {names}\n"
        # At boot, fetch must not run before legerd listens (legerd is Type=notify). Wants=, not
        # Requires=: restarting legerd must not stop every container that once fetched from it.
        "[Unit]\n"
        f"Wants={LEGERD_UNIT}\n"
        f"After={LEGERD_UNIT}\n"
        "\n"
        "[Container]\n"
        f"EnvironmentFile={path}\n"
        "\n"
        "[Service]\n"
        f"ExecStartPre={leger} secrets fetch {service} --output {path}\n"
        f"ExecStopPost={leger} secrets clean {service} --output {path}\n"
    )
