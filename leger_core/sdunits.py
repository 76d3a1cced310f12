"""What a systemd unit needs to know about the installation that writes it.

A pip or venv install puts a console script wherever its interpreter lives (``/usr/local/bin``,
``/opt/leger/venv/bin``, ``~/.local/bin`` …), so no fixed ``ExecStart=`` fits everyone: the
``install-unit(s)`` commands of legerd and leger-server render their units with the running
installation's own path. Both daemons share it: the sandbox every Leger daemon gets
(:data:`HARDENING`), the rendering (:func:`render_unit`) and where a unit goes
(:func:`unit_dir`, :func:`write_unit`); each daemon keeps its own template. Standard library
only (plus :mod:`leger_core.fsutil`), but for the click options of the commands
(:func:`dir_option`, :func:`dry_run_option`, :func:`print_or_write`), which import click when
used.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from leger_core.fsutil import atomic_write

if TYPE_CHECKING:
    from collections.abc import Callable

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")

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


# The sandbox every Leger daemon's system unit starts from, in the [Service] section: a daemon's
# template puts ``{hardening}`` where it goes and adds its own lines after it. ProtectHome= and
# PrivateTmp= follow the installation (see protect_home and tmp_binds).
HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome={protect_home}
{private_tmp}
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
LimitCORE=0"""


def render_unit(
    template: str,
    command: list[str],
    *,
    docs: str,
    protect_home_value: str | None = None,
    tmp_binds_value: list[str] | None = None,
    **fields: object,
) -> str:
    """``template`` filled in for the installation started by ``command``: ``{exec_start}``
    (escaped for systemd), ``{where}`` (the command, for the header comment), ``{docs}``,
    ``{hardening}`` and the daemon's own ``fields``. ``ProtectHome=`` and the private-/tmp binds
    follow the installation unless given (the repository's copies pin them)."""
    home = protect_home_value or protect_home(command)
    binds = tmp_binds(command) if tmp_binds_value is None else tmp_binds_value
    hardening = HARDENING.format(protect_home=home, private_tmp=private_tmp_lines(binds))
    return template.format(
        exec_start=exec_line(command),  # % and $ escaped: systemd expands both
        where=command[0] if len(command) == 1 else shlex.join(command),
        docs=docs,
        hardening=hardening,
        **fields,
    )


def unit_dir(user: bool) -> Path:
    """Where ``systemctl [--user]`` finds units written by hand: /etc/systemd/system, or
    $XDG_CONFIG_HOME/systemd/user (~/.config/systemd/user) for the user's own manager."""
    if not user:
        return SYSTEM_UNIT_DIR
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "systemd" / "user"


class UnitWriteError(OSError):
    """A unit file could not be written; the message names the file and why."""


def write_unit(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` as ``directory/name`` (0644: systemd and ``systemctl cat`` read it as any
    user; atomically, so a half-written unit is never loaded), making the folder if needed."""
    target = directory / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, text.encode(), mode=0o644)
    except OSError as exc:
        raise UnitWriteError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def start_hint(unit: str, *, user: bool = False) -> str:
    """The line the install commands end with: how to load and start what they wrote."""
    scope = "systemctl --user" if user else "systemctl"
    return f"Start it with: {scope} daemon-reload && {scope} enable --now {unit}"


_F = TypeVar("_F", bound="Callable[..., object]")


def dir_option(help_text: str) -> Callable[[_F], _F]:
    """The commands' ``--dir DIR`` option: write the unit there instead of the default."""
    import click

    return click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=help_text,
    )


def dry_run_option(func: _F) -> _F:
    """The commands' ``--dry-run``/``--print`` flag: print the unit, write nothing."""
    import click

    flag = click.option(
        "--dry-run", "--print", "dry_run", is_flag=True, help="Print the unit; write nothing."
    )
    return flag(func)


def print_or_write(text: str, *, directory: Path, name: str, dry_run: bool) -> Path | None:
    """What both install commands do with a rendered unit: with ``--dry-run`` print it and
    return None; else write it (:func:`write_unit`, which raises :class:`UnitWriteError`), say
    so and return its path."""
    import click

    if dry_run:
        click.echo(text, nl=False)
        return None
    target = write_unit(directory, name, text)
    click.echo(f"Wrote {target}")
    return target
