"""The shared WhoIs client (legerd and leger-server) against a tiny tailscaled stand-in on a
Unix socket that answers raw HTTP, so framing (chunked, Content-Length) and bad answers are
exercised as tailscaled could send them."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from leger_core.tailscale_whois import WhoIs, WhoIsError, WhoIsUnknown, format_addr, whois

ALICE = {
    "Node": {
        "ID": 2929,
        "StableID": "n2929CNTRL",
        "Name": "alice-laptop.tail1234.ts.net.",
        "Hostinfo": {"Hostname": "alice-laptop"},
        "Tags": None,
    },
    "UserProfile": {"ID": 123456789, "LoginName": "alice@github", "DisplayName": "Alice"},
    "CapMap": {"example.com/cap/leger": [{"admin": True}]},
}


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[str]:
    path = f"/tmp/leger-whois-{os.getpid()}-{tmp_path.name[-12:]}.sock"
    yield path
    if os.path.exists(path):
        os.unlink(path)


def ask(path: str, answer: bytes, addr: str = "100.64.0.2:41641") -> tuple[WhoIs, list[bytes]]:
    """Serve ``answer`` (raw HTTP) once on ``path`` and run :func:`whois` against it."""
    requests: list[bytes] = []

    async def main() -> WhoIs:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            requests.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(answer)
            await writer.drain()
            writer.close()

        server = await asyncio.start_unix_server(handle, path)
        async with server:
            return await whois(path, addr)

    return asyncio.run(main()), requests


def http(status: str, body: bytes, *, chunked: bool = False) -> bytes:
    if chunked:
        half = len(body) // 2
        chunks = b"".join(
            f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:half], body[half:])
        )
        return (
            f"HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + chunks
            + (b"0\r\n\r\n")
        )
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize("chunked", [False, True])
def test_a_member_is_parsed_from_the_documented_json(socket_path: str, chunked: bool) -> None:
    who, requests = ask(socket_path, http("200 OK", json.dumps(ALICE).encode(), chunked=chunked))
    assert who == WhoIs(
        node_id="n2929CNTRL",
        node_name="alice-laptop.tail1234.ts.net",
        hostname="alice-laptop",
        tags=(),
        user_id="123456789",
        login_name="alice@github",
        display_name="Alice",
        cap_map=ALICE["CapMap"],
    )
    assert not who.tagged and who.dns_suffix == "tail1234.ts.net"
    assert requests[0].startswith(b"GET /localapi/v0/whois?addr=100.64.0.2%3A41641 HTTP/1.1")


def test_framing_is_read_as_http_defines_it_not_as_one_spelling(socket_path: str) -> None:
    body = json.dumps(ALICE).encode()
    # Header names are case-insensitive and the space after the colon is optional.
    upper = b"HTTP/1.1 200 OK\r\nTRANSFER-ENCODING:chunked\r\n\r\n"
    upper += f"{len(body):X}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    assert ask(socket_path, upper)[0].login_name == "alice@github"
    # The body is Content-Length bytes, whatever comes after them.
    longer = http("200 OK", body) + b"junk"
    assert ask(socket_path, longer)[0].login_name == "alice@github"


def test_a_tagged_node_is_its_tags(socket_path: str) -> None:
    tagged = {**ALICE, "Node": {**ALICE["Node"], "Tags": ["tag:ci", 7]}}
    who, _ = ask(socket_path, http("200 OK", json.dumps(tagged).encode()))
    assert who.tagged and who.tags == ("tag:ci",)


def test_an_unknown_address_is_whois_unknown(socket_path: str) -> None:
    with pytest.raises(WhoIsUnknown):
        ask(socket_path, http("404 Not Found", b"no match for IP:port\n"))


@pytest.mark.parametrize(
    "answer",
    [
        http("500 Internal Server Error", b"oops"),
        http("200 OK", b"not json"),
        http("200 OK", b'{"Node": "x", "UserProfile": {}}'),
        http("200 OK", b"[]"),
        b"garbage without a status line",
    ],
)
def test_anything_else_is_a_whois_error(socket_path: str, answer: bytes) -> None:
    with pytest.raises(WhoIsError) as err:
        ask(socket_path, answer)
    assert not isinstance(err.value, WhoIsUnknown)


def test_an_absent_socket_is_a_whois_error() -> None:
    with pytest.raises(WhoIsError, match="unreachable"):
        asyncio.run(whois("/nonexistent/tailscaled.sock", "100.64.0.2:1"))


def test_ipv6_addresses_are_bracketed() -> None:
    assert format_addr("fd7a:115c:a1e0::1", 443) == "[fd7a:115c:a1e0::1]:443"
    assert format_addr("100.64.0.2", 443) == "100.64.0.2:443"
