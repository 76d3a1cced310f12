"""What a systemd unit needs to know about the installation that writes it.

A pip or venv install puts a console script wherever its interpreter lives (``/usr/local/bin``,
``/opt/leger/venv/bin``, ``~/.local/bin`` …), so no fixed ``ExecStart=`` fits everyone: the
``install-unit(s)`` commands of legerd and leger-server render their units with the running
installation's own path. Standard library only; both daemons share it.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

# Home directories, hidden by ProtectHome=yes: an installation under one of them needs
# ProtectHome=read-only, or the service cannot even start its interpreter.
HOME_ROOTS = ("/home", "/root", "/run/user")
# Hidden by PrivateTmp=yes (the service gets an empty /tmp of its own): an installation there,
# say a checkout cloned into /tmp, is bound back in read-only to start.
TMP_ROOTS = ("/tmp", "/var/tmp")


def installation_command(script: str, module: str) -> list[str]:
    """How this installation starts ``script``: the console script beside the interpreter (a
    venv's bin/), else this interpreter with ``-m module``."""
    path = Path(sys.executable).parent / script
    if os.access(path, os.X_OK):
        return [str(path)]
    return [sys.executable, "-m", module]


def installation_paths(command: list[str]) -> list[str]:
    """Every path the service reads to start: the command, the interpreter it resolves to,
    and the directories Python imports from (an editable install's checkout included)."""
    paths = [command[0], os.path.realpath(command[0]), sys.prefix, sys.base_prefix]
    paths += [p for p in sys.path if p and os.path.isabs(p)]
    return paths


def under_home(paths: list[str]) -> bool:
    return _under(paths, HOME_ROOTS)


def _under(paths: list[str], roots: tuple[str, ...]) -> bool:
    return any(
        os.path.realpath(p) == root or os.path.realpath(p).startswith(root + "/")
        for p in paths
        for root in roots
    )


def protect_home(command: list[str]) -> str:
    """``ProtectHome=`` for this installation: ``read-only`` lets a service installed under a
    home directory start while still keeping it from writing there; ``yes`` otherwise."""
    return "read-only" if under_home(installation_paths(command)) else "yes"


def tmp_binds(command: list[str]) -> list[str]:
    """The folders under /tmp or /var/tmp this installation starts from (a checkout cloned
    there, its venv): ``PrivateTmp=yes``, which ``DynamicUser=yes`` also implies, gives the
    service an empty /tmp, so each needs a ``BindReadOnlyPaths=`` to stay visible."""
    binds: list[str] = []
    for raw in installation_paths(command):
        real = os.path.realpath(raw)
        for root in TMP_ROOTS:
            if real.startswith(root + "/"):
                top = root + "/" + real[len(root) + 1 :].split("/", 1)[0]
                if top not in binds:
                    binds.append(top)
    return binds


def private_tmp_lines(binds: list[str]) -> str:
    """``PrivateTmp=yes`` and a ``BindReadOnlyPaths=`` per folder of :func:`tmp_binds`."""
    return "PrivateTmp=yes" + "".join(f"\nBindReadOnlyPaths={shlex.quote(b)}" for b in binds)


def exec_line(command: list[str]) -> str:
    """``command`` as the start of an ``ExecStart=`` line: shell-quoted, with ``%`` doubled
    (systemd expands specifiers) and ``$`` doubled (systemd expands variables)."""
    return shlex.join(command).replace("%", "%%").replace("$", "$$")


def closed_to_others(paths: list[str]) -> list[str]:
    """The directories and files among ``paths`` (and their parents) that a user other than
    their owner cannot traverse or read: a service running as its own user (``DynamicUser=``,
    ``User=``) cannot start from an installation behind one of them (say, a venv under a 0700
    ``/root``)."""
    closed: list[str] = []
    seen: set[str] = set()
    for raw in paths:
        real = Path(os.path.realpath(raw))
        if not real.exists():
            continue
        for node in [*reversed(real.parents), real]:
            key = str(node)
            if key in seen:
                continue
            seen.add(key)
            try:
                mode = node.stat().st_mode
            except OSError:
                continue
            need = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
            if not mode & need:
                closed.append(key)
                break  # what lies below is unreachable anyway
    return closed
