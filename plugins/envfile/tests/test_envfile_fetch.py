"""``leger secrets fetch|clean`` and ``leger quadlet snippet`` run as real processes against a
real legerd."""

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from leger_core.testing import InjectorConformance, slow_imports_probe
from leger_plugin_envfile.envformat import parse
from leger_plugin_envfile.injector import EnvFileInjector

VALUE = "sk-proj-fetch-test-VALUE-123"


@pytest.fixture
def openwebui(leger_home, secrets_in_legerd):
    leger_home.write_config(
        {
            "secrets": {"prefix": "leger/u1/"},
            "services": {
                "openwebui": {
                    "secrets": ["openai_api_key"],
                    "env": {"ANTHROPIC_API_KEY": "team/anthropic"},
                }
            },
        }
    )
    secrets_in_legerd("leger/u1/openai_api_key", VALUE)
    secrets_in_legerd("team/anthropic", "sk-ant-second")
    return leger_home


def test_fetch_writes_a_private_env_file_with_every_secret(openwebui):
    proc = openwebui.run_text("secrets", "fetch", "openwebui")
    assert proc.returncode == 0, proc.stderr
    path = openwebui.env_file("openwebui")
    assert parse(path.read_bytes()) == {
        "ANTHROPIC_API_KEY": b"sk-ant-second",
        "OPENAI_API_KEY": VALUE.encode(),
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "ANTHROPIC_API_KEY, OPENAI_API_KEY" in proc.stdout
    assert VALUE not in proc.stdout + proc.stderr


def test_second_fetch_takes_the_fast_path_and_writes_the_same(openwebui):
    first = openwebui.run_text("secrets", "fetch", "openwebui")  # full CLI: fills the caches
    assert first.returncode == 0, first.stderr
    content = openwebui.env_file("openwebui").read_bytes()
    openwebui.env_file("openwebui").unlink()
    probe = slow_imports_probe(
        "from leger_plugin_envfile.fast import main\nprint('exit code', main(['openwebui']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=openwebui.env, capture_output=True, text=True
    )
    assert proc.stdout.splitlines()[1:] == ["exit code 0", "slow imports:"], (
        proc.stdout + proc.stderr
    )
    assert openwebui.env_file("openwebui").read_bytes() == content
    full = openwebui.run_text("secrets", "fetch", "openwebui", env={"LEGER_NO_FAST": "1"})
    assert full.stdout == proc.stdout.splitlines()[0] + "\n"
    assert openwebui.env_file("openwebui").read_bytes() == content


def test_config_change_is_seen_at_the_next_fetch(openwebui, secrets_in_legerd):
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    secrets_in_legerd("leger/u1/groq_api_key", "gsk-third")
    openwebui.write_config(
        {
            "secrets": {"prefix": "leger/u1/"},
            "services": {"openwebui": {"secrets": ["groq_api_key"]}},
        }
    )
    proc = openwebui.run_text("secrets", "fetch", "openwebui")
    assert proc.returncode == 0, proc.stderr
    assert parse(openwebui.env_file("openwebui").read_bytes()) == {"GROQ_API_KEY": b"gsk-third"}


def test_rotated_value_is_seen_at_the_next_fetch(openwebui, secrets_in_legerd):
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    secrets_in_legerd("leger/u1/openai_api_key", "sk-rotated")
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    got = parse(openwebui.env_file("openwebui").read_bytes())
    assert got["OPENAI_API_KEY"] == b"sk-rotated"


@pytest.mark.parametrize("fast", [True, False])
def test_newline_in_a_value_is_refused_naming_the_secret_and_leaves_no_file(
    openwebui, secrets_in_legerd, fast
):
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0  # a previous start
    secrets_in_legerd("team/anthropic", "sk-ant-line-one\nline-two")
    env = {} if fast else {"LEGER_NO_FAST": "1"}
    proc = openwebui.run_text("secrets", "fetch", "openwebui", env=env)
    assert proc.returncode == 7
    assert "'team/anthropic'" in proc.stderr and "newline" in proc.stderr
    assert "sk-ant-line-one" not in proc.stdout + proc.stderr
    assert not openwebui.env_file("openwebui").exists()
    assert os.listdir(openwebui.env_file("openwebui").parent) == []


@pytest.mark.parametrize("fast", [True, False])
def test_missing_secret_is_an_error_and_leaves_no_file(openwebui, legerd_daemon, fast):
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    with legerd_daemon.client() as client:
        client.delete("team/anthropic")
    env = {} if fast else {"LEGER_NO_FAST": "1"}
    proc = openwebui.run_text("secrets", "fetch", "openwebui", env=env)
    assert proc.returncode == 4
    assert "team/anthropic" in proc.stderr and "ANTHROPIC_API_KEY" in proc.stderr
    assert not openwebui.env_file("openwebui").exists()


def test_legerd_down_is_an_error_and_leaves_no_file(openwebui, legerd_daemon):
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    legerd_daemon.stop()
    proc = openwebui.run_text("secrets", "fetch", "openwebui")
    assert proc.returncode == 5
    assert "legerd is not running" in proc.stderr
    assert not openwebui.env_file("openwebui").exists()


def test_unknown_service_lists_the_known_ones(openwebui):
    proc = openwebui.run_text("secrets", "fetch", "nope")
    assert proc.returncode == 4
    assert "unknown service 'nope'" in proc.stderr and "openwebui" in proc.stderr


def test_invalid_service_name_is_refused(openwebui):
    proc = openwebui.run_text("secrets", "fetch", "../etc")
    assert proc.returncode in (4, 7)
    assert not (openwebui.runtime / "etc.env").exists()


def test_output_option_and_clean(openwebui, tmp_path):
    target = tmp_path / "out" / "web.env"
    proc = openwebui.run_text("secrets", "fetch", "openwebui", "--output", str(target))
    assert proc.returncode == 0, proc.stderr
    assert parse(target.read_bytes())["OPENAI_API_KEY"] == VALUE.encode()
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert openwebui.run_text("secrets", "clean", "openwebui", "-o", str(target)).returncode == 0
    assert not target.exists()
    again = openwebui.run_text("secrets", "clean", "openwebui", "-o", str(target))
    assert again.returncode == 0 and "Nothing to remove" in again.stdout


def test_clean_removes_the_default_file(openwebui):
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    assert openwebui.run_text("secrets", "clean", "openwebui").returncode == 0
    assert not openwebui.env_file("openwebui").exists()


def test_readers_never_see_a_partial_file(openwebui, secrets_in_legerd):
    """Fetch over and over while another thread reads: every read is a whole file."""
    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    path = openwebui.env_file("openwebui")
    wholes = {path.read_bytes()}
    secrets_in_legerd("leger/u1/openai_api_key", "sk-" + "y" * 5000)
    stop = threading.Event()
    bad: list[bytes] = []

    def reader():
        while not stop.is_set():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                bad.append(b"<missing>")
                continue
            if not data.endswith(b"\n") or len(parse(data)) != 2:
                bad.append(data[:40])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(5):
            assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    finally:
        stop.set()
        thread.join()
    assert bad == []
    wholes.add(path.read_bytes())
    assert len(wholes) == 2
    assert [p for p in os.listdir(path.parent) if p.endswith(".tmp")] == []


def test_no_value_in_arguments_output_or_legerd_logs(openwebui, legerd_daemon):
    args = ["secrets", "fetch", "openwebui"]
    proc = openwebui.run_text(*args)
    assert proc.returncode == 0
    assert not any(VALUE in a for a in args)
    assert VALUE not in proc.stdout + proc.stderr
    assert VALUE not in legerd_daemon.output()
    audit = legerd_daemon.state_dir / "audit.log"
    assert VALUE not in audit.read_text()
    cache = json.loads((openwebui.root / "home/.cache/leger/service-plans.json").read_text())
    assert VALUE not in json.dumps(cache)


def test_quadlet_snippet_names_the_file_and_commands(openwebui):
    proc = openwebui.run_text("quadlet", "snippet", "openwebui")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "EnvironmentFile=%t/leger/openwebui.env" in out
    assert (
        "ExecStartPre=/" in out and "secrets fetch openwebui --output %t/leger/openwebui.env" in out
    )
    assert "secrets clean openwebui" in out
    assert "OPENAI_API_KEY <- leger/u1/openai_api_key" in out
    assert VALUE not in out


def test_quadlet_snippet_orders_the_unit_after_legerd(openwebui):
    """A boot-time start must wait for legerd (Type=notify: started means listening), and
    fetch/clean must be the absolute path of this installation's leger: systemd's search path
    does not include a venv."""
    out = openwebui.run_text("quadlet", "snippet", "openwebui").stdout
    lines = out.splitlines()
    unit = lines[lines.index("[Unit]") + 1 : lines.index("[Container]")]
    assert "After=legerd.service" in unit and "Wants=legerd.service" in unit
    pre = next(x for x in lines if x.startswith("ExecStartPre="))
    leger = pre.removeprefix("ExecStartPre=").split()[0]
    assert leger == str(Path(sys.executable).parent / "leger")


class TestEnvFileInjectorConformance(InjectorConformance):
    @pytest.fixture
    def injector(self, tmp_path, monkeypatch):
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
        return EnvFileInjector()

    @pytest.fixture
    def delivered(self, tmp_path):
        def read(service):
            path = tmp_path / "run" / "leger" / f"{service}.env"
            if not path.exists():
                return None
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            return parse(path.read_bytes())

        return read


def test_plan_cache_is_stamped_with_config_account_and_site_packages(openwebui):
    import sysconfig

    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0
    cache = json.loads((openwebui.root / "home/.cache/leger/service-plans.json").read_text())
    (entry,) = cache.values()
    assert set(entry["inputs"]) == {
        str(openwebui.config),
        str(openwebui.root / "home/.local/state/leger/account.json"),
        sysconfig.get_paths()["purelib"],
    }
    assert entry["services"]["openwebui"] == [
        ["ANTHROPIC_API_KEY", "setec", "team/anthropic"],
        ["OPENAI_API_KEY", "setec", "leger/u1/openai_api_key"],
    ]
    # How the fast path opens legerd: the setec plugin's fast entry, no plugin discovery.
    assert entry["backends"]["setec"]["target"] == "leger_plugin_setec.client:client_from_config"


def test_a_provider_without_declared_inputs_disables_the_cache(openwebui):
    """deploy's provider (when it declares no inputs) sends every fetch through the full CLI."""
    plugins = openwebui.env["LEGER_LOAD_PLUGINS"] + ",deploy"
    proc = openwebui.run_text("secrets", "fetch", "openwebui", env={"LEGER_LOAD_PLUGINS": plugins})
    assert proc.returncode == 0, proc.stderr
    import importlib

    deploy = importlib.import_module("leger_plugin_deploy")
    cache = openwebui.root / "home/.cache/leger/service-plans.json"
    if hasattr(deploy, "leger_service_secrets_inputs"):
        assert cache.exists()
    else:
        assert not cache.exists()


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "full-cli"])
def test_fetch_asks_for_every_secret_at_once(openwebui, fast):
    """One round trip to legerd per container start, however many secrets: a server that
    answers only once both requests are in would make a one-at-a-time fetch time out."""
    from leger_testkit.setec_wire import AnswersWhenAllArrived

    assert openwebui.run_text("secrets", "fetch", "openwebui").returncode == 0  # fills the caches
    with AnswersWhenAllArrived(2) as server:
        env = {"LEGERD_SOCKET": str(server.socket), **({} if fast else {"LEGER_NO_FAST": "1"})}
        proc = openwebui.run_text("secrets", "fetch", "openwebui", env=env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(server.names) == ["leger/u1/openai_api_key", "team/anthropic"]
    assert parse(openwebui.env_file("openwebui").read_bytes()) == {
        "ANTHROPIC_API_KEY": b"team/anthropic",
        "OPENAI_API_KEY": b"leger/u1/openai_api_key",
    }
