"""``leger status``: one screen saying whether this machine is healthy, and what to do if not.

The core only gathers and shows; each plugin reports its own part through ``leger_status``
(legerd, the account, services, deployments). The core's own check is the config file.
"""

from __future__ import annotations

import json

import click

from leger_core import hookimpl
from leger_core.context import Leger
from leger_core.errors import ConfigError
from leger_core.status import StatusCheck, collect, render

NEEDS_ACTION_EXIT = 1


@hookimpl(trylast=True)
def leger_register_commands(cli: click.Group) -> None:
    cli.add_command(status_command)


@hookimpl(trylast=True)
def leger_status(leger: Leger) -> list[StatusCheck]:
    path = leger.config_path
    try:
        config = leger.config
    except ConfigError as exc:
        return [
            StatusCheck(
                "config",
                str(path),
                ok=False,
                summary=str(exc),
                action=f"fix the file, or see: leger config path ({path})",
            )
        ]
    services = sorted(config.section("services"))
    summary = f"{len(services)} service(s) configured" if path.exists() else "no file: defaults"
    return [
        StatusCheck("config", str(path), ok=True, summary=summary, facts={"exists": path.exists()})
    ]


@click.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Output JSON: {ok, checks: [...]}.")
@click.pass_obj
def status_command(leger: Leger, as_json: bool) -> None:
    """Is this machine healthy? legerd, the account, each service's secrets (names only) and
    each deployment's units, with what to do about anything wrong.

    Exits 1 when something needs action, 0 when all is well. Every check that talks to a
    daemon or server gives up after a short timeout.
    """
    checks = collect(leger)
    healthy = all(c.ok for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": healthy, "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        for line in render(checks):
            click.echo(line)
    if not healthy:
        click.get_current_context().exit(NEEDS_ACTION_EXIT)
