"""``leger inject initscript SERVICE``."""

from __future__ import annotations

from pathlib import Path

import click

from leger_core.cli import subgroup
from leger_core.context import Leger
from leger_plugin_initscript.injector import write_script
from leger_plugin_initscript.render import quadlet_lines

DEFAULT_ADDR = "host.containers.internal:8080"


def register(cli: click.Group) -> None:
    inject = subgroup(cli, "inject", "Deliver a service's secrets with one strategy.")
    inject.add_command(inject_initscript)


@click.command(name="initscript")
@click.argument("service")
@click.option(
    "--legerd-addr",
    metavar="HOST:PORT",
    help="legerd's TCP listener as the container reaches it (default: config "
    f"initscript.legerd_addr, else {DEFAULT_ADDR}).",
)
@click.option("--command", "command", metavar="CMD", help="The container's command, for Exec=.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the script (default: $XDG_DATA_HOME/leger/initscript/SERVICE.sh).",
)
@click.pass_obj
def inject_initscript(
    leger: Leger, service: str, legerd_addr: str | None, command: str | None, output: Path | None
) -> None:
    """Write SERVICE's init script — POSIX sh that fetches its secrets from legerd when the
    container starts, then execs the command — and print the quadlet lines that mount it."""
    plan = [(s.env, s.secret) for s in leger.service_secrets(service)]
    path = write_script(service, plan, output)
    addr = legerd_addr or leger.config.get("initscript.legerd_addr") or DEFAULT_ADDR
    click.echo(f"Wrote {path} ({', '.join(env for env, _ in plan) or 'no secrets'})")
    click.echo(quadlet_lines(service, str(path), str(addr), command), nl=False)
