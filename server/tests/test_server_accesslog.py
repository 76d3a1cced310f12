"""A real ``leger-server serve`` never writes a query value to its log: not the login link's
one-time code, not any other parameter of any other URL, with one worker or several."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leger_server.accesslog import redact
from leger_server.testing import RunningServer, bearer
from leger_testkit.web import login_code


def _requests(server: RunningServer) -> list[str]:
    """Send requests whose queries hold marked values; returns the log lines to expect."""
    token = server.login("log-user")
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        assert client.get("/health?token=SECRETVALUE").status_code == 200
        me = client.get("/api/me?api_key=SECRETVALUE1&t=SECRETVALUE2", headers=bearer(token))
        assert me.status_code == 200
        assert client.get("/no-such-page?SECRETVALUE3").status_code == 404
        assert client.get("/health?%73ecret=SECRETVALUE4&&x").status_code == 200
        post = client.post("/api/secrets/n?value=SECRETVALUE5", json={"value": "v"})
        assert post.status_code == 401
        code = login_code(server, token)
        login = client.get("/login/code", params={"code": code}, follow_redirects=False)
        assert login.status_code == 200
    return [
        '"GET /health?token=[redacted] HTTP/1.1" 200',
        '"GET /api/me?api_key=[redacted]&t=[redacted] HTTP/1.1" 200',
        '"GET /no-such-page?[redacted] HTTP/1.1" 404',
        '"GET /health?[redacted]&&[redacted] HTTP/1.1" 200',
        '"POST /api/secrets/n?value=[redacted] HTTP/1.1" 401',
        '"GET /login/code?code=[redacted] HTTP/1.1" 200',
        token,  # not expected: checked below
        code,
    ]


def _check(server: RunningServer, expected: list[str]) -> None:
    *lines, token, code = expected
    server.stop()  # flushes the log
    log = server.log()
    assert "SECRETVALUE" not in log and code not in log
    assert token not in log and token.split(".")[1] not in log
    for line in lines:
        assert line in log, (line, log[-3000:])


def test_query_values_never_reach_the_server_log(leger_server: RunningServer) -> None:
    _check(leger_server, _requests(leger_server))


def test_query_values_never_reach_the_log_with_several_workers(
    leger_server_factory: Callable[..., Any],
) -> None:
    server = leger_server_factory(extra_args=["--workers", "2"])
    _check(server, _requests(server))


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/auth?token=abc", "/auth?token=[redacted]"),
        ("/auth?token=[redacted]", "/auth?token=[redacted]"),
        ("/x", "/x"),
        ("/x?", "/x?"),
        ("/x?a=1&b=&c", "/x?a=[redacted]&b=[redacted]&[redacted]"),
        ("/x?a%20b=1", "/x?[redacted]"),
        ("/x?k=v=w", "/x?k=[redacted]"),
    ],
)
def test_redact_keeps_names_and_drops_every_value(path: str, logged: str) -> None:
    assert redact(path) == logged
