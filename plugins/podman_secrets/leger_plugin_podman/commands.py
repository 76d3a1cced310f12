"""``leger driver …`` and ``leger inject podman|driver SERVICE``."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from leger_core.cli import subgroup
from leger_core.config import config_path
from leger_core.context import Leger
from leger_core.errors import ConfigError
from leger_core.fsutil import atomic_write
from leger_plugin_podman import driver, settings_cache
from leger_plugin_podman.injectors import DriverInjector, PodmanInjector, driver_options

if TYPE_CHECKING:
    from leger_plugin_setec.client import SetecClient


def register(cli: click.Group) -> None:
    cli.add_command(driver_group)
    inject = subgroup(cli, "inject", "Deliver a service's secrets with one strategy.")
    inject.add_command(inject_podman)
    inject.add_command(inject_driver)


def _client(leger: Leger) -> SetecClient:
    from leger_plugin_setec.client import client_from_config

    if not leger._config_path:
        settings_cache.record(str(config_path(None)), leger.config)
    return client_from_config(leger.config)


@click.group(name="driver")
def driver_group() -> None:
    """podman's shell secret driver, backed by legerd. podman runs these with SECRET_ID set;
    `leger driver install` tells podman to use them."""


@driver_group.command(name="lookup")
@click.pass_obj
def lookup_command(leger: Leger) -> None:
    """Write the data of secret $SECRET_ID to stdout, verbatim (a `leger:NAME` reference is
    resolved in legerd now)."""
    sid = driver.secret_id()
    with _client(leger) as client:
        data = driver.lookup(client, sid)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@driver_group.command(name="store")
@click.pass_obj
def store_command(leger: Leger) -> None:
    """Keep stdin, verbatim, as the data of secret $SECRET_ID in legerd."""
    sid = driver.secret_id()
    data = sys.stdin.buffer.read(driver.MAX_DATA + 1)
    with _client(leger) as client:
        driver.store(client, sid, data)


@driver_group.command(name="delete")
@click.pass_obj
def delete_command(leger: Leger) -> None:
    """Forget the data of secret $SECRET_ID (nothing there is not an error)."""
    sid = driver.secret_id()
    with _client(leger) as client:
        driver.delete(client, sid)


@driver_group.command(name="list")
@click.pass_obj
def list_command(leger: Leger) -> None:
    """Print the ids of the secrets legerd holds for podman, one a line."""
    with _client(leger) as client:
        for sid in driver.list_ids(client):
            click.echo(sid)


def _containers_conf() -> Path:
    import os

    explicit = os.environ.get("CONTAINERS_CONF")
    if explicit:
        return Path(explicit)
    if os.getuid() == 0:
        return Path("/etc/containers/containers.conf")
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "containers" / "containers.conf"


@driver_group.command(name="install")
@click.option("--print", "print_only", is_flag=True, help="Show the lines; change nothing.")
@click.option(
    "--path",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="containers.conf to change (default: $CONTAINERS_CONF, else the user's or root's).",
)
@click.option("--default", "make_default", is_flag=True, help="Also make shell the default driver.")
def install_command(print_only: bool, path: Path | None, make_default: bool) -> None:
    """Point podman's shell secret driver at `leger driver`, so that
    `podman secret create --driver shell NAME -` keeps NAME's value in legerd. LEGERD_SOCKET and
    LEGER_CONFIG, when set now, are written into the commands."""
    import tomli_w

    opts = driver_options()
    table: dict[str, object] = {"opts": opts}
    if make_default:
        table = {"driver": "shell", **table}
    if print_only:
        click.echo(tomli_w.dumps({"secrets": table}), nl=False)
        return
    target = path or _containers_conf()
    try:
        data = tomllib.loads(target.read_text()) if target.exists() else {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {target}: {exc}") from None
    secrets = data.setdefault("secrets", {})
    if not isinstance(secrets, dict):
        raise ConfigError(f"[secrets] in {target} is not a table")
    secrets["opts"] = {**secrets.get("opts", {}), **opts}
    if make_default:
        secrets["driver"] = "shell"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, tomli_w.dumps(data).encode(), mode=0o644)
    click.echo(f"Wrote the shell driver options to {target}")


def _report(result_extra: dict[str, str], service: str, strategy: str) -> None:
    for key in ("created", "replaced", "unchanged", "removed"):
        if result_extra.get(key):
            click.echo(f"{key}: {result_extra[key]}")
    click.echo(f"# Add to {service}.container ({strategy} strategy):")
    if strategy == "driver":
        # Every start runs `leger driver lookup`: at boot it must wait for legerd (Type=notify,
        # so After= means listening). Wants=, not Requires=: a legerd restart must not stop it.
        click.echo("[Unit]\nWants=legerd.service\nAfter=legerd.service\n\n[Container]")
    click.echo(result_extra["quadlet"], nl=False)


@click.command(name="podman")
@click.argument("service")
@click.pass_obj
def inject_podman(leger: Leger, service: str) -> None:
    """Create or update SERVICE's podman secrets (file driver) from legerd through podman's API;
    unchanged values are left alone."""
    wanted = leger.service_secrets(service)
    with _client(leger) as client:
        values = {s.env: client.get(s.secret) for s in wanted}
    result = PodmanInjector(leger).inject(service, values)
    _report(result.extra, service, "podman")


@click.command(name="driver")
@click.argument("service")
@click.pass_obj
def inject_driver(leger: Leger, service: str) -> None:
    """Create SERVICE's podman secrets on the shell driver as references to legerd secrets: each
    container start reads the current value, so rotating needs no new podman secret."""
    wanted = leger.service_secrets(service)
    with _client(leger) as client:
        for s in wanted:
            client.info(s.secret)  # fail now, not at the container's start
    result = DriverInjector(leger).inject_refs(service, {s.env: s.secret for s in wanted})
    _report(result.extra, service, "driver")
