"""``leger secrets fetch|clean`` and ``leger quadlet snippet``: the click side of the envfile
strategy. The work itself is in :mod:`leger_plugin_envfile.fetch`, shared with the fast path."""

from __future__ import annotations

import click

from leger_core.cli import BACKEND_HELP, subgroup
from leger_core.context import Leger
from leger_core.paths import account_file
from leger_plugin_envfile import plans
from leger_plugin_envfile.fetch import Fetched, clean, env_file_path, fetch
from leger_plugin_envfile.snippet import quadlet_snippet


def register(cli: click.Group) -> None:
    secrets = subgroup(cli, "secrets", "Secrets: fetch them for a service, sync, list.")
    secrets.add_command(fetch_command)
    secrets.add_command(clean_command)
    quadlet = subgroup(cli, "quadlet", "Lines to add to a service's quadlet files.")
    quadlet.add_command(snippet_command)


def resolve(leger: Leger, service: str, backend: str | None = None) -> plans.Plan:
    """The service's (env var, backend, secret name) triples through every plugin, recorded in
    the fast path's cache when every provider can say which files its answer depends on (not
    with ``--backend``: the fast path never sees that option)."""
    plan = leger.secret_plan(service, backend)
    inputs = _cache_inputs(leger) if backend is None else None
    if inputs is not None:
        plans.record(service, plan, leger.fast_backend_settings(), inputs)
    return plan


def _cache_inputs(leger: Leger) -> list[str] | None:
    if leger.config_from_option:  # the fast path never sees --config
        return None
    import sysconfig

    # site-packages changes when a plugin is installed or removed (a new provider may answer).
    inputs = [str(leger.config_path), str(account_file()), sysconfig.get_paths()["purelib"]]
    hook = leger.pm.hook
    providers = {impl.plugin_name for impl in hook.leger_service_secrets.get_hookimpls()}
    declaring = {impl.plugin_name for impl in hook.leger_service_secrets_inputs.get_hookimpls()}
    if providers - declaring - {plans.CONFIG_PROVIDER}:
        return None  # a provider that cannot say what it reads: never cache its answer
    for declared in hook.leger_service_secrets_inputs(config=leger.config):
        inputs.extend(str(p) for p in declared or ())
    return inputs


@click.command(name="fetch")
@click.argument("service")
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="Write here instead of $XDG_RUNTIME_DIR/leger/SERVICE.env.",
)
@click.option("--backend", metavar="NAME", help=BACKEND_HELP)
@click.pass_obj
def fetch_command(leger: Leger, service: str, output: str | None, backend: str | None) -> None:
    """Write SERVICE's secrets to its env file (0600, atomic) for podman's --env-file and
    systemd's EnvironmentFile=, reading them from the service's secret backend (legerd unless
    configured otherwise). Run by ExecStartPre= at every start; a value that cannot be written
    exactly (a newline, …), a missing secret or a backend that is down is an error, and then
    no file is left."""
    plan = resolve(leger, service, backend)
    result: Fetched = fetch(service, plan, leger.read_values, output)
    click.echo(result.message())


@click.command(name="clean")
@click.argument("service")
@click.option("-o", "--output", metavar="PATH", help="The file given to fetch --output.")
def clean_command(service: str, output: str | None) -> None:
    """Remove SERVICE's env file (for ExecStopPost=). Nothing to remove is not an error."""
    path = output or env_file_path(service)
    removed = clean(service, output)
    click.echo(f"Removed {path}" if removed else f"Nothing to remove at {path}")


@click.command(name="snippet")
@click.argument("service")
@click.pass_obj
def snippet_command(leger: Leger, service: str) -> None:
    """Print the lines to add to SERVICE's .container file so it gets its secrets through an
    env file fetched at every start and removed at stop."""
    click.echo(quadlet_snippet(service, leger.service_secrets(service)), nl=False)
