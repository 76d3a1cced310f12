"""Running the daemon: listeners, caller identity per connection, uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import resource
import signal
import socket
import stat
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from legerd.access import AccessRules, Principal, unix_principal
from legerd.api import DEFAULT_REFUSAL_INTERVAL, Daemon, RefusalSummary, create_app
from legerd.audit import AuditLog
from legerd.errors import StateError
from legerd.sdnotify import notify
from legerd.state import StateLock, init_state
from legerd.store import DEFAULT_MAX_VALUE, SecretStore
from legerd.tokens import read_tokens, tokens_path


@dataclass
class ServeOptions:
    state_dir: Path
    socket_path: Path
    listen: str | None = None  # HOST:PORT for a TCP listener
    rules_path: Path | None = None
    tailscale_socket: str | None = None
    socket_mode: int | None = None
    max_value: int = DEFAULT_MAX_VALUE
    request_timeout: float = 10.0
    max_tcp_connections: int = 256
    max_tcp_per_peer: int = 16
    refusal_log_interval: float = DEFAULT_REFUSAL_INTERVAL


def _http_protocol() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # httptools is optional: h11 is slower but pure Python
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


@dataclass
class ConnectionLimits:
    """Caps on TCP connections (in all and per peer address) and the time any connection gets
    to send a whole request. The Unix socket has no cap of its own: what keeps it answering is
    that TCP peers can never hold more than ``tcp_total`` descriptors, well under the process's
    limit (see :func:`reserve_descriptors`)."""

    tcp_total: int = 256
    tcp_per_peer: int = 16
    request_timeout: float = 10.0
    _open: int = 0
    _by_peer: dict[str, int] = field(default_factory=dict)

    def admit(self, peer: str) -> bool:
        held = self._by_peer.get(peer, 0)
        if self._open >= self.tcp_total or held >= self.tcp_per_peer:
            return False
        self._open += 1
        self._by_peer[peer] = held + 1
        return True

    def release(self, peer: str) -> None:
        self._open -= 1
        left = self._by_peer[peer] - 1
        if left:
            self._by_peer[peer] = left
        else:
            del self._by_peer[peer]


# What a TCP peer over its cap gets before the connection is closed (Go's http.Error style).
TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: 21\r\n\r\n"
    b"too many connections\n"
)
RESERVED_DESCRIPTORS = 128  # files, threads, tailscaled, and the Unix socket's clients


def reserve_descriptors(limits: ConnectionLimits) -> None:
    """Raise the soft descriptor limit toward the hard one, so that the TCP cap plus a reserve
    fits; if it cannot, lower the TCP cap (and say so): TCP peers must never be able to use the
    descriptors the Unix socket needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = limits.tcp_total + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
    if soft != resource.RLIM_INFINITY and soft < want:
        cap = max(1, min(limits.tcp_total, soft // 2, soft - RESERVED_DESCRIPTORS))
        print(
            f"legerd: only {soft} file descriptors allowed; at most {cap} TCP connections "
            f"(not {limits.tcp_total}), so the Unix socket keeps answering",
            file=sys.stderr,
            flush=True,
        )
        limits.tcp_total = cap
        limits.tcp_per_peer = min(limits.tcp_per_peer, cap)


def peer_protocol(owner_uid: int, limits: ConnectionLimits | None = None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, plus, per connection:

    - on the Unix socket, the peer's credentials read once (SO_PEERCRED: the kernel's word,
      which a client cannot forge) and put in each request's scope as ``legerd.peer``;
    - on TCP, a place under ``limits`` (in all and per peer address), or a 503 and the door;
    - a deadline: a request (head and body) not complete ``request_timeout`` seconds after its
      first byte, or after the connection opened, closes the connection. uvicorn itself has no
      header timeout, so without this a half-sent request holds a descriptor for ever.
    """
    base: Any = _http_protocol()
    lim = limits or ConnectionLimits()

    class LegerdProtocol(base):  # type: ignore[misc]
        _legerd_deadline: asyncio.TimerHandle | None = None
        _legerd_peer: str | None = None  # the TCP address holding a place under the caps
        _legerd_done: object = None  # the last request seen complete

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family == socket.AF_UNIX:
                self._legerd_unix_peer(sock)
            else:
                peer = str(self.client[0]) if self.client else "?"
                if not lim.admit(peer):
                    transport.write(TOO_MANY)
                    transport.close()
                    return
                self._legerd_peer = peer
            self._legerd_arm()

        def _legerd_unix_peer(self, sock: socket.socket) -> None:
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", raw)
            peer: Principal = unix_principal(uid, owner_uid)
            inner: Any = getattr(self, "app")  # noqa: B009 (set by uvicorn; untyped here)

            async def app(scope: Any, receive: Any, send: Any) -> None:
                scope["legerd.peer"] = peer
                await inner(scope, receive, send)

            self.app = app

        def connection_lost(self, exc: Exception | None) -> None:
            if self._legerd_peer is not None:
                lim.release(self._legerd_peer)
                self._legerd_peer = None
            self._legerd_cancel()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._legerd_deadline is None:  # the first bytes of a request
                self._legerd_arm()
            super().data_received(data)
            cycle = self.cycle
            if cycle is not None and cycle is not self._legerd_done and not cycle.more_body:
                self._legerd_done = cycle  # head and body are in: the deadline is met
                self._legerd_cancel()

        def _legerd_arm(self) -> None:
            self._legerd_deadline = self.loop.call_later(lim.request_timeout, self._legerd_late)

        def _legerd_cancel(self) -> None:
            if self._legerd_deadline is not None:
                self._legerd_deadline.cancel()
                self._legerd_deadline = None

        def _legerd_late(self) -> None:
            self._legerd_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return LegerdProtocol


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
    daemon = Daemon(
        store,
        audit,
        rules,
        opts.tailscale_socket,
        max_value=opts.max_value,
        refusals=RefusalSummary(opts.refusal_log_interval),
    )
    limits = ConnectionLimits(
        tcp_total=opts.max_tcp_connections,
        tcp_per_peer=opts.max_tcp_per_peer,
        request_timeout=opts.request_timeout,
    )
    if opts.listen:
        reserve_descriptors(limits)
    reload_on_hup(daemon, opts)
    mode = opts.socket_mode or rules.socket_mode or 0o600
    sockets = [bind_unix(opts.socket_path, mode)]
    if opts.listen:
        sockets.append(bind_tcp(opts.listen))
    config = uvicorn.Config(
        create_app(daemon),
        http=peer_protocol(os.getuid(), limits),
        lifespan="off",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=True,  # as Go's net/http does
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
