"""leger-server's systemd unit, written for the installation that runs this code.

``leger-server install-unit`` renders it with this installation's own path (the helpers in
:mod:`leger_core.sdunits`, shared with ``legerd install-units``). The copy in the repository's
``server/systemd/`` is this unit rendered for ``/usr/local/bin/leger-server``.

Keys never go into the unit: they come from the environment file (read by systemd, as root,
before it drops privileges), which ``install-unit --new-keys`` can create.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from leger_core.sdunits import SYSTEM_UNIT_DIR, installation_command, render_unit

UNIT_NAME = "leger-server.service"
DEFAULT_DIR = SYSTEM_UNIT_DIR
DEFAULT_ENV_FILE = Path("/etc/leger-server/leger-server.env")
STATE_DIR = "/var/lib/leger-server"
DOCS = "https://github.com/leger-dev/leger/blob/main/docs/server.md"

TEMPLATE = """\
# leger-server, Leger's account service. Its keys and settings live in the
# EnvironmentFile= below (0600, root), never in this file.
# Written by `leger-server install-unit` for:
#   {where}
# Run it again after moving the installation.
[Unit]
Description=Leger account service
Documentation={docs}
After=network-online.target tailscaled.service
Wants=network-online.target

[Service]
# exec + a health check: `systemctl start` returns once the server serves /health (it does not
# speak sd_notify), so units ordered After=leger-server.service find it answering.
Type=exec
# Read by systemd as root before it drops privileges: the server's own user cannot read the
# file, only the variables it sets (LEGER_SERVER_JWT_SECRET, LEGER_SERVER_ENCRYPTION_KEYS,
# LEGER_SERVER_IDENTITY, …). Its settings override the defaults below.
Environment=LEGER_SERVER_HOST={host} LEGER_SERVER_PORT={port} LEGER_SERVER_IDENTITY={identity}
EnvironmentFile={env_file}
ExecStart={exec_start} serve --data-dir /var/lib/leger-server --host ${{LEGER_SERVER_HOST}} --port ${{LEGER_SERVER_PORT}}
ExecStartPost={exec_start} health --host ${{LEGER_SERVER_HOST}} --port ${{LEGER_SERVER_PORT}} --wait 60
Restart=on-failure
RestartSec=2s
# A user that exists only while the service runs; its data (SQLite, blobs, dev keys) lives
# in /var/lib/leger-server (really /var/lib/private/leger-server), kept across restarts and
# handed to each new dynamic uid by systemd.
DynamicUser=yes
StateDirectory=leger-server
StateDirectoryMode=0700
UMask=0077
# It needs its state directory, the network and nothing else.
{hardening}
# And what leger-server can do without: a user namespace of its own, no devices at all, other
# processes hidden, no writable-and-executable memory, only the system calls of a plain service.
DevicePolicy=closed
ProtectProc=invisible
ProcSubset=pid
PrivateUsers=yes
KeyringMode=private
MemoryDenyWriteExecute=yes
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
"""  # noqa: E501 (the ExecStart= line)


def server_command() -> list[str]:
    return installation_command("leger-server", "leger_server.cli")


def render(
    *,
    command: list[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8420,
    identity: str = "tailscale",
    env_file: Path = DEFAULT_ENV_FILE,
    protect_home_value: str | None = None,
    tmp_binds: list[str] | None = None,
) -> str:
    """The unit text. ``command`` defaults to this installation's; ``ProtectHome=`` is
    ``read-only`` for an installation under a home directory, else ``yes``."""
    cmd = command or server_command()
    for name, value in (("host", host), ("identity", identity), ("env file", str(env_file))):
        # One word each: they land in Environment= and EnvironmentFile= lines unquoted.
        if not value or any(c.isspace() or c in "\"'\\$%" for c in value):
            raise ValueError(f"the {name} {value!r} cannot go into a unit file")
    if not Path(env_file).is_absolute():
        raise ValueError(f"the env file must be an absolute path, not {str(env_file)!r}")
    return render_unit(
        TEMPLATE,
        cmd,
        docs=DOCS,
        protect_home_value=protect_home_value,
        tmp_binds_value=tmp_binds,
        host=host,
        port=port,
        identity=identity,
        env_file=env_file,
    )


def new_keys_env() -> str:
    """An environment file with fresh keys: a 32-byte JWT secret and one AES-256 key."""
    jwt_secret = secrets.token_hex(32)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return (
        "# leger-server's keys and settings, read by systemd for leger-server.service.\n"
        "# Keep a copy somewhere safe: without these keys the stored secrets cannot be read.\n"
        f"LEGER_SERVER_JWT_SECRET={jwt_secret}\n"
        f"LEGER_SERVER_ENCRYPTION_KEYS=k1:{key}\n"
    )
