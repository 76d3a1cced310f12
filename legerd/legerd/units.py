"""legerd's systemd units, written for the installation that runs this code.

A pip or venv install puts ``legerd`` wherever its interpreter lives (``/usr/local/bin``,
``/opt/leger/venv/bin``, ``~/.local/bin`` …), so no fixed ``ExecStart=`` fits everyone:
``legerd install-units`` writes the units with this installation's own path. The copies in the
repository's ``legerd/systemd/`` are these units rendered for ``/usr/local/bin/legerd``.
"""

from __future__ import annotations

# Shared with leger-server's install-unit; re-exported here for legerd's callers.
from leger_core.sdunits import (
    HOME_ROOTS,
    installation_command,
    installation_paths,
    render_unit,
    under_home,
)

__all__ = ["HOME_ROOTS", "UNIT_NAME", "installation_paths", "render", "under_home"]

UNIT_NAME = "legerd.service"
DOCS = "https://github.com/leger-dev/leger/blob/main/docs/legerd.md"

SYSTEM_TEMPLATE = """\
# legerd, the system daemon: secrets for root's services and (with access rules) for others.
# Written by `legerd install-units` for {where}; run it again after moving the installation.
[Unit]
Description=Leger local secrets daemon (tailscale/setec API)
Documentation={docs}
After=local-fs.target network.target tailscaled.service
Wants=local-fs.target

[Service]
# notify: systemd counts legerd as started once it says READY=1, after its socket listens, so
# units ordered After=legerd.service (the quadlet snippets' lines) never race it at boot.
Type=notify
NotifyAccess=main
ExecStart={exec_start} serve --state-dir /var/lib/legerd --socket /run/legerd/legerd.sock
# Re-read access.toml and tokens without dropping connections. The shell's own kill: a minimal
# system (Debian 13's minbase) has no /bin/kill.
ExecReload=/bin/sh -c 'kill -HUP "$MAINPID"'
Restart=on-failure
RestartSec=1s
# /var/lib/legerd (keys, database, audit log) and /run/legerd (the socket), made by systemd.
StateDirectory=legerd
StateDirectoryMode=0700
RuntimeDirectory=legerd
RuntimeDirectoryMode=0755
UMask=0077
# legerd needs its own two directories and nothing else.
{hardening}

[Install]
WantedBy=multi-user.target
"""

USER_TEMPLATE = """\
# legerd for one user: `leger` finds it at $XDG_RUNTIME_DIR/legerd.sock.
# Written by `legerd install-units --user` for {where}; run it again after moving it.
[Unit]
Description=Leger local secrets daemon for %u (tailscale/setec API)
Documentation={docs}

[Service]
# notify: started means listening (see the system unit).
Type=notify
NotifyAccess=main
# %t is $XDG_RUNTIME_DIR (tmpfs); the state dir defaults to $XDG_STATE_HOME/legerd.
ExecStart={exec_start} serve --socket %t/legerd.sock
ExecReload=/bin/sh -c 'kill -HUP "$MAINPID"'
Restart=on-failure
RestartSec=1s
UMask=0077
NoNewPrivileges=yes
LimitCORE=0

[Install]
WantedBy=default.target
"""


def legerd_command() -> list[str]:
    """How this installation starts legerd: its console script beside the interpreter (a venv's
    bin/), else this interpreter with ``-m legerd``."""
    return installation_command("legerd", "legerd")


def render(
    *,
    user: bool,
    command: list[str] | None = None,
    protect_home: str | None = None,
    tmp_binds: list[str] | None = None,
) -> str:
    """The unit text. ``command`` defaults to this installation's (:func:`legerd_command`);
    ``ProtectHome=`` is ``yes`` unless the installation lives under a home directory, where
    ``read-only`` lets legerd start while still keeping it from writing there."""
    return render_unit(
        USER_TEMPLATE if user else SYSTEM_TEMPLATE,
        command or legerd_command(),
        docs=DOCS,
        protect_home_value=protect_home,
        tmp_binds_value=tmp_binds,
    )
