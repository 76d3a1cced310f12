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


class HostileDownloads:
    """An HTTP server on 127.0.0.1 that answers every download with the headers a test gives
    it: a compromised or malicious leger-server."""

    def __init__(self, body: bytes) -> None:
        import http.server
        import threading

        self.body = body
        self.headers: dict[str, str] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(outer.body)))
                self.send_header("X-Leger-Sha256", hashlib.sha256(outer.body).hexdigest())
                for key, value in outer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_downloads():
    server = HostileDownloads(make_bundle())
    yield server
    server.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Disposition": 'attachment; filename=".bashrc"', "X-Leger-Version": "1"},
        {"Content-Disposition": 'attachment; filename="../../.bashrc"', "X-Leger-Version": "1"},
        {"Content-Disposition": 'attachment; filename="a/b-v1.tar.gz"', "X-Leger-Version": "1"},
        {
            "Content-Disposition": 'attachment; filename=".profile-v1.tar.gz"',
            "X-Leger-Version": "1",
        },
        {"Content-Disposition": 'attachment; filename="ok-v1.tar.gz"', "X-Leger-Version": "1/../x"},
    ],
    ids=["dotfile", "traversal", "separator", "leading-dot-stem", "bad-version"],
)
def test_a_hostile_server_cannot_choose_the_downloaded_file_name(
    hostile_downloads, tmp_path, headers
):
    hostile_downloads.headers = headers
    dest = tmp_path / "home" / "downloads"
    dest.mkdir(parents=True)
    with CloudClient(hostile_downloads.url, "t") as client, pytest.raises(InvalidInputError) as err:
        client.download_release("latest", dest)
    assert "-o FILE" in str(err.value)
    assert list(tmp_path.rglob("*")) == [tmp_path / "home", dest]  # nothing written anywhere


def test_a_download_into_a_directory_is_named_locally(hostile_downloads, tmp_path):
    hostile_downloads.headers = {
        "Content-Disposition": 'attachment; filename="openwebui-v3.tar.gz"',
        "X-Leger-Version": "3",
    }
    with CloudClient(hostile_downloads.url, "t") as client:
        got = client.download_release("latest", tmp_path)
        assert got == tmp_path / "openwebui-v3.tar.gz"
        assert got.read_bytes() == hostile_downloads.body
        # an explicit file name is the user's choice, whatever the server says
        hostile_downloads.headers["Content-Disposition"] = 'attachment; filename=".bashrc"'
        mine = client.download_release("latest", tmp_path / "mine.tar.gz")
        assert mine.read_bytes() == hostile_downloads.body


def test_a_dot_deployment_name_on_the_real_server_is_not_saved_as_a_dot_file(
    leger_server, tmp_path
):
    with CloudClient(leger_server.url, leger_server.login()) as client:
        path = tmp_path / "b.tar.gz"
        path.write_bytes(make_bundle(name=".bashrc"))
        dest = tmp_path / "out"
        dest.mkdir()
        try:
            client.upload_bundle(path)
        except InvalidInputError:
            return  # a server whose name rule refuses a leading dot: fine as well
        with pytest.raises(InvalidInputError, match="may not start with a dot"):
            client.download_release("latest", dest)
        assert list(dest.iterdir()) == []
