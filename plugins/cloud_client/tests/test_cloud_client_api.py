"""CloudClient against a real server: typed errors, values as SecretValue, transfers."""

from __future__ import annotations

import hashlib

import pytest

from leger_core.errors import DeniedError, InvalidInputError, NotFoundError, UnavailableError
from leger_core.models import SecretValue
from leger_core.testing import SecretBackendConformance
from leger_plugin_cloud.backend import CloudSecretBackend
from leger_plugin_cloud.client import CloudClient
from leger_server.testing import free_port, make_bundle


def test_401_is_denied_with_the_login_hint(leger_server):
    with CloudClient(leger_server.url, "not-a-token") as client, pytest.raises(DeniedError) as err:
        client.me()
    assert "run leger auth login" in str(err.value)


def test_404_is_not_found(leger_server):
    with CloudClient(leger_server.url, leger_server.login()) as client:
        with pytest.raises(NotFoundError):
            client.get_secret("missing")
        with pytest.raises(NotFoundError):
            client.latest_release()


def test_network_failure_is_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    with CloudClient(url, "t") as client, pytest.raises(UnavailableError):
        client.list_secrets()


def test_values_are_secret_values_and_never_in_errors(leger_server):
    with CloudClient(leger_server.url, leger_server.login()) as client:
        client.set_secret("k", SecretValue("sk-very-secret"))
        value = client.get_secret("k")
        assert isinstance(value, SecretValue) and value.reveal() == b"sk-very-secret"
        listed = client.list_secrets(include_values=True)
        assert "sk-very-secret" not in repr(listed)
        with pytest.raises(InvalidInputError) as err:
            client.set_secret("k", SecretValue("x" * (64 * 1024 + 1)))
        assert "xxxx" not in str(err.value)


def test_upload_and_download_report_progress(leger_server, tmp_path):
    payload = {f"f{i}.container": bytes([i]) * 300_000 for i in range(4)}
    data = make_bundle(payload)
    path = tmp_path / "b.tar.gz"
    path.write_bytes(data)
    seen_up: list[tuple[int, int | None]] = []
    seen_down: list[tuple[int, int | None]] = []
    with CloudClient(leger_server.url, leger_server.login()) as client:
        release = client.upload_bundle(path, progress=lambda d, t: seen_up.append((d, t)))
        assert release["sha256"] == hashlib.sha256(data).hexdigest()
        out = client.download_release(
            release["version"],
            tmp_path / "got.tar.gz",
            progress=lambda d, t: seen_down.append((d, t)),
        )
    assert out.read_bytes() == data
    assert seen_up[-1] == (len(data), len(data))
    assert seen_down[-1] == (len(data), len(data))


def test_failed_download_leaves_nothing(leger_server, tmp_path):
    dest = tmp_path / "downloads"
    dest.mkdir()
    client = CloudClient(leger_server.url, leger_server.login())
    with client, pytest.raises(NotFoundError):
        client.download_release(7, dest)
    assert list(dest.iterdir()) == []


class TestCloudBackendConformance(SecretBackendConformance):
    @pytest.fixture
    def secret_name_prefix(self) -> str:
        return "conformance."  # server names are [A-Za-z0-9_.-]

    @pytest.fixture
    def secret_backend(self, leger_server):
        client = CloudClient(leger_server.url, leger_server.login())
        yield CloudSecretBackend(client)
        client.close()
