"""A legerd with a TCP listener and a bearer token allowed to ``get`` what the tests use."""

from __future__ import annotations

import hashlib
import socket

import pytest

TOKEN = "legerd_initscript-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tcp_legerd(legerd_factory, tmp_path):
    rules = tmp_path / "access.toml"
    rules.write_text(
        "[[allow]]\n"
        'principals = ["token:init"]\n'
        'actions = ["get"]\n'
        'secrets = ["app/*", "leger-init/*"]\n'
        "[tokens]\n"
        f'init = "sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}"\n'
    )
    port = free_port()
    daemon = legerd_factory("--listen", f"127.0.0.1:{port}", "--rules", str(rules))
    daemon.addr = f"127.0.0.1:{port}"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    daemon.token_file = token_file
    return daemon
