"""HTTP/1.1 over a stream socket: legerd's and tailscaled's Unix sockets (and, for tests, a
``(host, port)`` TCP listener). One client for every caller that speaks HTTP to a local socket.

* :class:`Connection`: requests on a kept-alive connection, one at a time, and
  :meth:`Connection.request_many`, N requests in flight at once on N connections;
* :func:`parse_response`: one whole response read to the end of the stream (for callers that
  read it themselves, e.g. with asyncio);
* :func:`accepts`: does something listen on this Unix socket yet?
* :class:`Closing`: ``with client: ...`` for any client with a ``close()``.

Answers are :class:`Response` (status, headers with lower-case names, body). Bodies come with
``Content-Length``, chunked (what Go's net/http sends for larger ones: a real setec server,
tailscaled) or up to the end of the stream; a body over :data:`MAX_RESPONSE` bytes, a head over
:data:`MAX_HEAD` or an answer cut short raises :class:`BadResponse`, a ``ConnectionError``.

This module runs on every container start (``leger secrets fetch``, ``leger driver lookup``):
it imports ``_socket``, the C type ``socket.socket`` subclasses, rather than ``socket`` (whose
enums cost ~8 ms a start) and nothing else that is not already loaded.
"""

from __future__ import annotations

import os

try:  # the C type that socket.socket subclasses: everything a client needs
    from _socket import AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM
    from _socket import socket as _Socket
except ImportError:  # pragma: no cover - Pythons without CPython's _socket
    from socket import AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM
    from socket import socket as _Socket  # type: ignore[assignment]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, Self, TypeAlias

    Address: TypeAlias = "str | os.PathLike[str] | tuple[str, int]"

__all__ = [
    "MAX_HEAD",
    "MAX_RESPONSE",
    "BadResponse",
    "Closing",
    "Connection",
    "Response",
    "accepts",
    "parse_response",
]

MAX_RESPONSE = 8 << 20  # bytes of body; a secret store's answers are far smaller
MAX_HEAD = 64 << 10  # bytes of status line and headers (Go's server default is 1 MiB; ours, less)
_RECV = 65536
_HEX_DIGITS = b"0123456789abcdefABCDEF"


class Closing:
    """``with client: ...`` calls ``client.close()`` on the way out, error or not: the base of
    every client that holds a connection open (this module's, the setec and cloud clients).
    ``contextlib.closing`` would do, but ``contextlib`` costs an import on the container-start
    path (it pulls in ``collections`` and ``functools``); a class here costs nothing more."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BadResponse(ConnectionError):
    """The answer was cut short, too large, or not HTTP/1.x as this module reads it."""


class _NoAnswer(BadResponse):
    """The server closed the connection before a byte of answer (an idle kept-alive
    connection it closed, or a server that died on the request)."""


class Response:
    """``status``, ``headers`` (lower-case names; a repeated header's values joined by ``", "``)
    and ``body``. Its repr shows no body: it may hold a secret."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        """The body as JSON (``ValueError`` when it is not)."""
        from leger_core import lightjson

        return lightjson.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status}, {len(self.body)} bytes>"


# --- reading one response -----------------------------------------------------------------------


class _Input:
    """The bytes of an answer as they arrive: what is buffered and how to get more."""

    __slots__ = ("data", "recv")

    def __init__(self, data: bytearray, recv: Callable[[], bytes] | None) -> None:
        self.data = data
        self.recv = recv

    def more(self) -> bool:
        """Append the next bytes; False at the end of the stream (a reset counts as one)."""
        if self.recv is None:
            return False
        try:
            chunk = self.recv()
        except ConnectionResetError:
            return False
        self.data += chunk
        return bool(chunk)

    def need(self) -> None:
        if not self.more():
            raise BadResponse("connection closed in the middle of a response")

    def line(self, limit: int) -> int:
        """Where the next CRLF is, reading until one is in (at most ``limit`` bytes before it)."""
        while (end := self.data.find(b"\r\n")) < 0:
            if len(self.data) > limit:
                raise BadResponse("response line too long")
            self.need()
        return end


def _head(inp: _Input, *, first: bool = True) -> tuple[int, dict[str, str], bool]:
    """Status, headers and whether the server keeps the connection open (HTTP/1.1 and no
    ``Connection: close``). ``first``: nothing of the answer came before (no interim one)."""
    data = inp.data
    while (end := data.find(b"\r\n\r\n")) < 0:
        if len(data) > MAX_HEAD:
            raise BadResponse("response headers too large")
        if not inp.more():
            if not data and first:
                raise _NoAnswer("connection closed without an answer")
            raise BadResponse("connection closed in the middle of a response")
    if end > MAX_HEAD:
        raise BadResponse("response headers too large")
    status_line, *lines = data[:end].decode("latin-1").split("\r\n")
    del data[: end + 4]
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if (
        version not in ("HTTP/1.0", "HTTP/1.1")
        or not _digits(code)
        or len(code) != 3
        or rest[3:4] not in ("", " ")
    ):
        raise BadResponse("the answer is not HTTP/1.x")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadResponse("malformed header line in the answer")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    keep = version == "HTTP/1.1" and "close" not in _tokens(headers.get("connection", ""))
    return int(code), headers, keep


def _read(inp: _Input, limit: int, no_body: bool) -> tuple[Response, bool]:
    """One response from ``inp``, and whether the connection may carry another one."""
    data = inp.data
    status, headers, keep = _head(inp)
    while 100 <= status < 200 and status != 101:  # interim answers (100 Continue) come first
        status, headers, keep = _head(inp, first=False)
    if no_body or status in (101, 204, 304):
        return Response(status, headers, b""), keep
    coding = _tokens(headers.get("transfer-encoding", ""))
    if coding and coding[-1] == "chunked":
        return Response(status, headers, _dechunk(inp, limit)), keep
    length = headers.get("content-length")
    if length is not None and not coding:
        if not _digits(length):
            raise BadResponse("bad Content-Length in the answer")
        size = int(length)
        if size > limit:
            raise BadResponse("response too large")
        while len(data) < size:
            inp.need()
        body = bytes(data[:size])
        del data[:size]
        return Response(status, headers, body), keep
    while inp.more():  # no length: the body ends where the stream does
        if len(data) > limit:
            raise BadResponse("response too large")
    if len(data) > limit:
        raise BadResponse("response too large")
    body = bytes(data)
    data.clear()
    return Response(status, headers, body), False


def _dechunk(inp: _Input, limit: int) -> bytes:
    data = inp.data
    body = bytearray()
    while True:
        end = inp.line(1024)
        size_text = bytes(data[:end]).partition(b";")[0].strip()  # ";ext" is ignorable
        if not size_text or len(size_text) > 16 or size_text.translate(None, _HEX_DIGITS):
            raise BadResponse("bad chunked encoding in the answer")
        size = int(size_text, 16)
        del data[: end + 2]
        if size == 0:
            break
        if len(body) + size > limit:
            raise BadResponse("response too large")
        while len(data) < size + 2:
            inp.need()
        if data[size : size + 2] != b"\r\n":
            raise BadResponse("bad chunked encoding in the answer")
        body += data[:size]
        del data[: size + 2]
    read = 0
    while (end := inp.line(MAX_HEAD)) > 0:  # trailer fields (unused) up to an empty line
        read += end + 2
        if read > MAX_HEAD:
            raise BadResponse("response headers too large")
        del data[: end + 2]
    del data[:2]
    return bytes(body)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _tokens(value: str) -> list[str]:
    return [t.strip() for t in value.lower().split(",") if t.strip()]


def parse_response(raw: bytes, *, limit: int = MAX_RESPONSE) -> Response:
    """The response in ``raw``, everything a server sent up to the end of the stream: status,
    headers and body (de-chunked). :class:`BadResponse` when it is cut short, malformed or
    larger than ``limit``."""
    response, _ = _read(_Input(bytearray(raw), None), limit, False)
    return response


# --- connections --------------------------------------------------------------------------------


def _connect(address: str | tuple[str, int], timeout: float) -> _Socket:
    if isinstance(address, tuple):
        sock = _Socket(AF_INET6 if ":" in address[0] else AF_INET, SOCK_STREAM)
    else:
        sock = _Socket(AF_UNIX, SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def accepts(path: str | os.PathLike[str], timeout: float = 1.0) -> bool:
    """Whether something accepts connections on the Unix socket ``path`` (one is made and
    closed at once): how a test or a script waits for a daemon to be up."""
    try:
        _connect(os.fspath(path), timeout).close()
    except OSError:
        return False
    return True


class Connection(Closing):
    """HTTP/1.1 to one server, kept alive between requests; one request at a time.

    ``address`` is a Unix socket path or ``(host, port)``; ``host`` is the ``Host`` header
    sent unless ``headers`` name one. Socket errors (``OSError``: ``FileNotFoundError`` when
    nothing is at the path, ``TimeoutError``, :class:`BadResponse`) reach the caller, which
    knows what they mean to its users; a request that fails leaves the connection closed.
    """

    __slots__ = ("_sock", "address", "host", "limit", "timeout")

    def __init__(
        self,
        address: Address,
        *,
        timeout: float = 5.0,
        host: str = "localhost",
        limit: int = MAX_RESPONSE,
    ) -> None:
        self.address: str | tuple[str, int] = (
            address if isinstance(address, tuple) else os.fspath(address)
        )
        self.timeout = timeout
        self.host = host
        self.limit = limit
        self._sock: _Socket | None = None

    def __repr__(self) -> str:
        return f"Connection({self.address!r})"

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        """Send one request and read its answer. On a connection kept from before, a server
        that closed it without answering gets the request once more on a new connection."""
        reused = self._sock is not None
        try:
            return self._exchange(method, target, headers or {}, body)
        except (_NoAnswer, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
        # The server closed an idle kept-alive connection before it read our request: it did
        # nothing with it, so sending it again on a new connection is safe.
        return self._exchange(method, target, headers or {}, body)

    def request_many(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None,
        bodies: Sequence[bytes],
    ) -> list[Response]:
        """Each body on a connection of its own, every one sent before any answer is read:
        the server works on them at the same time, so N requests cost about one round trip
        instead of N. The answers are in the order of ``bodies``."""
        headers = headers or {}
        others = [Connection(self.address, timeout=self.timeout, host=self.host,
                             limit=self.limit) for _ in bodies[1:]]  # fmt: skip
        try:
            for conn, body in zip(others, bodies[1:], strict=True):
                conn._send(method, target, headers, body)
            answers = [self.request(method, target, headers, bodies[0])] if bodies else []
            return answers + [conn._receive(method) for conn in others]
        finally:
            for conn in others:
                conn.close()

    def _exchange(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        self._send(method, target, headers, body)
        return self._receive(method)

    def _send(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None:
        lines = [f"{method} {target} HTTP/1.1"]
        names = {name.lower() for name in headers}
        if "host" not in names:
            lines.append(f"Host: {self.host}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if "content-length" not in names and (body or method not in ("GET", "HEAD")):
            lines.append(f"Content-Length: {len(body)}")
        if any("\r" in line or "\n" in line for line in lines):
            # A header holding a line break would smuggle in headers of its own; the message
            # names no value (a header may be a bearer token).
            raise ValueError("an HTTP request header or target holds a line break")
        head = "\r\n".join(lines)
        if self._sock is None:
            self._sock = _connect(self.address, self.timeout)
        try:
            self._sock.sendall((head + "\r\n\r\n").encode("latin-1") + body)
        except BaseException:
            self.close()
            raise

    def _receive(self, method: str) -> Response:
        sock = self._sock
        assert sock is not None
        inp = _Input(bytearray(), lambda: sock.recv(_RECV))
        try:
            response, keep = _read(inp, self.limit, method == "HEAD")
        except BaseException:
            self.close()
            raise
        if not keep or inp.data:  # bytes after the answer: nothing this connection can use
            self.close()
        return response
