"""``leger secrets list|get|set|rm|sync``: the account's secrets on leger-server.

``set`` reads the value from stdin or ``--file``, never from an argument (every user on the
machine can read arguments in ``ps``); on a terminal it asks without echoing."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from leger_core.errors import InvalidInputError
from leger_core.models import SecretValue


def _client(leger: Any) -> Any:
    from leger_plugin_cloud.session import current_client

    return current_client(leger)


def register(secrets: click.Group) -> None:
    for command in (list_cmd, get_cmd, set_cmd, rm_cmd, sync_cmd):
        secrets.add_command(command)


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Output JSON (names and versions only).")
@click.pass_obj
def list_cmd(leger: Any, as_json: bool) -> None:
    """The names and versions of your account's secrets (never values)."""
    with _client(leger) as client:
        items = client.list_secrets()
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("No secrets in your account.")
        return
    width = max(len(i["name"]) for i in items)
    for i in items:
        click.echo(f"{i['name']:<{width}}  v{i['version']}  updated {i['updated_at']}")


@click.command(name="get")
@click.argument("name")
@click.pass_obj
def get_cmd(leger: Any, name: str) -> None:
    """Print the value of NAME from your account."""
    with _client(leger) as client:
        value = client.get_secret(name)
    out = sys.stdout.buffer
    out.write(value.reveal())
    out.write(b"\n")
    out.flush()


def _read_value(file: str | None) -> SecretValue:
    if file is not None:
        try:
            with click.open_file(file, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InvalidInputError(f"cannot read {file}: {exc.strerror}") from None
    elif sys.stdin.isatty():
        data = click.prompt("Value", hide_input=True).encode()
    else:
        data = sys.stdin.buffer.read()
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise InvalidInputError("empty value; nothing stored")
    return SecretValue(data)


@click.command(name="set")
@click.argument("name")
@click.option("--file", "file", metavar="PATH", help="Read the value from PATH ('-' = stdin).")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def set_cmd(leger: Any, name: str, file: str | None, as_json: bool) -> None:
    """Store NAME in your account; the value comes from stdin or --file (one trailing newline
    is dropped)."""
    value = _read_value(file)
    with _client(leger) as client:
        result = client.set_secret(name, value)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif result.get("changed", True):
        click.echo(f"Stored {name} (version {result['version']}).")
    else:
        click.echo(f"{name} unchanged (version {result['version']}).")


@click.command(name="rm")
@click.argument("name")
@click.pass_obj
def rm_cmd(leger: Any, name: str) -> None:
    """Delete NAME from your account."""
    with _client(leger) as client:
        client.delete_secret(name)
    click.echo(f"Deleted {name}.")


@click.command(name="sync")
@click.option("--podman", is_flag=True, help="Then refresh podman secrets of every service.")
@click.option(
    "--backend",
    metavar="NAME",
    help="Secret backend to copy into (default: [secrets] backend, else setec = legerd).",
)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def sync_cmd(leger: Any, podman: bool, backend: str | None, as_json: bool) -> None:
    """Copy your account's secrets into the local secret backend (legerd unless configured
    otherwise) under leger/<user_uuid>/<name>. Unchanged values make no new versions."""
    from leger_core.errors import LegerError, UsageError
    from leger_plugin_cloud.session import record_sync, require_account
    from leger_plugin_cloud.sync import inject_podman, sync_secrets

    target = leger.backend_name(override=backend)
    if target == "cloud":
        raise UsageError("sync copies from the cloud account: choose a local --backend")
    account = require_account()
    with _client(leger) as cloud, leger.backends() as open_backend:
        store = open_backend(target)
        report = sync_secrets(cloud, store, str(account["user_uuid"]))
        record_sync(target)
        if podman:
            inject_podman(leger, store, report, target)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(
            f"Synced to {target} under {report.prefix}: {len(report.added)} added, "
            f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.removed)} removed."
        )
        for label, names in (
            ("added", report.added),
            ("updated", report.updated),
            ("removed", report.removed),
        ):
            for name in names:
                click.echo(f"  {label:<8} {name}")
        for item in report.injected:
            click.echo(f"  podman   {item['service']}: {', '.join(item['names'])}")
    if report.failed:
        for service, problem in report.failed.items():
            click.echo(f"Error: podman secrets for {service}: {problem}", err=True)
        raise LegerError(f"{len(report.failed)} service(s) could not be refreshed in podman")
