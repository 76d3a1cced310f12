"""``leger inject initscript SERVICE``."""

from __future__ import annotations

from pathlib import Path

import click

from leger_core.backends import DEFAULT_BACKEND
from leger_core.cli import subgroup
from leger_core.context import Leger
from leger_core.errors import UnsupportedError
from leger_plugin_initscript.injector import write_script
from leger_plugin_initscript.render import quadlet_lines

DEFAULT_ADDR = "host.containers.internal:8080"


def setec_plan(plan: list[tuple[str, str, str]], service: str) -> list[tuple[str, str]]:
    """(env, legerd name) pairs; a secret in another backend is refused before anything is
    written. The script runs inside the container and reads legerd's TCP listener with
    setec's API; another store (pass, the cloud account) has no such endpoint there."""
    for env, backend, name in plan:
        if backend != DEFAULT_BACKEND:
            raise UnsupportedError(
                f"service {service!r}: {env} comes from secret backend {backend!r} "
                f"({name!r}); the initscript strategy reads only legerd (setec) from inside "
                "the container",
                hint="use `leger inject podman`, `leger inject driver` or `leger secrets fetch` "
                "for it, or copy the value into legerd",
            )
    return [(env, name) for env, _, name in plan]


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
    container starts, then execs the command — and print the quadlet lines that mount it.
    Only for secrets in the setec backend: the script speaks setec's HTTP API."""
    plan = setec_plan(leger.secret_plan(service), service)
    path = write_script(service, plan, output)
    addr = legerd_addr or leger.config.get("initscript.legerd_addr") or DEFAULT_ADDR
    click.echo(f"Wrote {path} ({', '.join(env for env, _ in plan) or 'no secrets'})")
    click.echo(quadlet_lines(service, str(path), str(addr), command), nl=False)
