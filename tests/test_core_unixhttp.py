"""leger_core.unixhttp against real sockets: a scripted server in a thread answers each request
with bytes written here, so framing, keep-alive and broken answers are exactly as a server
could send them (legerd itself is exercised through the setec client's tests)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leger_core.testing import slow_imports_probe
from leger_core.unixhttp import (
    MAX_HEAD,
    BadResponse,
    Closing,
    Connection,
    Response,
    accepts,
    parse_response,
)

CLOSE = None  # in a script: read the request, then close without a byte of answer


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*head, *extra]) + "\r\n\r\n").encode() + body


def chunked(*chunks: bytes, trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks)
    return (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body
        + b"0\r\n"
        + trailer
        + b"\r\n"
    )


def read_request(conn: socket.socket) -> bytes | None:
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return raw


class Scripted:
    """A server on a Unix socket (or 127.0.0.1) whose n-th connection answers the requests on
    it with ``scripts[n]`` in turn (``CLOSE``: no answer), then closes. ``requests[n]`` holds
    what arrived on connection n; ``closed[n]`` is set once it is closed."""

    def __init__(self, scripts: list[list[bytes | None]], *, tcp: bool = False) -> None:
        self.scripts = scripts
        self.requests: list[list[bytes]] = [[] for _ in scripts]
        self.closed = [threading.Event() for _ in scripts]
        self.connections = 0
        if tcp:
            self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._server.bind(("127.0.0.1", 0))
            self.address: str | tuple[str, int] = self._server.getsockname()
        else:
            self._dir = tempfile.mkdtemp(prefix="unixhttp-", dir="/tmp")
            self.address = os.path.join(self._dir, "s.sock")
            self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._server.bind(self.address)
        self._server.listen(8)
        self._server.settimeout(0.5)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        for n, script in enumerate(self.scripts):
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                for answer in script:
                    request = read_request(conn)
                    if request is None:
                        break
                    self.requests[n].append(request)
                    if answer is CLOSE:
                        break
                    try:
                        conn.sendall(answer)
                    except OSError:  # the client gave up first (an answer it refused)
                        break
            self.closed[n].set()
        try:  # one accept more: a client that should not connect again is seen doing it
            conn, _ = self._server.accept()
            self.connections += 1
            conn.close()
        except OSError:
            pass

    def stop(self) -> None:
        """Wait for the script to end (and the one accept after it), then clean up."""
        self._thread.join(5)
        self._server.close()
        if isinstance(self.address, str) and os.path.exists(self.address):
            os.unlink(self.address)
            os.rmdir(self._dir)


@pytest.fixture
def serve() -> Iterator[Callable[..., Scripted]]:
    started: list[Scripted] = []

    def start(scripts: list[list[bytes | None]], *, tcp: bool = False) -> Scripted:
        server = Scripted(scripts, tcp=tcp)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_content_length_answer_and_the_request_sent(serve) -> None:
    server = serve([[ok(b'{"a": 1}', "X-Thing: one", "X-Thing: two")]])
    with Connection(server.address, host="legerd") as conn:
        answer = conn.request("POST", "/api/get", {"Content-Type": "application/json"}, b"{}")
    assert (answer.status, answer.body, answer.json()) == (200, b'{"a": 1}', {"a": 1})
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-thing"] == "one, two"  # a repeated header, as one list
    assert server.requests[0] == [
        b"POST /api/get HTTP/1.1\r\nHost: legerd\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    ]


def test_a_get_sends_no_body_length_and_a_caller_host_replaces_the_default(serve) -> None:
    server = serve([[ok(b"")]])
    with Connection(server.address) as conn:
        conn.request("GET", "/health", {"Host": "other"})
    assert server.requests[0] == [b"GET /health HTTP/1.1\r\nHost: other\r\n\r\n"]


def test_chunked_answer_with_extensions_and_trailers(serve) -> None:
    doc = json.dumps([{"Name": f"n{i}"} for i in range(500)]).encode()
    parts = [doc[i : i + 1000] for i in range(0, len(doc), 1000)]
    server = serve([[chunked(*parts, trailer=b"X-Trailer: yes\r\n"), ok(b"next")]])
    with Connection(server.address) as conn:
        assert conn.request("POST", "/api/list").body == doc
        assert conn.request("POST", "/api/list").body == b"next"  # the trailer was all read
    assert server.connections == 1


def test_requests_share_one_kept_alive_connection(serve) -> None:
    server = serve([[ok(b"1"), ok(b"2"), ok(b"3")]])
    with Connection(server.address) as conn:
        assert [conn.request("POST", "/x").body for _ in range(3)] == [b"1", b"2", b"3"]
    assert server.connections == 1 and len(server.requests[0]) == 3


def test_a_kept_alive_connection_the_server_closed_is_retried_once_on_a_new_one(serve) -> None:
    server = serve([[ok(b"first")], [ok(b"second")]])
    with Connection(server.address) as conn:
        assert conn.request("POST", "/x", body=b"1").body == b"first"
        assert server.closed[0].wait(5)  # the server closed the idle connection
        assert conn.request("POST", "/x", body=b"2").body == b"second"
    assert [len(r) for r in server.requests] == [1, 1]  # the request arrived once, on the new one
    assert server.requests[1][0].endswith(b"\r\n\r\n2")


def test_a_new_connection_closed_without_an_answer_is_an_error_not_a_retry(serve) -> None:
    server = serve([[CLOSE]])
    with Connection(server.address) as conn, pytest.raises(BadResponse, match="without an answer"):
        conn.request("POST", "/api/put", body=b"{}")
    server.stop()
    assert server.connections == 1  # a put the server may have done is not sent twice


def test_a_retried_request_is_retried_only_once(serve) -> None:
    server = serve([[ok(b"first")], [CLOSE]])
    with Connection(server.address) as conn:
        conn.request("POST", "/x")
        assert server.closed[0].wait(5)
        with pytest.raises(BadResponse):
            conn.request("POST", "/x")
    server.stop()
    assert server.connections == 2


def test_connection_close_from_the_server_makes_a_new_connection_next_time(serve) -> None:
    server = serve([[ok(b"a", "Connection: close")], [ok(b"b")]])
    with Connection(server.address) as conn:
        assert conn.request("POST", "/x").body == b"a"
        assert conn.request("POST", "/x").body == b"b"
    assert [len(r) for r in server.requests] == [1, 1]


def test_answers_without_a_body(serve) -> None:
    not_modified = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
    server = serve([[not_modified, ok(b"after")]])
    with Connection(server.address) as conn:
        answer = conn.request("POST", "/api/get")
        assert (answer.status, answer.body) == (304, b"")
        assert conn.request("POST", "/api/get").body == b"after"


def test_an_interim_answer_is_passed_over(serve) -> None:
    server = serve([[b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final")]])
    with Connection(server.address) as conn:
        answer = conn.request("POST", "/x")
    assert (answer.status, answer.body) == (200, b"final")


def test_an_http_1_0_answer_does_not_keep_the_connection(serve) -> None:
    server = serve([[b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none"], [ok(b"two")]])
    with Connection(server.address) as conn:
        assert conn.request("GET", "/").body == b"one"
        assert conn.request("GET", "/").body == b"two"
    assert [len(r) for r in server.requests] == [1, 1]


def test_a_body_without_length_ends_with_the_stream(serve) -> None:
    server = serve([[b"HTTP/1.0 200 OK\r\n\r\nto the end"], [ok(b"new")]])
    with Connection(server.address) as conn:
        assert conn.request("GET", "/").body == b"to the end"
        assert conn.request("GET", "/").body == b"new"
    assert server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + b"x" * 101,
        chunked(b"x" * 60, b"x" * 60),
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 101,
    ],
    ids=["content-length", "chunked", "to-eof"],
)
def test_an_answer_over_the_limit_is_refused(serve, answer: bytes) -> None:
    server = serve([[answer]])
    with Connection(server.address, limit=100) as conn:
        with pytest.raises(BadResponse, match="too large"):
            conn.request("POST", "/x")
        assert conn._sock is None  # a failed request leaves no half-read connection behind


def test_headers_over_the_limit_are_refused(serve) -> None:
    server = serve([[b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * (MAX_HEAD + 10) + b"\r\n\r\n"]])
    with Connection(server.address) as conn, pytest.raises(BadResponse, match="too large"):
        conn.request("POST", "/x")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
        chunked(b"whole")[:-12],
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ],
    ids=["content-length", "chunked", "head"],
)
def test_an_answer_cut_short_is_an_error(serve, answer: bytes) -> None:
    server = serve([[answer]])
    with Connection(server.address) as conn, pytest.raises(BadResponse, match="middle"):
        conn.request("POST", "/x")


def test_a_line_break_in_a_header_is_refused_before_anything_is_sent(serve) -> None:
    server = serve([[ok(b"")]])
    token = "secret-token-123\r\nX-Smuggled: 1"
    with Connection(server.address) as conn, pytest.raises(ValueError) as err:
        conn.request("POST", "/x", {"Authorization": f"Bearer {token}"})
    assert "secret-token-123" not in str(err.value)
    server.stop()
    assert server.connections == 0


def test_request_many_has_every_request_in_flight_before_reading_an_answer() -> None:
    """The stand-in answers nothing until all three requests have arrived, each on its own
    connection: a client that waited for one answer before sending the next would time out."""
    from leger_testkit.setec_wire import AnswersWhenAllArrived

    bodies = [json.dumps({"Name": f"x/{i}", "Version": 0}).encode() for i in range(3)]
    with AnswersWhenAllArrived(3) as server, Connection(server.socket, timeout=3) as conn:
        answers = conn.request_many("POST", "/api/get", None, bodies)
    assert sorted(server.names) == ["x/0", "x/1", "x/2"]
    assert [a.json()["Value"] for a in answers] == ["eC8w", "eC8x", "eC8y"]  # in bodies' order


def test_tcp_addresses_work_too(serve) -> None:
    server = serve([[ok(b"over tcp")]], tcp=True)
    with Connection(server.address) as conn:
        assert conn.request("GET", "/").body == b"over tcp"


def test_nothing_at_the_path_is_file_not_found(tmp_path: Path) -> None:
    with Connection(tmp_path / "none.sock") as conn, pytest.raises(FileNotFoundError):
        conn.request("GET", "/")


def test_parse_response_reads_a_whole_answer() -> None:
    answer = parse_response(chunked(b'{"ok":', b"true}"))
    assert (answer.status, answer.json()) == (200, {"ok": True})
    assert (
        parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope").body == b"nope"
    )
    assert (
        parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding:chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
        ).body
        == b"x"
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "without an answer"),
        (b"garbage without a status line\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "not HTTP"),
        (b"HTTP/2 200\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "middle"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunked"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "chunked"),
    ],
)
def test_parse_response_refuses_what_is_not_http(raw: bytes, says: str) -> None:
    with pytest.raises(BadResponse, match=says):
        parse_response(raw)


def test_a_response_repr_shows_no_body() -> None:
    answer = Response(200, {}, b'{"Value":"sk-very-secret"}')
    assert "sk-very-secret" not in repr(answer) and "200" in repr(answer)


def test_accepts_only_a_listening_socket(tmp_path: Path) -> None:
    path = Path(tempfile.mkdtemp(prefix="unixhttp-", dir="/tmp")) / "s.sock"
    try:
        assert not accepts(path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(str(path))
            assert not accepts(path)  # bound, not listening: a daemon not up yet
            sock.listen(1)
            assert accepts(path)
    finally:
        path.unlink()
        path.parent.rmdir()


def test_closing_closes_on_the_way_out_even_on_error() -> None:
    class Thing(Closing):
        closed = 0

        def close(self) -> None:
            self.closed += 1

    thing = Thing()
    with pytest.raises(RuntimeError), thing as same:
        assert same is thing
        raise RuntimeError
    assert thing.closed == 1


def test_importing_it_stays_cheap() -> None:
    code = slow_imports_probe("import leger_core.unixhttp")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (out.returncode, out.stdout) == (0, "slow imports:\n"), out.stderr
