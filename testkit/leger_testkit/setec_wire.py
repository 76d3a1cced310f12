"""Raw HTTP to legerd (or any setec server): exactly what a setec client sends and sees, for
tests that pin the wire protocol byte by byte (a real client would hide what they check).

* :func:`http` – one request over a Unix socket or TCP → a
  :class:`~leger_core.unixhttp.Response` (status, headers, body);
* :class:`Api` – ``api.put(name, value)``, ``api.get(name, version, UpdateIfChanged=True)``,
  ``api.call("list", {})``;
* :class:`AnswersWhenAllArrived` – a setec ``/api/get`` stand-in that proves N secrets cost one
  round trip.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
from pathlib import Path
from typing import Any

from leger_core.unixhttp import Connection, Response
from legerd.testing import short_tmpdir

SETEC_HEADERS = {"Content-Type": "application/json", "Sec-X-Tailscale-No-Browsers": "setec"}


def http(
    address: Path | tuple[str, int],
    path: str,
    body: bytes | dict[str, Any] | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> Response:
    """One request on a connection of its own (``Connection: close``)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    hdrs = SETEC_HEADERS if headers is None else headers
    with Connection(address, timeout=10, host="legerd") as conn:
        return conn.request(method, path, {"Connection": "close", **hdrs}, data)


def b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


class Api:
    """``api.put("name", "value")`` etc. over the raw socket; returns a ``Response``."""

    def __init__(self, address: Path | tuple[str, int], headers: dict[str, str] | None = None):
        self.address = address
        self.headers = headers

    def call(self, method: str, body: dict[str, Any]) -> Response:
        return http(self.address, f"/api/{method}", body, headers=self.headers)

    def put(self, name: str, value: bytes | str) -> Response:
        return self.call("put", {"Name": name, "Value": b64(value)})

    def get(self, name: str, version: int = 0, **extra: Any) -> Response:
        return self.call("get", {"Name": name, "Version": version, **extra})


class AnswersWhenAllArrived:
    """A setec ``/api/get`` stand-in on a Unix socket that answers nothing until ``expected``
    requests have arrived, each on its own connection, then answers each with its name as the
    value. A client that waits for one answer before sending the next request hangs on it (and
    times out): what proves that N secrets cost one round trip, not N.

    ``with AnswersWhenAllArrived(3) as server: ...``; ``server.socket``; ``server.names``."""

    def __init__(self, expected: int) -> None:
        import threading

        self.expected = expected
        self.socket = short_tmpdir() / "setec.sock"
        self.names: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.socket))
        self._server.listen(expected)
        self._server.settimeout(5)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> AnswersWhenAllArrived:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(5)
        self._server.close()
        shutil.rmtree(self.socket.parent, ignore_errors=True)

    def _serve(self) -> None:
        conns = []
        try:
            for _ in range(self.expected):
                conn, _ = self._server.accept()
                conns.append(conn)
                request = conn.recv(65536)
                self.names.append(json.loads(request.partition(b"\r\n\r\n")[2])["Name"])
            for conn, name in zip(conns, self.names, strict=True):
                body = json.dumps({"Value": b64(name), "Version": 1}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
        except OSError:
            pass  # the client gave up (timed out): the test fails on its side
        finally:
            for conn in conns:
                conn.close()
