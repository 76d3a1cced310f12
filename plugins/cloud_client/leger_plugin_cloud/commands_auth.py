"""``leger auth login|status|logout``."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from leger_core.errors import ConfigError, UsageError
from leger_core.paths import read_account

DEFAULT_PORT_HINT = "e.g. --server http://127.0.0.1:8420"


def _server_url(leger: Any, explicit: str | None) -> str:
    url = explicit or os.environ.get("LEGER_SERVER_URL") or leger.config.get("cloud.server")
    if not url:
        account = read_account()
        url = account.get("server") if account else None
    if not url:
        raise UsageError(
            "which leger-server? pass --server URL, set LEGER_SERVER_URL, or "
            f"`leger config set cloud.server URL` ({DEFAULT_PORT_HINT})"
        )
    url = str(url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--server must be an http(s) URL, not {url!r}")
    return url


@click.group(name="auth")
def auth_group() -> None:
    """Log in to a leger-server with your Tailscale identity."""


@auth_group.command(name="login")
@click.option("--server", "server", metavar="URL", help="leger-server URL (else config).")
@click.option(
    "--browser",
    is_flag=True,
    help="Also log the web UI in: opens a one-time link (or prints it and a code to enter on "
    "the server's /login page when no browser can be opened here).",
)
@click.option("--json", "as_json", is_flag=True, help="Output JSON (never the token).")
@click.pass_obj
def login(leger: Any, server: str | None, browser: bool, as_json: bool) -> None:
    """Log in with this machine's Tailscale identity and keep the token the server issues in
    the OS keyring (or a 0600 file where there is none). The server learns who you are from the
    connection (tailscaled's WhoIs); what this machine reports is only checked against that."""
    from leger_core import __version__
    from leger_plugin_cloud.client import CloudClient
    from leger_plugin_cloud.session import save_account, save_token

    url = _server_url(leger, server)
    identity = leger.identity()
    if not identity:
        raise ConfigError(
            "no identity: Tailscale is not running here and config has no [identity]",
            hint="start Tailscale, or for development `leger config set identity.user_id …` "
            "(user_id, email, tailnet, device_id)",
        )
    with CloudClient(url) as client:
        data = client.login(identity, cli_version=__version__)
    store, location = save_token(url, data["token"])
    account = save_account(url, data["user"], store, location)
    if as_json:
        click.echo(json.dumps({**account, "identity_source": identity.get("source")}, indent=2))
    else:
        click.echo(f"Logged in to {url} as {account['email']} ({account['user_uuid']}).")
        if store == "keyring":
            click.echo(f"Token stored in {location}.")
        else:
            click.echo(f"Token stored in {location} (mode 0600): no OS keyring is available.")
    if browser:
        with CloudClient(url, data["token"]) as client:
            grant = client.login_code()
        _open_login_link(url, grant, err=as_json)


def _open_login_link(url: str, grant: dict[str, Any], *, err: bool) -> None:
    """Open the one-time link in a browser, or say where to use it (as ``gh auth login``
    does). The link holds a 60-second single-use code, never the token."""
    import webbrowser

    link = f"{url}{grant['path']}"
    click.echo(
        f"One-time code: {grant['code']} (valid {grant['expires_in']} seconds, works once).",
        err=err,
    )
    if webbrowser.open(link):
        click.echo(
            f"Opened {url}/login/code in your browser: check the account and confirm.", err=err
        )
        return
    click.echo(
        f"No browser can be opened here. On any machine, open:\n  {link}\n"
        f"or go to {url}/login and enter the code.",
        err=err,
    )


@auth_group.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.option("--offline", is_flag=True, help="Do not ask the server.")
def status(as_json: bool, offline: bool) -> None:
    """Who you are logged in as, where the token is, and whether the server accepts it."""
    from leger_core.errors import LegerError
    from leger_plugin_cloud.session import current_client, require_account

    account = require_account()
    result: dict[str, Any] = dict(account)
    if not offline:
        try:
            with current_client() as client:
                me = client.me()
            result["valid"] = True
            result["display_name"] = me.get("display_name")
        except LegerError as exc:
            result["valid"] = False
            result["problem"] = str(exc)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"Server:   {account['server']}")
    click.echo(f"User:     {account.get('email')} ({account['user_uuid']})")
    click.echo(f"Token in: {account.get('token_location')}")
    if not offline:
        click.echo("Session:  " + ("valid" if result["valid"] else f"invalid: {result['problem']}"))


@auth_group.command(name="logout")
@click.option("--local", is_flag=True, help="Only forget the token here; do not ask the server.")
@click.option(
    "--all",
    "everywhere",
    is_flag=True,
    help="Log out every token of your account: every machine, every browser, and any copy "
    "someone else may hold. Log in again afterwards.",
)
def logout(local: bool, everywhere: bool) -> None:
    """Log the token out on the server, then forget it and the account info on this machine.
    Other machines and the browser stay logged in, unless --all. If the server cannot be
    reached, the token is forgotten here all the same and stays valid until it expires (this
    says so)."""
    from leger_core.errors import DeniedError, LegerError
    from leger_plugin_cloud.session import current_client, forget_account

    if local and everywhere:
        raise UsageError("--local and --all contradict each other: --all asks the server")
    problem = None
    if not local and read_account() is not None:
        try:
            with current_client() as client:
                client.logout_all() if everywhere else client.logout()
        except DeniedError as exc:
            if everywhere:
                raise DeniedError(
                    f"the server refused to log out everywhere ({exc})",
                    hint="log in again (leger auth login), then run: leger auth logout --all",
                ) from None
            # no token here, or the server refuses it already: nothing left to revoke
        except LegerError as exc:
            if everywhere:
                raise
            problem = str(exc)
    account = forget_account()
    if account is None:
        if everywhere:
            raise UsageError("not logged in: log in first (leger auth login), then use --all")
        click.echo("Not logged in.")
        return
    if everywhere:
        click.echo(
            f"Logged out of {account.get('server')} everywhere: every token of "
            f"{account.get('email')} stopped working; this one is removed."
        )
    else:
        click.echo(f"Logged out of {account.get('server')}; token removed.")
    if problem is not None:
        click.echo(
            f"Warning: the server was not told ({problem}); the token stays valid until it "
            "expires.",
            err=True,
        )
