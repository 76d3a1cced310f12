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

REGISTER_HOOKS = {
    "leger_register_secret_backends": "secret backends",
    "leger_register_injectors": "injectors",
    "leger_register_release_sources": "release sources",
}


@hookimpl(trylast=True)
def leger_register_commands(cli: click.Group) -> None:
    cli.add_command(plugins_command)
    cli.add_command(config_group)
    cli.add_command(completion_command)


@click.command(name="plugins")
@click.option("--all", "show_all", is_flag=True, help="Include the core's built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def plugins_command(leger: Leger, show_all: bool, as_json: bool) -> None:
    """List installed plugins with their distribution, version and hooks."""
    infos = leger.pm.plugin_infos(include_defaults=show_all)
    registered = _registered_names(leger)
    rows = [{**asdict(i), "registers": registered.get(i.name, {})} for i in infos]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("No plugins installed.")
    for row in rows if not as_json else []:
        origin = f"{row['distribution']} {row['version']}" if row["distribution"] else "built-in"
        click.echo(f"{row['name']}  ({origin})")
        click.echo(f"    hooks: {', '.join(row['hooks'])}")
        for kind, names in row["registers"].items():
            click.echo(f"    {kind}: {', '.join(names)}")
    # Listing never hides a clash; building the registries raises the one clear error for it.
    for registry in ("secret_backends", "injectors", "release_sources"):
        getattr(leger, registry)


def _registered_names(leger: Leger) -> dict[str, dict[str, list[str]]]:
    """plugin name → kind → names it registered (backends, injectors, release sources)."""
    # Collected without a Registry so a duplicate name shows here instead of failing the
    # very command a user runs to find out which plugins clash.
    out: dict[str, dict[str, list[str]]] = {}
    for hook, kind in REGISTER_HOOKS.items():
        for impl in getattr(leger.pm.hook, hook).get_hookimpls():
            names: list[str] = []
            impl.function(register=lambda name, factory, _names=names: _names.append(name))
            if names:
                out.setdefault(impl.plugin_name, {})[kind] = sorted(names)
    return out


@click.group(name="config")
def config_group() -> None:
    """Show and change Leger's configuration file (TOML)."""


@config_group.command(name="path")
@click.pass_obj
def config_path_command(leger: Leger) -> None:
    """Print the path of the configuration file in use."""
    click.echo(str(leger.config_path))


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


COMPLETION_SHELLS = ("bash", "zsh", "fish")


@click.command(name="completion")
@click.argument("shell", type=click.Choice(COMPLETION_SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL (click's own).

    \b
    bash: eval "$(leger completion bash)"   in ~/.bashrc
    zsh:  eval "$(leger completion zsh)"    in ~/.zshrc
    fish: leger completion fish > ~/.config/fish/completions/leger.fish
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root().command
    # The script calls `leger` back with _LEGER_COMPLETE set; click answers that in
    # cli.main() before any command runs, so completions never touch config or legerd.
    completer = get_completion_class(shell)
    if completer is None:  # click dropped a shell that COMPLETION_SHELLS still names
        raise click.UsageError(f"click has no completion for {shell}")
    click.echo(completer(root, {}, "leger", "_LEGER_COMPLETE").source())
