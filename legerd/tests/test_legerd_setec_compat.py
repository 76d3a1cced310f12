"""legerd answers as tailscale/setec's server does, as setec's own client sees it (issue 14).

Each case is replayed as raw HTTP bytes against a real legerd and its answer (status, headers,
body) is checked against setec's (``server/server.go``, ``db/kv.go``, ``docs/api.md``). Where
legerd answers otherwise on purpose, the case is in :data:`DIFFERENCES`, pinned here with both
answers; docs/legerd.md's "Differences from setec" table lists the same cases (tested below).

Every case goes over the Unix socket. A denied caller needs a principal other than the owner:
another local user (uid 65534, when the tests run as root) and, everywhere, a bearer token on a
TCP listener (the same bytes, plus ``Authorization``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leger_core.unixhttp import Response as Answer
from leger_core.unixhttp import parse_response
from legerd.testing import LegerdDaemon

ROOT = Path(__file__).resolve().parents[2]
SETEC = b"Content-Type: application/json\r\nSec-X-Tailscale-No-Browsers: setec\r\n"
GO_ERROR = "text/plain; charset=utf-8"


def request(path: str, body: bytes, *, method: str = "POST", headers: bytes = SETEC) -> bytes:
    """The exact bytes a setec client sends (Go's net/http, one request per connection)."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: legerd\r\nConnection: close\r\n".encode()
        + headers
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def exchange(address: Path | tuple[str, int], data: bytes) -> Answer:
    """Send ``data`` as it is (any bytes, even a broken request) and read the answer to EOF."""
    family = socket.AF_UNIX if isinstance(address, Path) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(address) if isinstance(address, Path) else address)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)  # legerd may answer and close before all of a refused body is in
        raw = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                raw += chunk
    return parse_response(raw)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def put(name: str, value: bytes = b"v") -> bytes:
    return request("/api/put", json.dumps({"Name": name, "Value": b64(value)}).encode())


def assert_go_error(answer: Answer, status: int, message: str) -> None:
    """What Go's http.Error(w, message, status) puts on the wire."""
    assert (answer.status, answer.body) == (status, message.encode() + b"\n")
    assert answer.headers["content-type"] == GO_ERROR
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-length"] == str(len(message) + 1)
    assert "date" in answer.headers


def assert_json(answer: Answer, body: bytes) -> None:
    assert (answer.status, answer.body) == (200, body)
    assert answer.headers["content-type"] == "application/json"


def audit_lines(daemon: LegerdDaemon) -> list[dict[str, Any]]:
    text = (daemon.state_dir / "audit.log").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def sock(legerd_daemon: LegerdDaemon) -> Path:
    return legerd_daemon.socket


# --- issue 14, 1: deleting what does not exist is done, not "not found" -----------------------


def test_delete_of_a_missing_secret_is_200_empty_object(sock: Path) -> None:
    assert_json(exchange(sock, request("/api/delete", b'{"Name":"never-was"}')), b"{}")


# --- 2: null bodies and null fields are Go's zero values ----------------------------------------


def test_list_takes_null_and_empty_object(sock: Path) -> None:
    assert_json(exchange(sock, request("/api/list", b"null")), b"null")
    assert_json(exchange(sock, request("/api/list", b"{}")), b"null")
    exchange(sock, put("k"))
    want = b'[{"Name":"k","Versions":[1],"ActiveVersion":1}]'
    assert_json(exchange(sock, request("/api/list", b"null")), want)
    assert_json(exchange(sock, request("/api/list", b" {} ")), want)


def test_null_fields_are_zero_values(sock: Path) -> None:
    exchange(sock, put("k", b"one"))
    body = b'{"Name":"k","Version":null,"UpdateIfChanged":null}'
    assert_json(exchange(sock, request("/api/get", body)), b'{"Value":"b25l","Version":1}')
    assert_json(exchange(sock, request("/api/put", b'{"Name":"e","Value":null}')), b"1")
    null_name = exchange(sock, request("/api/get", b'{"Name":null}'))  # Name "" (see DIFFERENCES)
    assert null_name.status == 400


def test_only_the_first_json_value_is_read_as_go_decoder_does(sock: Path) -> None:
    exchange(sock, put("k", b"one"))
    answer = exchange(sock, request("/api/get", b'{"Name":"k"} and then anything'))
    assert_json(answer, b'{"Value":"b25l","Version":1}')


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"[1]", b'"k"', b'{"Name":5}', b'{"Name":"k","Version":-1}',
     b'{"Name":"k","Version":1.5}', b'{"Name":"k","Version":4294967296}',
     b'{"Name":"k","Version":true}', b'{"Name":"k","UpdateIfChanged":"yes"}'],
)  # fmt: skip
def test_bodies_go_cannot_decode_are_bad_request(sock: Path, body: bytes) -> None:
    assert_go_error(exchange(sock, request("/api/get", body)), 400, "bad request")


def test_value_that_is_not_base64_is_bad_request(sock: Path) -> None:
    answer = exchange(sock, request("/api/put", b'{"Name":"k","Value":"***"}'))
    assert_go_error(answer, 400, "bad request")


# --- 3: unchanged polls are neither audited nor synced -----------------------------------------


def test_unchanged_poll_is_304_without_an_audit_line(legerd_daemon: LegerdDaemon, sock: Path):
    exchange(sock, put("k"))
    before = (legerd_daemon.state_dir / "audit.log").read_bytes()
    poll = request("/api/get", b'{"Name":"k","Version":1,"UpdateIfChanged":true}')
    for _ in range(5):
        answer = exchange(sock, poll)
        assert (answer.status, answer.body) == (304, b"")
        assert answer.headers["content-type"] == "application/json"
        assert "content-length" not in answer.headers
    assert (legerd_daemon.state_dir / "audit.log").read_bytes() == before  # nothing written
    exchange(sock, put("k", b"two"))
    exchange(sock, request("/api/activate", b'{"Name":"k","Version":2}'))
    changed = exchange(sock, poll)  # a new value handed out: that is audited
    assert_json(changed, b'{"Value":"dHdv","Version":2}')
    last = audit_lines(legerd_daemon)[-1]
    assert (last["action"], last["secret"], last["version"]) == ("get", "k", 1)


# --- 5: names setec accepts round-trip and show safely in the audit log -------------------------

SETEC_NAMES = [
    "with space", "ünïcødé/名前", "a//b", "trail/", "/lead", "q?x#y", "x" * 300, "../etc", ".",
    "💥", 'quote"and\\back', "tab-looking \\t text", "x" * 1024, "é" * 2048,
]  # fmt: skip


def test_names_setec_accepts_round_trip(legerd_daemon: LegerdDaemon, sock: Path) -> None:
    for i, name in enumerate(SETEC_NAMES):
        value = f"value-{i}".encode()
        assert_json(exchange(sock, put(name, value)), b"1")
        got = exchange(sock, request("/api/get", json.dumps({"Name": name}).encode()))
        assert json.loads(got.body) == {"Value": b64(value), "Version": 1}
        info = exchange(sock, request("/api/info", json.dumps({"Name": name}).encode()))
        assert json.loads(info.body) == {"Name": name, "Versions": [1], "ActiveVersion": 1}
    listed = json.loads(exchange(sock, request("/api/list", b"{}")).body)
    assert [x["Name"] for x in listed] == sorted(SETEC_NAMES)
    legerd_daemon.restart()
    listed = json.loads(exchange(sock, request("/api/list", b"{}")).body)
    assert [x["Name"] for x in listed] == sorted(SETEC_NAMES)
    # Each request is one line of the log, whatever the name holds; the name reads back exact.
    raw = (legerd_daemon.state_dir / "audit.log").read_bytes()
    assert raw.count(b"\n") == len(audit_lines(legerd_daemon))
    logged = {line["secret"] for line in audit_lines(legerd_daemon)}
    assert set(SETEC_NAMES) <= logged


@pytest.mark.parametrize(
    "name", ["trail\n", "a\nb", "nul\x00", "esc\x1b[2J", "del\x7f", "c1\x9b", "x" * 4097]
)
def test_names_that_cannot_be_shown_safely_are_refused(legerd_daemon, sock: Path, name) -> None:
    answer = exchange(sock, put(name))
    assert answer.status == 400 and answer.headers["content-type"] == GO_ERROR
    assert exchange(sock, request("/api/list", b"{}")).body == b"null"
    raw = (legerd_daemon.state_dir / "audit.log").read_bytes()
    assert raw.count(b"\n") == len(audit_lines(legerd_daemon))  # refused, still one line


# --- 6: errors as Go's http.Error --------------------------------------------------------------


def test_errors_are_go_http_error(sock: Path) -> None:
    exchange(sock, put("k"))
    exchange(sock, put("k", b"two"))
    cases = [
        (request("/api/get", b"{}", method="GET"), 400, "only POST requests allowed"),
        (request("/api/get", b"{}", headers=b"Content-Type: text/plain\r\n"
                 b"Sec-X-Tailscale-No-Browsers: setec\r\n"), 400, "request body must be json"),
        (request("/api/get", b"{}", headers=b"Content-Type: application/json\r\n"),
         403, "access denied"),
        (request("/api/get", b'{"Name":"missing"}'), 404, "not found"),
        (request("/api/get", b'{"Name":"k","Version":9}'), 404, "not found"),
        (request("/api/info", b'{"Name":"missing"}'), 404, "not found"),
        (request("/api/activate", b'{"Name":"missing","Version":1}'), 404, "not found"),
        (request("/api/activate", b'{"Name":"k","Version":9}'), 404, "not found"),
        (request("/api/delete-version", b'{"Name":"missing","Version":1}'), 404, "not found"),
        (request("/api/create-version", f'{{"Name":"k","Version":1,"Value":"{b64(b"x")}"}}'
                 .encode()), 412, "version already set"),
        (request("/api/create-version", b'{"Name":"k","Version":0}'), 400, "invalid version"),
        (request("/api/no-such-method", b"{}"), 400, "bad request"),
        (request("/nothing-here", b"", method="GET", headers=b""), 404, "404 page not found"),
    ]  # fmt: skip
    for data, status, message in cases:
        assert_go_error(exchange(sock, data), status, message)


# --- 4: the access check comes first, everywhere ----------------------------------------------


def legerd_cmd(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "legerd", *args]


@pytest.fixture
def denied(legerd_factory, tmp_path) -> tuple[LegerdDaemon, tuple[str, int], bytes]:
    """legerd with a TCP listener; token ``ro`` may only get and info ``shared/*``."""
    state = tmp_path / "state-denied"
    subprocess.run(legerd_cmd("init", "--state-dir", str(state)), check=True, capture_output=True)
    token = subprocess.run(
        legerd_cmd("token", "add", "ro", "--state-dir", str(state)),
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[allow]]\nprincipals = ["token:ro"]\nactions = ["get", "info"]\nsecrets = ["shared/*"]\n'
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon = legerd_factory("--listen", f"127.0.0.1:{port}", "--rules", str(rules),
                            state_dir=state)  # fmt: skip
    exchange(daemon.socket, put("private/k"))
    exchange(daemon.socket, put("private/k", b"two"))
    exchange(daemon.socket, put("shared/k"))
    return daemon, ("127.0.0.1", port), SETEC + f"Authorization: Bearer {token}\r\n".encode()


DENIED_CASES = [
    ("/api/activate", b'{"Name":"private/k","Version":0}'),
    ("/api/delete-version", b'{"Name":"private/k","Version":0}'),
    ("/api/create-version", b'{"Name":"private/k","Version":0}'),
    ("/api/delete-version", b'{"Name":"private/k","Version":1}'),  # the active one
    ("/api/activate", b'{"Name":"private/missing","Version":7}'),
    ("/api/get", b'{"Name":"private/missing"}'),
    ("/api/get", b'{"Name":"private/k","Version":1,"UpdateIfChanged":true}'),
    ("/api/put", b'{"Name":"shared/k\\n"}'),
    ("/api/put", b'{"Name":""}'),
    ("/api/delete", b'{"Name":"private/missing"}'),
    ("/api/info", b'{"Name":"_internal/x"}'),
]


@pytest.mark.parametrize(("path", "body"), DENIED_CASES)
def test_a_denied_caller_learns_nothing_else(denied, path: str, body: bytes) -> None:
    daemon, address, headers = denied
    before = len(audit_lines(daemon))
    assert_go_error(exchange(address, request(path, body, headers=headers)), 403, "access denied")
    lines = audit_lines(daemon)[before:]
    assert [(x["principal"], x["authorized"]) for x in lines] == [("token:ro", False)]


def exchange_as(uid: int, address: Path, data: bytes) -> Answer:
    """:func:`exchange` from a child process running as ``uid`` (SO_PEERCRED names it)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to uid, ask, send the answer back, exit without cleanup
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            answer = exchange(address, data)
            doc = {"status": answer.status, "headers": answer.headers, "body": answer.body.hex()}
            os.write(write_end, json.dumps(doc).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        doc = json.loads(fh.read())
    os.waitpid(pid, 0)
    return Answer(doc["status"], doc["headers"], bytes.fromhex(doc["body"]))


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another uid needs root")
@pytest.mark.parametrize(("path", "body"), DENIED_CASES)
def test_a_denied_local_user_learns_nothing_else(legerd_factory, tmp_path, path, body) -> None:
    """The same cases over the Unix socket, from another local user (uid 65534)."""
    rules = tmp_path / "rules.toml"
    rules.write_text('socket_mode = "0666"\n[[allow]]\nprincipals = ["uid:65534"]\n'
                     'actions = ["get", "info"]\nsecrets = ["shared/*"]\n')  # fmt: skip
    daemon = legerd_factory("--rules", str(rules))
    exchange(daemon.socket, put("private/k"))
    exchange(daemon.socket, put("private/k", b"two"))
    before = len(audit_lines(daemon))
    assert_go_error(exchange_as(65534, daemon.socket, request(path, body)), 403, "access denied")
    lines = audit_lines(daemon)[before:]
    assert [(x["principal"], x["authorized"]) for x in lines] == [("uid:65534,user:nobody", False)]


def test_an_allowed_poll_by_another_principal_is_304_and_unaudited(denied) -> None:
    daemon, address, headers = denied
    before = len(audit_lines(daemon))
    poll = request("/api/get", b'{"Name":"shared/k","Version":1,"UpdateIfChanged":true}',
                   headers=headers)  # fmt: skip
    assert exchange(address, poll).status == 304
    assert len(audit_lines(daemon)) == before


# --- 7: values over the limit ------------------------------------------------------------------


def test_value_limit_is_a_setting_and_an_oversized_value_is_400(legerd_factory) -> None:
    daemon = legerd_factory("--max-value-bytes", "1000")
    assert_json(exchange(daemon.socket, put("ok", b"x" * 1000)), b"1")
    assert_go_error(exchange(daemon.socket, put("big", b"x" * 1001)), 400,
                    "value larger than 1000 bytes")  # fmt: skip
    huge = exchange(daemon.socket, put("huge", b"x" * 100_000))  # larger than any body allowed
    assert huge.status == 400 and huge.headers["connection"] == "close"
    assert [x["Name"] for x in json.loads(exchange(daemon.socket, request("/api/list", b"{}"))
            .body)] == ["ok"]  # fmt: skip


def test_default_value_limit_is_one_mib(sock: Path) -> None:
    assert_json(exchange(sock, put("max", b"x" * (1 << 20))), b"1")
    assert exchange(sock, put("over", b"x" * ((1 << 20) + 1))).status == 400


# --- what legerd answers otherwise, on purpose (docs/legerd.md, "Differences from setec") -----

INTERNAL_PUT = put("_internal/x")


@dataclass(frozen=True)
class Difference:
    id: str
    request: bytes
    legerd: tuple[int, str]  # status, body
    setec: tuple[int, str]


DIFFERENCES = [
    Difference("activate-version-0", request("/api/activate", b'{"Name":"k","Version":0}'),
               (400, "invalid version\n"), (500, "internal error\n")),
    Difference("delete-version-0", request("/api/delete-version", b'{"Name":"k","Version":0}'),
               (400, "invalid version\n"), (500, "internal error\n")),
    Difference("delete-active-version",
               request("/api/delete-version", b'{"Name":"k","Version":1}'),
               (400, "cannot delete the active version\n"), (500, "internal error\n")),
    Difference("write-internal", INTERNAL_PUT, (403, "access denied\n"), (500, "internal error\n")),
    Difference("create-version-internal",
               request("/api/create-version", b'{"Name":"_internal/x","Version":3}'),
               (403, "access denied\n"), (200, "{}")),
    Difference("put-empty-name", request("/api/put", b'{"Name":"","Value":"dg=="}'),
               (400, "a secret name is required\n"), (500, "internal error\n")),
    Difference("get-empty-name", request("/api/get", b'{"Name":""}'),
               (400, "a secret name is required\n"), (404, "not found\n")),
    Difference("delete-empty-name", request("/api/delete", b"{}"),
               (400, "a secret name is required\n"), (200, "{}")),
    Difference("control-character-name", put("trail\n"),
               (400, "secret names cannot contain control characters\n"), (200, "1")),
    Difference("name-over-4096-bytes", put("x" * 4097),
               (400, "secret name longer than 4096 bytes\n"), (200, "1")),
    Difference("value-over-limit", put("big", b"x" * ((1 << 20) + 1)),
               (400, "value larger than 1048576 bytes\n"), (200, "1")),
    Difference("invalid-utf8-body", request("/api/get", b'{"Name":"\xff"}'),
               (400, "bad request\n"), (404, "not found\n")),
    Difference("health", request("/health", b"", method="GET", headers=b""),
               (200, '{"status":"ok","secrets_count":1}'), (404, "404 page not found\n")),
    Difference("no-reuse-of-deleted-number", request("/api/put", b'{"Name":"k","Value":null}'),
               (200, "3"), (200, "2")),
]  # fmt: skip


@pytest.mark.parametrize("diff", DIFFERENCES, ids=[d.id for d in DIFFERENCES])
def test_deliberate_difference(sock: Path, diff: Difference) -> None:
    # State for the cases that need it: k has versions 1 (active) and 2, and 2 was deleted.
    exchange(sock, put("k", b"one"))
    exchange(sock, put("k", b"two"))
    exchange(sock, request("/api/delete-version", b'{"Name":"k","Version":2}'))
    answer = exchange(sock, diff.request)
    assert (answer.status, answer.body.decode()) == diff.legerd
    assert diff.legerd != diff.setec


def test_unauthenticated_tcp_caller_is_403_not_setec_500(denied) -> None:
    """setec answers 500 "unable to identify caller"; a peer legerd cannot identify is
    refused like any other denied caller (and its body is not read)."""
    _daemon, address, _headers = denied
    answer = exchange(address, request("/api/get", b'{"Name":"shared/k"}'))
    assert_go_error(answer, 403, "access denied")
    assert answer.headers["connection"] == "close"


def test_docs_table_lists_exactly_the_pinned_differences() -> None:
    text = (ROOT / "docs" / "legerd.md").read_text()
    section = text.split("## Differences from setec", 1)[1].split("\n## ", 1)[0]
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M)
    assert ids == [d.id for d in DIFFERENCES] + ["unauthenticated-tcp-caller"]
    for diff in DIFFERENCES:
        row = next(r for r in section.splitlines() if r.startswith(f"| `{diff.id}` |"))
        legerd_cell, setec_cell = (cell.strip() for cell in row.split(" | ")[2:4])
        assert legerd_cell.startswith(str(diff.legerd[0])), row
        assert setec_cell.startswith(str(diff.setec[0])), row
        message = diff.legerd[1].strip()
        if diff.legerd[0] != 200:  # an error: the table quotes legerd's message
            assert f"`{message}`" in legerd_cell, row
