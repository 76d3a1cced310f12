"""``leger driver …`` and ``leger inject podman|driver SERVICE``."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from leger_core.backends import format_reference
from leger_core.cli import BACKEND_HELP, subgroup
from leger_core.context import Leger
from leger_core.errors import ConfigError
from leger_core.fsutil import atomic_write
from leger_plugin_podman import driver, settings_cache
from leger_plugin_podman.injectors import DriverInjector, PodmanInjector, driver_options

if TYPE_CHECKING:
    from leger_core.strategies import SecretBackend


def register(cli: click.Group) -> None:
    cli.add_command(driver_group)
    inject = subgroup(cli, "inject", "Deliver a service's secrets with one strategy.")
    inject.add_command(inject_podman)
    inject.add_command(inject_driver)


def _storage(leger: Leger, backend: str | None) -> str:
    """The backend that keeps the driver's data; records what the fast path needs."""
    default = leger.backend_name()
    if not leger.config_from_option:
        settings_cache.record(str(leger.config_path), leger.fast_backend_settings(), default)
    return backend or default


def driver_injector(
    leger: Leger, service: str | None, backend: str | None = None
) -> DriverInjector:
    """The driver injector as ``leger inject driver`` makes it (also for ``leger deploy``):
    its commands name the backend that keeps the data, and the fast path's settings are
    recorded."""
    return DriverInjector(leger, backend=_storage(leger, leger.backend_name(service, backend)))


backend_option = click.option(
    "--backend",
    metavar="NAME",
    help="Secret backend that keeps the driver's data (default: [secrets] backend, else setec).",
)


@click.group(name="driver")
def driver_group() -> None:
    """podman's shell secret driver, backed by a secret backend (legerd by default). podman
    runs these with SECRET_ID set; `leger driver install` tells podman to use them."""


@driver_group.command(name="lookup")
@backend_option
@click.pass_obj
def lookup_command(leger: Leger, backend: str | None) -> None:
    """Write the data of secret $SECRET_ID to stdout, verbatim (a `leger:[BACKEND:]NAME`
    reference is read from its backend now)."""
    sid = driver.secret_id()
    storage = _storage(leger, backend)
    with leger.backends() as open_backend:
        data = driver.lookup(open_backend, storage, sid)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@driver_group.command(name="store")
@backend_option
@click.pass_obj
def store_command(leger: Leger, backend: str | None) -> None:
    """Keep stdin, verbatim, as the data of secret $SECRET_ID in the backend."""
    sid = driver.secret_id()
    data = sys.stdin.buffer.read(driver.MAX_DATA + 1)
    with _open(leger, backend) as store:
        driver.store(store, sid, data)


@driver_group.command(name="delete")
@backend_option
@click.pass_obj
def delete_command(leger: Leger, backend: str | None) -> None:
    """Forget the data of secret $SECRET_ID (nothing there is not an error)."""
    sid = driver.secret_id()
    with _open(leger, backend) as store:
        driver.delete(store, sid)


@driver_group.command(name="list")
@backend_option
@click.pass_obj
def list_command(leger: Leger, backend: str | None) -> None:
    """Print the ids of the secrets the backend holds for podman, one a line."""
    with _open(leger, backend) as store:
        for sid in driver.list_ids(store):
            click.echo(sid)


@contextmanager
def _open(leger: Leger, backend: str | None) -> Iterator[SecretBackend]:
    storage = _storage(leger, backend)
    with leger.backends() as open_backend:
        yield open_backend(storage)


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
    for key in ("created", "replaced", "unchanged", "removed", "kept"):
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
@click.option("--backend", metavar="NAME", help=BACKEND_HELP)
@click.pass_obj
def inject_podman(leger: Leger, service: str, backend: str | None) -> None:
    """Create or update SERVICE's podman secrets (file driver) with values read from its secret
    backend, through podman's API; unchanged values are left alone."""
    values = leger.read_values(leger.secret_plan(service, backend))
    result = PodmanInjector(leger).inject(service, values)
    _report(result.extra, service, "podman")


@click.command(name="driver")
@click.argument("service")
@click.option("--backend", metavar="NAME", help=BACKEND_HELP)
@click.pass_obj
def inject_driver(leger: Leger, service: str, backend: str | None) -> None:
    """Create SERVICE's podman secrets on the shell driver as references to its secrets
    (`leger:BACKEND:NAME`, kept in the service's backend): each container start reads the
    current value, so rotating needs no new podman secret."""
    plan = leger.secret_plan(service, backend)
    with leger.backends() as open_backend:
        for _, name_of_backend, name in plan:
            open_backend(name_of_backend).info(name)  # fail now, not at the container's start
    refs = {env: format_reference(b, name) for env, b, name in plan}
    result = driver_injector(leger, service, backend).inject_refs(service, refs)
    _report(result.extra, service, "driver")
