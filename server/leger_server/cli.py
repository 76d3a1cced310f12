"""``leger-server`` command line: serve, migrate, rotate-key, install-unit, health."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from leger_core.sdunits import dir_option, dry_run_option
from leger_server import __version__
from leger_server.errors import SettingsError

_COMMON = [
    click.option(
        "--data-dir",
        envvar="LEGER_SERVER_DATA_DIR",
        default="./leger-server-data",
        show_default=True,
        help="SQLite database, blobs and (dev) keys live here unless set otherwise.",
    ),
    click.option(
        "--database",
        "database_url",
        envvar="LEGER_SERVER_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql://user@host/db (default: SQLite in the data dir).",
    ),
    click.option(
        "--blobs",
        "blobs_url",
        envvar="LEGER_SERVER_BLOBS_URL",
        help="A directory or s3://bucket/prefix?endpoint=URL (default: <data-dir>/blobs).",
    ),
    click.option(
        "--identity",
        type=click.Choice(["tailscale", "tailscale-serve", "dev"]),
        envvar="LEGER_SERVER_IDENTITY",
        default="tailscale",
        show_default=True,
        help="Who logs in: tailscale = tailscaled's WhoIs of the connection; tailscale-serve = "
        "tailscale serve's identity headers from a trusted proxy (listen on loopback only); "
        "dev trusts every claim: for development only.",
    ),
]

_IDENTITY_OPTIONS = [
    click.option(
        "--tailscale-socket",
        envvar="LEGER_SERVER_TAILSCALE_SOCKET",
        default=None,
        help="tailscaled's LocalAPI socket for --identity tailscale "
        "[default: /var/run/tailscale/tailscaled.sock].",
    ),
    click.option(
        "--trusted-proxy",
        "trusted_proxies",
        multiple=True,
        metavar="IP[/BITS]",
        help="A peer whose Tailscale-User-* headers --identity tailscale-serve believes "
        "(repeatable; env LEGER_SERVER_TRUSTED_PROXIES, comma-separated) [default: 127.0.0.1, "
        "::1].",
    ),
]


def _common(fn: Any) -> Any:
    for option in reversed(_COMMON):
        fn = option(fn)
    return fn


def _settings(**kwargs: Any) -> Any:
    from leger_server.settings import Settings

    try:
        return Settings.build(**kwargs)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leger-server")
def main() -> None:
    """Leger's cloud account service."""
    # Everything the server writes (database, WAL, keys, blobs, staged uploads) is for its own
    # user only; SQLite and tempfile would otherwise follow the caller's umask (often 022).
    os.umask(0o077)


@main.command()
@_common
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8420, show_default=True, type=int)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes."
)
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--header-timeout",
    envvar="LEGER_SERVER_HEADER_TIMEOUT",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a request's headers may take to arrive; then the connection is closed.",
)
@click.option(
    "--read-timeout",
    envvar="LEGER_SERVER_READ_TIMEOUT",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a request body may pause; then the connection is closed.",
)
@click.option(
    "--max-connections",
    envvar="LEGER_SERVER_MAX_CONNECTIONS",
    default=0,
    type=click.IntRange(min=0),
    help="Connections open at once, per worker (default 0: half the descriptor limit, "
    "at most 1000).",
)
@click.option(
    "--max-connections-per-peer",
    envvar="LEGER_SERVER_MAX_CONNECTIONS_PER_PEER",
    default=64,
    show_default=True,
    type=click.IntRange(min=0),
    help="Of those, from one client address (0: no such cap; a local proxy is one address).",
)
@_IDENTITY_OPTIONS[0]
@_IDENTITY_OPTIONS[1]
def serve(
    data_dir: str,
    database_url: str | None,
    blobs_url: str | None,
    identity: str,
    tailscale_socket: str | None,
    trusted_proxies: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    log_level: str,
    header_timeout: float,
    read_timeout: float,
    max_connections: int,
    max_connections_per_peer: int,
) -> None:
    """Run the API (and the web UI when installed) with uvicorn."""
    import uvicorn

    from leger_server.accesslog import uvicorn_log_config
    from leger_server.app import create_app
    from leger_server.connguard import ConnectionLimits, GuardedHTTPProtocol
    from leger_server.db import make_engine, migrate

    settings = _settings(
        data_dir=data_dir,
        database_url=database_url,
        blobs_url=blobs_url,
        identity=identity,
        tailscale_socket=tailscale_socket,
        trusted_proxies=trusted_proxies or None,
    )
    limits = ConnectionLimits(
        header_timeout=header_timeout,
        read_timeout=read_timeout,
        max_connections=max_connections,
        max_connections_per_peer=max_connections_per_peer,
    )
    # This process uses the class directly; worker processes import it and read the env.
    GuardedHTTPProtocol.limits = limits
    os.environ.update(limits.to_env())
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if identity == "dev":
        click.secho(
            "WARNING: --identity dev trusts every login claim without asking Tailscale. "
            "Use it only for development, never on a reachable address.",
            fg="red",
            bold=True,
            err=True,
        )
    if identity == "tailscale-serve" and host not in ("127.0.0.1", "::1", "localhost"):
        click.secho(
            f"WARNING: --identity tailscale-serve on {host}: listen on loopback only, so that "
            "only tailscale serve reaches the server.",
            fg="red",
            bold=True,
            err=True,
        )
    # With a Tailscale identity the peer address is the identity: uvicorn must not replace it
    # with one an X-Forwarded-For header names.
    proxy_headers = identity == "dev"
    # Migrate once here so several workers do not race to do it.
    migrate(make_engine(settings.database_url))
    settings.auto_migrate = False
    click.echo(f"leger-server {__version__} on http://{host}:{port} ({settings!r})", err=True)
    if workers > 1:
        # Worker processes build the app themselves from the environment.
        os.environ.update(
            LEGER_SERVER_DATA_DIR=str(settings.data_dir),
            LEGER_SERVER_DATABASE_URL=settings.database_url,
            LEGER_SERVER_BLOBS_URL=settings.blobs_url,
            LEGER_SERVER_IDENTITY=settings.identity,
            LEGER_SERVER_TAILSCALE_SOCKET=settings.tailscale_socket,
            LEGER_SERVER_TRUSTED_PROXIES=",".join(settings.trusted_proxies),
        )
        uvicorn.run(
            "leger_server.asgi:app_from_env",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
            log_config=uvicorn_log_config(),
            server_header=False,
            http=GuardedHTTPProtocol,
            proxy_headers=proxy_headers,
        )
        return
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=uvicorn_log_config(),
        server_header=False,
        http=GuardedHTTPProtocol,
        proxy_headers=proxy_headers,
    )


@main.command(name="migrate")
@_common
def migrate_command(
    data_dir: str, database_url: str | None, blobs_url: str | None, identity: str
) -> None:
    """Create or upgrade the database schema (alembic) and exit."""
    from leger_server.db import current_revision, make_engine, migrate

    settings = _settings(
        data_dir=data_dir, database_url=database_url, blobs_url=blobs_url, identity=identity
    )
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    migrate(engine)
    after = current_revision(engine)
    click.echo(f"database at revision {after} (was {before or 'empty'})")


@main.command(name="rotate-key")
@_common
@click.option(
    "--new/--no-new",
    default=True,
    show_default=True,
    help="Generate a new active key into the keys file first (keys from the environment: "
    "set LEGER_SERVER_ACTIVE_KEY to the new id and use --no-new).",
)
def rotate_key(
    data_dir: str, database_url: str | None, blobs_url: str | None, identity: str, new: bool
) -> None:
    """Re-encrypt every secret with the active key. Old keys stay readable, so running servers
    keep working; they pick up a new key from the keys file when they meet it."""
    from leger_server.crypto import SecretCipher
    from leger_server.db import make_engine, migrate
    from leger_server.secret_store import SecretStore

    settings = _settings(
        data_dir=data_dir, database_url=database_url, blobs_url=blobs_url, identity=identity
    )
    keys = settings.keys
    if new:
        if keys.source is None:
            raise click.ClickException(
                "keys come from the environment: add the new key to "
                "LEGER_SERVER_ENCRYPTION_KEYS, set LEGER_SERVER_ACTIVE_KEY, and pass --no-new"
            )
        new_id = f"k{len(keys.encryption_keys) + 1}"
        while new_id in keys.encryption_keys:
            new_id = f"{new_id}x"
        keys.encryption_keys[new_id] = secrets.token_bytes(32)
        keys.active_key = new_id
        keys.save()
        click.echo(f"new active key {new_id} written to {keys.source}")
    engine = make_engine(settings.database_url)
    migrate(engine)
    count = SecretStore(engine, SecretCipher(keys)).reencrypt_all()
    click.echo(f"re-encrypted {count} secret(s) with key {keys.active_key}")


@main.command(name="install-unit")
@dir_option("Write leger-server.service here (default: /etc/systemd/system).")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default="/etc/leger-server/leger-server.env",
    show_default=True,
    help="The environment file the unit reads keys and settings from (0600, root).",
)
@click.option(
    "--identity",
    type=click.Choice(["tailscale", "tailscale-serve", "dev"]),
    default="tailscale",
    show_default=True,
    help="The unit's default identity mode (LEGER_SERVER_IDENTITY in the env file wins).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8420, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--new-keys",
    is_flag=True,
    help="Create the env file with fresh keys if it does not exist (an existing one is kept).",
)
@dry_run_option
def install_unit(
    directory: Path | None,
    env_file: Path,
    identity: str,
    host: str,
    port: int,
    new_keys: bool,
    dry_run: bool,
) -> None:
    """Write leger-server.service for this installation (its own path, a venv's too).

    A hardened unit: DynamicUser, StateDirectory=leger-server as the data dir,
    ProtectSystem=strict; keys come from the env file, never the unit. An installation under
    /home or /root gets ProtectHome=read-only. Then: systemctl daemon-reload && systemctl
    enable --now leger-server"""
    from leger_core.sdunits import (
        UnitWriteError,
        closed_to_others,
        installation_paths,
        print_or_write,
        start_hint,
    )
    from leger_server.units import DEFAULT_DIR, UNIT_NAME, new_keys_env, render, server_command

    try:
        text = render(host=host, port=port, identity=identity, env_file=env_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        written = print_or_write(
            text, directory=directory or DEFAULT_DIR, name=UNIT_NAME, dry_run=dry_run
        )
    except UnitWriteError as exc:
        raise click.ClickException(str(exc)) from None
    if written is None:
        return
    if new_keys and not env_file.exists():
        try:
            env_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # O_EXCL: keys someone wrote in the meantime are never replaced.
            fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(new_keys_env())
        except OSError as exc:
            raise click.ClickException(f"cannot write {env_file}: {exc.strerror}") from None
        click.echo(
            f"Wrote fresh keys to {env_file} (keep a copy: without them the secrets "
            "stored are lost)"
        )
    elif new_keys:
        click.echo(f"Kept the keys in {env_file} (it exists)")
    elif not env_file.exists():
        click.echo(
            f"Note: {env_file} does not exist; systemd will not start the unit without it. "
            "Run again with --new-keys, or write LEGER_SERVER_JWT_SECRET and "
            "LEGER_SERVER_ENCRYPTION_KEYS there (mode 0600).",
            err=True,
        )
    closed = closed_to_others(installation_paths(server_command()))
    if closed:
        click.echo(
            f"Warning: the service's own user cannot reach {', '.join(closed)} (not readable "
            "or searchable by others), so it cannot start from this installation: install it "
            "where others can read (/opt, /usr/local), or open those directories (chmod o+x).",
            err=True,
        )
    click.echo(start_hint("leger-server"))


@main.command(name="health")
@click.option(
    "--host",
    envvar="LEGER_SERVER_HOST",
    default="127.0.0.1",
    show_default=True,
    help="The server's address (0.0.0.0 and :: are asked on loopback).",
)
@click.option("--port", envvar="LEGER_SERVER_PORT", default=8420, show_default=True, type=int)
@click.option(
    "--wait",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Keep asking up to this many seconds until it answers.",
)
def health_command(host: str, port: int, wait: float) -> None:
    """Ask a running server's /health; exit 1 unless it answers healthy (the unit's
    ExecStartPost= and the container's health check)."""
    from leger_server.healthcheck import health_url, wait_healthy

    url = health_url(host, port)
    answer = wait_healthy(url, wait)
    if answer is None:
        click.echo(f"leger-server: not healthy at {url}", err=True)
        sys.exit(1)
    click.echo(
        f"leger-server {answer.get('version', '?')}: healthy at {url} "
        f"(identity {answer.get('identity', '?')})"
    )


if __name__ == "__main__":
    sys.exit(main())
