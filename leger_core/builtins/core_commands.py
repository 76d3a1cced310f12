"""``leger plugins`` and ``leger config``: the core's own commands, registered as a plugin."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from leger_core import hookimpl
from leger_core.config import parse_value
from leger_core.context import Leger
from leger_core.errors import NotFoundError


@hookimpl(trylast=True)
def leger_register_commands(cli: click.Group) -> None:
    cli.add_command(plugins_command)
    cli.add_command(config_group)


@click.command(name="plugins")
@click.option("--all", "show_all", is_flag=True, help="Include the core's built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def plugins_command(leger: Leger, show_all: bool, as_json: bool) -> None:
    """List installed plugins with their distribution, version and hooks."""
    infos = leger.pm.plugin_infos(include_defaults=show_all)
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    if not infos:
        click.echo("No plugins installed.")
        return
    for info in infos:
        origin = f"{info.distribution} {info.version}" if info.distribution else "built-in"
        click.echo(f"{info.name}  ({origin})")
        for hook in info.hooks:
            click.echo(f"    {hook}")


@click.group(name="config")
def config_group() -> None:
    """Show and change Leger's configuration file (TOML)."""


@config_group.command(name="path")
@click.pass_obj
def config_path_command(leger: Leger) -> None:
    """Print the path of the configuration file in use."""
    from leger_core.config import config_path

    click.echo(str(config_path(leger._config_path)))


@config_group.command(name="get")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def config_get(leger: Leger, key: str, as_json: bool) -> None:
    """Print the value of KEY (dotted, e.g. legerd.socket)."""
    missing = object()
    value: Any = leger.config.get(key, missing)
    if value is missing:
        raise NotFoundError(f"{key!r} is not set in {leger.config.path}")
    if as_json or isinstance(value, (dict, list)):
        click.echo(json.dumps(value, indent=2, default=str))
    else:
        click.echo(str(value).lower() if isinstance(value, bool) else str(value))


@config_group.command(name="set")
@click.argument("key")
@click.argument("value")
@click.pass_obj
def config_set(leger: Leger, key: str, value: str) -> None:
    """Set KEY to VALUE. VALUE is read as TOML when it is (true, 3, ["a","b"]), else as text."""
    leger.config.set(key, parse_value(value))
    click.echo(f"Set {key} in {leger.config.path}")


@config_group.command(name="unset")
@click.argument("key")
@click.pass_obj
def config_unset(leger: Leger, key: str) -> None:
    """Remove KEY from the configuration file."""
    if not leger.config.unset(key):
        raise NotFoundError(f"{key!r} is not set in {leger.config.path}")
    click.echo(f"Removed {key} from {leger.config.path}")
