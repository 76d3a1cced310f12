"""``leger local``: the secrets in legerd, by hand.

``put`` reads the value from stdin or ``--file`` (never from an argument, which every user on
the machine can read in ``ps``); on a terminal it asks without echoing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from leger_core.errors import InvalidInputError
from leger_core.models import SecretValue
from leger_plugin_setec.client import SetecClient, client_from_config


def _client(ctx: click.Context) -> SetecClient:
    leger: Any = ctx.find_root().obj
    return client_from_config(leger.config if leger is not None else None)


@click.group()
def local() -> None:
    """The secrets in the local legerd (LEGERD_SOCKET, or config legerd.socket)."""


@local.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every secret you may see: name, versions, active version. Never values."""
    infos = _client(ctx).list()
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], indent=2))
        return
    if not infos:
        click.echo("no secrets")
        return
    width = max(len(i.name) for i in infos)
    for i in infos:
        versions = ",".join(str(v) for v in i.versions)
        click.echo(f"{i.name:<{width}}  active {i.active_version}  versions {versions}")


@local.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def info(ctx: click.Context, name: str, as_json: bool) -> None:
    """A secret's versions and which one is active."""
    i = _client(ctx).info(name)
    if as_json:
        click.echo(json.dumps(i.as_dict(), indent=2))
    else:
        versions = ",".join(str(v) for v in i.versions)
        click.echo(f"{i.name}: active {i.active_version}, versions {versions}")


@local.command()
@click.argument("name")
@click.option(
    "--version",
    "version",
    type=click.IntRange(min=0),
    default=0,
    help="A specific version (default: the active one).",
)
@click.pass_context
def get(ctx: click.Context, name: str, version: int) -> None:
    """Write a secret's value to stdout, exactly (no newline added)."""
    value = _client(ctx).get(name, version)
    out = sys.stdout.buffer
    out.write(value.reveal())
    out.flush()


@local.command()
@click.argument("name")
@click.option("--file", "file", type=click.File("rb"), help="Read the value from this file.")
@click.option("--activate", is_flag=True, help="Make the new version active right away.")
@click.pass_context
def put(ctx: click.Context, name: str, file: Any, activate: bool) -> None:
    """Store a value read from stdin (or --file). A changed value makes a new version, which
    stays inactive until activated (the first version is active)."""
    if file is not None:
        data: bytes = file.read()
    elif sys.stdin.isatty():
        data = click.prompt(f"Value for {name}", hide_input=True).encode()
    else:
        data = sys.stdin.buffer.read()
    if not data:
        raise InvalidInputError("empty value: nothing stored")
    client = _client(ctx)
    version = client.put(name, SecretValue(data))
    if activate:
        client.activate(name, version)
    active = client.info(name).active_version
    state = "active" if active == version else f"inactive; active is {active}"
    click.echo(f"{name}: version {version} ({state})")
    if active != version:
        click.echo(f"make it active with: leger local activate {name} {version}", err=True)


@local.command("activate")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.pass_context
def activate_(ctx: click.Context, name: str, version: int) -> None:
    """Make VERSION the one every reader gets."""
    _client(ctx).activate(name, version)
    click.echo(f"{name}: version {version} is active")


@local.command()
@click.argument("name")
@click.option(
    "--version", "version", type=click.IntRange(min=1), help="Delete just this (inactive) version."
)
@click.pass_context
def delete(ctx: click.Context, name: str, version: int | None) -> None:
    """Delete a secret (every version), or one inactive version."""
    client = _client(ctx)
    if version:
        client.delete_version(name, version)
        click.echo(f"{name}: version {version} deleted")
    else:
        client.delete(name)
        click.echo(f"{name}: deleted")
