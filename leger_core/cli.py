"""The ``leger`` command line: built from a plugin manager, errors handled in one place."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from leger_core import __version__, fastpath
from leger_core.context import Leger
from leger_core.errors import LegerError, UsageError
from leger_core.plugins import LegerPluginManager, get_plugin_manager


class LegerGroup(click.Group):
    """Lists commands in the order they read best: alphabetically, like most CLIs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)


# The top-level commands first-party plugins add: (entry point, distribution). A user who types
# one without its plugin learns what to install instead of click's bare "No such command".
PLUGIN_COMMANDS: dict[str, tuple[str, str]] = {
    "auth": ("cloud", "leger-plugin-cloud"),
    "deploy": ("deploy", "leger-plugin-deploy"),
    "driver": ("podman", "leger-plugin-podman"),
    "local": ("setec", "leger-plugin-setec"),
    "quadlet": ("envfile", "leger-plugin-envfile"),
    "releases": ("cloud", "leger-plugin-cloud"),
    "update": ("deploy", "leger-plugin-deploy"),
}


def missing_plugin_error(command: str) -> UsageError | None:
    """Why ``leger COMMAND`` does not exist when a first-party plugin would add it: not
    installed (``pip install`` it), left out by ``LEGER_LOAD_PLUGINS``, or failed to load."""
    import os
    from importlib import metadata

    if command not in PLUGIN_COMMANDS:
        return None
    entry, dist = PLUGIN_COMMANDS[command]
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return UsageError(
            f"`leger {command}` comes from the plugin {dist}, which is not installed",
            hint=f"pip install {dist}",
        )
    if os.environ.get("LEGER_LOAD_PLUGINS") is not None:
        return UsageError(
            f"`leger {command}` comes from the plugin {dist}, which LEGER_LOAD_PLUGINS leaves out",
            hint=f"add {entry} to LEGER_LOAD_PLUGINS, or unset it to load every plugin",
        )
    return UsageError(
        f"`leger {command}` comes from the plugin {dist}, which is installed but did not load",
        hint="see the warning above; `leger plugins` lists what loaded",
    )


class LegerRootGroup(LegerGroup):
    """``leger`` itself: a command of a first-party plugin that is not loaded says which."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not ctx.resilient_parsing:
            error = missing_plugin_error(args[0])
            if error is not None:
                raise error
        return super().resolve_command(ctx, args)


# The ``--backend`` option's help, the same on every command that reads values.
BACKEND_HELP = (
    "Secret backend for references that do not name one (default: [services.X] backend, "
    "else [secrets] backend, else setec)."
)


def subgroup(parent: click.Group, name: str, help: str) -> click.Group:
    """The group ``name`` under ``parent``, created if no plugin has made it yet, so several
    plugins can add commands to ``leger secrets`` or ``leger inject``."""
    existing = parent.commands.get(name)
    if existing is not None:
        if not isinstance(existing, click.Group):
            raise LegerError(f"command {name!r} exists and is not a group")
        return existing
    group = LegerGroup(name=name, help=help)
    parent.add_command(group)
    return group


def build_cli(pm: LegerPluginManager) -> click.Group:
    """A fresh CLI with exactly the commands of ``pm``'s plugins (tests build their own)."""

    @click.group(
        cls=LegerRootGroup,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.version_option(__version__, "--version", prog_name="leger")
    @click.option(
        "--config",
        "config_path",
        metavar="PATH",
        help="Config file (default: $LEGER_CONFIG, else ~/.config/leger/config.toml).",
    )
    @click.pass_context
    def cli(ctx: click.Context, config_path: str | None) -> None:
        """Leger gets your API keys into the Podman containers that need them, and deploys
        and updates those containers safely.

        Exit codes: 0 ok, 1 error, 2 usage, 3 config, 4 not found, 5 unavailable,
        6 denied, 7 invalid input, 8 conflict, 130 interrupted.
        """
        ctx.obj = Leger(pm, config_path=config_path)

    pm.hook.leger_register_commands(cli=cli)
    return cli


def fast_commands(pm: LegerPluginManager) -> dict[str, str]:
    mapping: dict[str, str] = {}

    def register(words: str, target: str) -> None:
        mapping[words] = target

    pm.hook.leger_register_fast_commands(register=register)
    return mapping


def run(cli: click.Group, args: Sequence[str]) -> int:
    """Run ``cli`` and turn every outcome into an exit code; the one place errors are shown."""
    try:
        result: Any = cli.main(args=list(args), prog_name="leger", standalone_mode=False)
    except LegerError as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    return result if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None, *, try_fast: bool = True) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    fast = fastpath.find(args) if try_fast else None
    if fast is not None:
        code = fast(args[2:])
        if code is not None:
            return code
    try:
        pm = get_plugin_manager()
        cli = build_cli(pm)
        fastpath.update_cache(fast_commands(pm))
    except LegerError as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    return run(cli, args)
