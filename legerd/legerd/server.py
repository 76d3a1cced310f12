"""Running the daemon: listeners, caller identity per connection, uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from legerd.access import AccessRules, Principal, unix_principal
from legerd.api import Daemon, create_app
from legerd.audit import AuditLog
from legerd.errors import StateError
from legerd.sdnotify import notify
from legerd.state import StateLock, init_state
from legerd.store import SecretStore
from legerd.tokens import read_tokens, tokens_path


@dataclass
class ServeOptions:
    state_dir: Path
    socket_path: Path
    listen: str | None = None  # HOST:PORT for a TCP listener
    rules_path: Path | None = None
    tailscale_socket: str | None = None
    socket_mode: int | None = None


def _http_protocol() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # httptools is optional: h11 is slower but pure Python
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def peer_protocol(owner_uid: int) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, plus the Unix peer's credentials read once per connection
    (SO_PEERCRED: the kernel's word, which a client cannot forge) and put in each request's
    scope as ``legerd.peer``."""
    base: Any = _http_protocol()

    class PeerCredProtocol(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if sock is None or sock.family != socket.AF_UNIX:
                return
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", raw)
            peer: Principal = unix_principal(uid, owner_uid)
            inner: Any = getattr(self, "app")  # noqa: B009 (set by uvicorn; untyped here)

            async def app(scope: Any, receive: Any, send: Any) -> None:
                scope["legerd.peer"] = peer
                await inner(scope, receive, send)

            self.app = app

    return PeerCredProtocol


def bind_unix(path: Path, mode: int) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise StateError(f"{path} exists and is not a socket; not replacing it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # stale socket of a legerd that died
        else:
            raise StateError(f"something is already listening on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bind under a restrictive umask so no other user can connect before the chmod.
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, mode)
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def bind_tcp(listen: str) -> socket.socket:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise StateError(f"--listen wants HOST:PORT, got {listen!r}")
    host = host.strip("[]") or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StateError(f"{listen} is already in use") from None
        raise StateError(f"cannot listen on {listen}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def load_rules(opts: ServeOptions) -> AccessRules:
    rules = AccessRules.load(opts.rules_path or opts.state_dir / "access.toml")
    rules.tokens.update(read_tokens(tokens_path(opts.state_dir)))
    return rules


def reload_on_hup(daemon: Daemon, opts: ServeOptions) -> None:
    """SIGHUP re-reads the access rules and tokens (a broken file keeps the old ones) and
    reopens audit.log (for logrotate)."""

    def reload(signum: int, frame: object) -> None:
        try:
            daemon.audit.reopen()
        except OSError as exc:
            print(f"legerd: could not reopen the audit log: {exc}", file=sys.stderr, flush=True)
        try:
            daemon.rules = load_rules(opts)
        except StateError as exc:
            print(f"legerd: kept the old access rules: {exc}", file=sys.stderr, flush=True)
        else:
            print("legerd: access rules reloaded", file=sys.stderr, flush=True)

    signal.signal(signal.SIGHUP, reload)


class _NotifyingServer(uvicorn.Server):
    """uvicorn's server, telling systemd ``READY=1`` once it serves on every socket
    (``Type=notify``): units ordered after legerd never find its socket missing."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            notify("READY=1\nSTATUS=serving")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        notify("STOPPING=1")
        await super().shutdown(sockets=sockets)


def serve(opts: ServeOptions) -> None:
    state_dir = opts.state_dir
    if init_state(state_dir):
        print(
            f"legerd: initialised {state_dir} (new key in {state_dir}/keys/main.key)",
            file=sys.stderr,
        )
    lock = StateLock(state_dir)
    lock.acquire()
    rules = load_rules(opts)
    if opts.listen and not (rules.has_remote_auth or opts.tailscale_socket):
        raise StateError(
            "refusing a TCP listener without authentication: add a bearer token "
            "(`legerd token add NAME`) or pass --tailscale-socket for Tailscale WhoIs"
        )
    store = SecretStore.open(state_dir)
    audit = AuditLog(state_dir / "audit.log")
    daemon = Daemon(store, audit, rules, opts.tailscale_socket)
    reload_on_hup(daemon, opts)
    mode = opts.socket_mode or rules.socket_mode or 0o600
    sockets = [bind_unix(opts.socket_path, mode)]
    if opts.listen:
        sockets.append(bind_tcp(opts.listen))
    config = uvicorn.Config(
        create_app(daemon),
        http=peer_protocol(os.getuid()),
        lifespan="off",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        loop="auto",
        timeout_graceful_shutdown=5,
    )
    where = str(opts.socket_path) + (f" and {opts.listen}" if opts.listen else "")
    print(
        f"legerd: serving {len(store)} secrets from {state_dir} on {where}",
        file=sys.stderr,
        flush=True,
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    # handler that was there before it; make that a no-op so the cleanup below runs and a
    # stop requested by systemd ends with exit code 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    try:
        _NotifyingServer(config).run(sockets=sockets)
    finally:
        with contextlib.suppress(FileNotFoundError):
            if opts.socket_path.is_socket():
                opts.socket_path.unlink()
        audit.close()
        lock.release()
