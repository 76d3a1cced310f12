"""Connection limits uvicorn lacks: header and read timeouts, caps on open connections.

uvicorn closes an idle keep-alive connection, but waits forever for a request's headers (and
for the rest of a body), and accepts connections until the process runs out of descriptors: a
few hundred half-sent requests from one client (slow-loris) stop the server answering anyone.
:class:`GuardedHTTPProtocol` is uvicorn's HTTP protocol plus:

* ``header_timeout``: a request's headers must arrive within this many seconds of the
  connection being ready for them (opened, or the previous response sent);
* ``read_timeout``: while a request body is coming, at most this many seconds without a byte
  (not counted while the app has not read what came: uvicorn then stops reading itself);
* ``max_connections`` open at once in this process, of which ``max_connections_per_peer`` from
  one client address (0: no per-address cap). A connection over a cap gets a 503 and is closed.

A connection that times out is closed. Nothing here reads the request's contents: the state
comes from uvicorn's own request cycle (``cycle``, ``more_body``, ``response_complete``), the
same in its h11 and httptools protocols.

The limits are read from the environment (``LEGER_SERVER_HEADER_TIMEOUT``,
``LEGER_SERVER_READ_TIMEOUT``, ``LEGER_SERVER_MAX_CONNECTIONS``,
``LEGER_SERVER_MAX_CONNECTIONS_PER_PEER``) when this module is imported, so worker processes
of ``serve --workers N`` get the same ones; ``leger-server serve`` sets them from its options.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from leger_server.errors import SettingsError

logger = logging.getLogger("leger_server.connguard")

_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 5\r\n"
    b"content-length: 25\r\nconnection: close\r\n\r\ntoo many open connections"
)


def _default_max_connections() -> int:
    """Half the descriptors the process may open (the rest: database, blobs, logs)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, soft // 2))


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    read_timeout: float = 30.0
    max_connections: int = 0  # 0: the default, from the descriptor limit
    max_connections_per_peer: int = 64

    ENV: ClassVar[dict[str, str]] = {
        "header_timeout": "LEGER_SERVER_HEADER_TIMEOUT",
        "read_timeout": "LEGER_SERVER_READ_TIMEOUT",
        "max_connections": "LEGER_SERVER_MAX_CONNECTIONS",
        "max_connections_per_peer": "LEGER_SERVER_MAX_CONNECTIONS_PER_PEER",
    }

    def __post_init__(self) -> None:
        if self.header_timeout <= 0 or self.read_timeout <= 0:
            raise SettingsError("the header and read timeouts must be positive seconds")
        if self.max_connections < 0 or self.max_connections_per_peer < 0:
            raise SettingsError("connection caps must be 0 (default / none) or more")
        if self.max_connections == 0:
            object.__setattr__(self, "max_connections", _default_max_connections())

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConnectionLimits:
        values: dict[str, Any] = {}
        for field, name in cls.ENV.items():
            raw = env.get(name)
            if not raw:
                continue
            conv = float if field.endswith("timeout") else int
            try:
                values[field] = conv(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number") from None
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {name: str(getattr(self, field)) for field, name in self.ENV.items()}


def _base_protocol() -> Any:
    try:  # httptools is what uvicorn picks when installed; h11 is its pure-Python fallback
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


_Base: Any = _base_protocol()


class _OpenConnections:
    """Connections open in this process, in all and by peer address."""

    def __init__(self) -> None:
        self.total = 0
        self.by_peer: dict[str, int] = {}
        self.last_warning = 0.0

    def admit(self, peer: str, limits: ConnectionLimits) -> str | None:
        """Count a new connection in, or say which cap it is over."""
        if self.total >= limits.max_connections:
            return f"the cap of {limits.max_connections} open connections"
        per_peer = limits.max_connections_per_peer
        if per_peer and self.by_peer.get(peer, 0) >= per_peer:
            return f"the cap of {per_peer} open connections from one address"
        self.total += 1
        self.by_peer[peer] = self.by_peer.get(peer, 0) + 1
        return None

    def release(self, peer: str) -> None:
        self.total -= 1
        left = self.by_peer.get(peer, 1) - 1
        if left > 0:
            self.by_peer[peer] = left
        else:
            self.by_peer.pop(peer, None)


class GuardedHTTPProtocol(_Base):  # type: ignore[misc]
    """uvicorn's HTTP protocol with the timeouts and caps of :class:`ConnectionLimits`."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits.from_env(os.environ)
    open_connections: ClassVar[_OpenConnections] = _OpenConnections()

    _guard_peer = ""
    _guard_admitted = False
    _guard_timer: asyncio.TimerHandle | None = None
    _guard_headers_due: float | None = None

    def connection_made(self, transport: Any) -> None:  # asyncio's or uvloop's transport
        peername = transport.get_extra_info("peername")
        self._guard_peer = str(peername[0]) if isinstance(peername, tuple) else "local"
        refused = self.open_connections.admit(self._guard_peer, self.limits)
        if refused is not None:
            self._warn(f"refused a connection from {self._guard_peer}: over {refused}")
            transport.write(_REFUSAL)
            transport.close()
            return
        self._guard_admitted = True
        super().connection_made(transport)
        self._guard_arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._guard_admitted:
            return  # refused in connection_made: uvicorn never saw it
        self._guard_admitted = False
        self.open_connections.release(self._guard_peer)
        self._guard_cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._guard_arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._guard_arm()

    # -- the one timer of a connection --------------------------------------------------------

    def _guard_cancel(self) -> None:
        if self._guard_timer is not None:
            self._guard_timer.cancel()
            self._guard_timer = None

    def _guard_arm(self) -> None:
        """(Re)start the timer for what the connection waits for now."""
        self._guard_cancel()
        if not self._guard_admitted or self.transport.is_closing():
            return
        cycle = self.cycle
        now = time.monotonic()
        if cycle is None or cycle.response_complete:
            # Waiting for a request's headers: one deadline for all of them, however they
            # trickle in (data_received re-arms, but does not move the deadline).
            if self._guard_headers_due is None:
                self._guard_headers_due = now + self.limits.header_timeout
            delay = self._guard_headers_due - now
        elif cycle.more_body:
            self._guard_headers_due = None
            delay = self.limits.read_timeout  # since the last bytes of the body
        else:
            self._guard_headers_due = None
            return  # the request is in; the app is answering (as long as it takes)
        self._guard_timer = self.loop.call_later(max(delay, 0.0), self._guard_expired)

    def _guard_expired(self) -> None:
        self._guard_timer = None
        if not self._guard_admitted or self.transport.is_closing():
            return
        cycle = self.cycle
        waiting_for_body = cycle is not None and not cycle.response_complete and cycle.more_body
        if waiting_for_body and self.flow.read_paused:
            self._guard_arm()  # uvicorn stopped reading (the app is behind), not the client
            return
        what = "the rest of a request body" if waiting_for_body else "a request's headers"
        logger.debug("closing a connection from %s: waited too long for %s", self._guard_peer, what)
        self.transport.close()

    def _warn(self, message: str) -> None:
        # At most one line per 10 s: a flood of refused connections must not flood the log.
        now = time.monotonic()
        if now - self.open_connections.last_warning >= 10:
            self.open_connections.last_warning = now
            logger.warning("%s (more such refusals in the next 10 s are not logged)", message)
