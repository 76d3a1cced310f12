"""``legerd`` command line: serve, init, status, rotate-key, token, install-units."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from leger_core.sdunits import dir_option, dry_run_option
from legerd import __version__
from legerd.errors import StateError
from legerd.paths import default_socket, default_state_dir

STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    envvar="LEGERD_STATE_DIR",
    help="State directory (default: $LEGERD_STATE_DIR, /var/lib/legerd for root, "
    "else $XDG_STATE_HOME/legerd).",
)
SOCKET = click.option(
    "--socket",
    "socket_path",
    type=click.Path(path_type=Path),
    default=None,
    envvar="LEGERD_SOCKET",
    help="Unix socket (default: $LEGERD_SOCKET, /run/legerd/legerd.sock for root, "
    "else $XDG_RUNTIME_DIR/legerd.sock).",
)


def _fail(exc: Exception) -> NoReturn:
    click.echo(f"legerd: {exc}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="legerd")
def main() -> None:
    """Leger's local secrets daemon (a tailscale/setec-compatible server)."""


@main.command()
@STATE_DIR
@SOCKET
@click.option(
    "--listen", metavar="HOST:PORT", help="Also listen on TCP (needs a token or Tailscale)."
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    help="Access rules (default: STATE_DIR/access.toml).",
)
@click.option(
    "--tailscale-socket",
    metavar="PATH",
    help="tailscaled's LocalAPI socket, for WhoIs on TCP callers.",
)
@click.option("--socket-mode", metavar="OCTAL", help="Mode of the Unix socket (default 0600).")
@click.option(
    "--max-value-bytes",
    type=click.IntRange(1, 1 << 30),
    default=1 << 20,
    show_default=True,
    help="Largest secret value accepted (a larger request gets 400).",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(0.1, 3600),
    default=10.0,
    show_default=True,
    help="Seconds a connection gets to send a whole request (head and body).",
)
@click.option(
    "--max-tcp-connections",
    type=click.IntRange(1, 65536),
    default=256,
    show_default=True,
    help="Open TCP connections at most, in all.",
)
@click.option(
    "--max-tcp-per-peer",
    type=click.IntRange(1, 65536),
    default=16,
    show_default=True,
    help="Open TCP connections at most from one peer address.",
)
@click.option(
    "--refusal-log-interval",
    type=click.FloatRange(0, 86400),
    default=60.0,
    show_default=True,
    help="Seconds between audit lines for one unauthenticated peer's refusals.",
)
def serve(
    state_dir: Path | None,
    socket_path: Path | None,
    listen: str | None,
    rules: Path | None,
    tailscale_socket: str | None,
    socket_mode: str | None,
    max_value_bytes: int,
    request_timeout: float,
    max_tcp_connections: int,
    max_tcp_per_peer: int,
    refusal_log_interval: float,
) -> None:
    """Serve the setec API; a new state directory is initialised first."""
    from legerd.server import ServeOptions
    from legerd.server import serve as run_server

    try:
        mode = int(socket_mode, 8) if socket_mode else None
    except ValueError:
        raise click.BadParameter("an octal mode such as 0660", param_hint="--socket-mode") from None
    opts = ServeOptions(
        state_dir=state_dir or default_state_dir(),
        socket_path=socket_path or default_socket(),
        listen=listen,
        rules_path=rules,
        tailscale_socket=tailscale_socket,
        socket_mode=mode,
        max_value=max_value_bytes,
        request_timeout=request_timeout,
        max_tcp_connections=max_tcp_connections,
        max_tcp_per_peer=max_tcp_per_peer,
        refusal_log_interval=refusal_log_interval,
    )
    try:
        run_server(opts)
    except (StateError, OSError) as exc:
        _fail(exc)


@main.command()
@STATE_DIR
def init(state_dir: Path | None) -> None:
    """Create the key and an empty database (existing ones are never overwritten)."""
    from legerd.state import init_state

    state_dir = state_dir or default_state_dir()
    try:
        created = init_state(state_dir)
    except (StateError, OSError) as exc:
        _fail(exc)
    click.echo(f"{'initialised' if created else 'already initialised'}: {state_dir}")


@main.command("rotate-key")
@STATE_DIR
def rotate_key(state_dir: Path | None) -> None:
    """Re-wrap the data key under a new key-encryption key (keys/main.key).

    No secret is re-encrypted or re-typed; the old main.key stops working. Back up the new one.
    """
    import fcntl

    from legerd.keys import KeyFiles

    keys = KeyFiles(state_dir or default_state_dir())
    try:
        with open(keys.dir / ".rotate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            old, new = keys.rotate()
    except (StateError, OSError) as exc:
        _fail(exc)
    click.echo(f"rotated: key {old} -> {new} ({keys.main})")


def _health(path: Path) -> dict[str, Any] | None:
    """legerd's ``GET /health`` answer on ``path``; None when nothing healthy answers there."""
    from leger_core.unixhttp import Connection

    try:
        with Connection(path, timeout=2, host="legerd") as conn:
            answer = conn.request("GET", "/health", {"Connection": "close"})
        doc = answer.json() if answer.status == 200 else None
    except (OSError, ValueError):  # nothing there, not HTTP, not JSON
        return None
    return doc if isinstance(doc, dict) else None


@main.command()
@STATE_DIR
@SOCKET
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(state_dir: Path | None, socket_path: Path | None, as_json: bool) -> None:
    """Is legerd running, where, and how many secrets it holds. Exit 1 when not running."""
    from legerd.keys import KeyFiles, fingerprint
    from legerd.state import is_initialised

    state_dir = state_dir or default_state_dir()
    socket_path = socket_path or default_socket()
    health = _health(socket_path)
    info: dict[str, Any] = {
        "running": health is not None,
        "socket": str(socket_path),
        "state_dir": str(state_dir),
        "initialised": is_initialised(state_dir),
        "secrets_count": health.get("secrets_count") if health else None,
        "key": None,
    }
    with contextlib.suppress(StateError, OSError):
        info["key"] = fingerprint(KeyFiles(state_dir).read_kek())
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        state = "running" if health else "not running"
        click.echo(f"legerd: {state} on {socket_path}")
        if health:
            click.echo(f"secrets: {info['secrets_count']}")
        click.echo(f"state dir: {state_dir} ({'initialised' if info['initialised'] else 'empty'})")
        if info["key"]:
            click.echo(f"key: {info['key']}")
        if not health:
            click.echo(f"start it with: legerd serve --socket {socket_path}")
    sys.exit(0 if health else 1)


@main.group()
def token() -> None:
    """Bearer tokens for callers on a TCP listener (stored hashed)."""


@token.command("add")
@click.argument("name")
@STATE_DIR
def token_add(name: str, state_dir: Path | None) -> None:
    """Make a token NAME and print it once; rules name it as principal token:NAME.

    A running legerd picks it up on SIGHUP (systemctl reload legerd) or restart."""
    from legerd.tokens import add_token

    try:
        value = add_token(state_dir or default_state_dir(), name)
    except (StateError, OSError) as exc:
        _fail(exc)
    click.echo(value)
    click.echo(f"token {name!r} made; it is shown only now. Reload legerd to use it.", err=True)


@token.command("remove")
@click.argument("name")
@STATE_DIR
def token_remove(name: str, state_dir: Path | None) -> None:
    """Remove the token NAME (reload legerd to apply)."""
    from legerd.tokens import remove_token

    try:
        removed = remove_token(state_dir or default_state_dir(), name)
    except (StateError, OSError) as exc:
        _fail(exc)
    if not removed:
        _fail(StateError(f"no token called {name!r}"))
    click.echo(f"token {name!r} removed")


@token.command("list")
@STATE_DIR
def token_list(state_dir: Path | None) -> None:
    """Token names (never the tokens)."""
    from legerd.tokens import read_tokens, tokens_path

    try:
        names = sorted(read_tokens(tokens_path(state_dir or default_state_dir())))
    except StateError as exc:
        _fail(exc)
    for name in names:
        click.echo(name)


@main.command("install-units")
@click.option(
    "--user", "user", is_flag=True, help="The user unit (systemctl --user), not the system one."
)
@dir_option("Write here (default: /etc/systemd/system, or ~/.config/systemd/user with --user).")
@dry_run_option
def install_units(user: bool, directory: Path | None, dry_run: bool) -> None:
    """Write legerd.service for this installation (its own path, a venv's too).

    A venv under /home or /root gets ProtectHome=read-only, so systemd can start it. Then:
    systemctl [--user] daemon-reload && systemctl [--user] enable --now legerd"""
    from leger_core.sdunits import UnitWriteError, print_or_write, start_hint, unit_dir
    from legerd.units import UNIT_NAME, render

    try:
        written = print_or_write(
            render(user=user),
            directory=directory or unit_dir(user),
            name=UNIT_NAME,
            dry_run=dry_run,
        )
    except UnitWriteError as exc:
        _fail(exc)
    if written:
        click.echo(start_hint("legerd", user=user))
