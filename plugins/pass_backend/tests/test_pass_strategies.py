"""Every strategy reads from password-store through the ``pass`` backend, with legerd not
running: ``secrets fetch`` (fast path and full CLI), and real containers through the env file,
a podman secret and the shell driver."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from leger_core.testing import slow_imports_probe
from leger_plugin_podman.injectors import podman_secret_name
from leger_testkit.podman import ArgvWatch, LegerHome

VALUE = "sk-from-pass-VALUE-77"


@pytest.fixture
def home(tmp_path, pass_store) -> LegerHome:
    # LEGERD_SOCKET points at nothing: a read that reached legerd would fail.
    env = {"LEGERD_SOCKET": str(tmp_path / "no-legerd.sock"), **pass_store.env}
    home = LegerHome(tmp_path / "leger-home", env, "pass,envfile")
    pass_store.insert("ai/openai", f"{VALUE}\nlogin: me\n".encode())
    pass_store.insert("ssh/deploy", b"line one\nline two")
    home.write_config(
        {
            "services": {
                "svc": {"backend": "pass", "env": {"OPENAI_API_KEY": "ai/openai"}},
                # the global backend stays setec: this one names pass in its reference
                "mixed": {"env": {"OPENAI_API_KEY": "pass:ai/openai"}},
            }
        }
    )
    return home


def env_file(home: LegerHome, service: str) -> bytes:
    """The env file's assignments (its comment lines, which name secrets, left out)."""
    data = (home.runtime / "leger" / f"{service}.env").read_bytes()
    return b"".join(line for line in data.splitlines(True) if not line.startswith(b"#"))


def test_fetch_writes_the_env_file_from_pass_with_legerd_down(home):
    proc = home.run("secrets", "fetch", "svc")
    assert proc.returncode == 0, proc.stderr
    assert env_file(home, "svc") == f"OPENAI_API_KEY={VALUE}\n".encode()
    mixed = home.run("secrets", "fetch", "mixed")
    assert mixed.returncode == 0, mixed.stderr
    assert env_file(home, "mixed") == f"OPENAI_API_KEY={VALUE}\n".encode()


def test_fetch_fast_path_opens_pass_without_plugin_discovery(home):
    assert home.run("secrets", "fetch", "svc").returncode == 0  # fills the caches
    (home.runtime / "leger" / "svc.env").unlink()
    probe = slow_imports_probe(
        "from leger_plugin_envfile.fast import main\nprint('exit code', main(['svc']))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], env=home.env, capture_output=True)
    lines = proc.stdout.decode().splitlines()
    # The fast path answered (not None): no click, no pluggy, no entry-point scan.
    assert "exit code 0" in lines, proc.stdout + proc.stderr
    slow = lines[-1].split(":", 1)[1].split()
    assert not {"click", "pluggy", "importlib.metadata", "tomllib"} & set(slow), slow
    assert env_file(home, "svc") == f"OPENAI_API_KEY={VALUE}\n".encode()


def test_backend_option_and_whole_entry_reference(home):
    home.write_config({"services": {"s": {"env": {"KEY": "ai/openai"}}}})
    proc = home.run("secrets", "fetch", "s", "--backend", "pass")
    assert proc.returncode == 0, proc.stderr
    assert env_file(home, "s") == f"KEY={VALUE}\n".encode()
    # the whole entry has a newline: an env file refuses it rather than mangle it
    home.write_config({"services": {"s": {"env": {"KEY": "pass:ssh/deploy#whole"}}}})
    refused = home.run("secrets", "fetch", "s")
    assert refused.returncode == 7, refused.stderr
    assert b"line two" not in refused.stderr
    assert not (home.runtime / "leger" / "s.env").exists()


def test_missing_entry_or_unknown_backend_leaves_no_file(home):
    assert home.run("secrets", "fetch", "svc").returncode == 0
    home.write_config({"services": {"svc": {"backend": "pass", "env": {"K": "ai/missing"}}}})
    missing = home.run("secrets", "fetch", "svc")
    assert missing.returncode == 4 and b"ai/missing" in missing.stderr
    assert not (home.runtime / "leger" / "svc.env").exists()
    home.write_config({"services": {"svc": {"env": {"K": "vault:ai/openai"}}}})
    unknown = home.run("secrets", "fetch", "svc")
    assert unknown.returncode == 4 and b"unknown secret backend 'vault'" in unknown.stderr


def test_initscript_refuses_a_pass_secret_clearly(home):
    proc = home.run("inject", "initscript", "svc", env={"LEGER_LOAD_PLUGINS": "pass,initscript"})
    assert proc.returncode == 2
    assert b"initscript strategy reads only legerd" in proc.stderr


# --- real containers --------------------------------------------------------------------------


@pytest.fixture
def podman_home(home, podman_env):
    home.env["LEGER_LOAD_PLUGINS"] = "pass,envfile,podman"
    config = {
        "secrets": {"backend": "pass"},
        "services": {"svc": {"env": {"OPENAI_API_KEY": "ai/openai"}}},
        # the API service's shell-driver commands must find the same store and GnuPG home
        "podman": {"socket": podman_env.service(env=home.env)},
    }
    home.write_config(config)
    yield home
    for name in podman_env.secret_names():
        if name.startswith("svc_"):
            podman_env.run(["secret", "rm", name], env=home.env)


def container_env(podman_env, home, extra_args):
    script = 'printf "[%s]" "$OPENAI_API_KEY"'
    return podman_env.run_container(extra_args, script, env=home.env).stdout.decode()


@pytest.mark.podman
def test_container_gets_a_pass_value_through_the_env_file(podman_home, podman_env):
    assert podman_home.run("secrets", "fetch", "svc").returncode == 0
    path = podman_home.runtime / "leger" / "svc.env"
    assert container_env(podman_env, podman_home, ["--env-file", str(path)]) == f"[{VALUE}]"


@pytest.mark.podman
def test_container_gets_a_pass_value_through_a_podman_secret(podman_home, podman_env):
    with ArgvWatch([VALUE.encode()]) as watch:
        proc = podman_home.run("inject", "podman", "svc")
        assert proc.returncode == 0, proc.stderr
        name = podman_secret_name("svc", "OPENAI_API_KEY")
        out = container_env(
            podman_env, podman_home, ["--secret", f"{name},type=env,target=OPENAI_API_KEY"]
        )
    assert out == f"[{VALUE}]"
    assert watch.hits == []


@pytest.mark.podman
def test_container_gets_a_pass_value_through_the_driver_and_rotation(
    podman_home, podman_env, pass_store
):
    proc = podman_home.run("inject", "driver", "svc")
    assert proc.returncode == 0, proc.stderr
    name = podman_secret_name("svc", "OPENAI_API_KEY")
    inspect = podman_env.secret_inspect(name)
    assert inspect["Spec"]["Driver"]["Name"] == "shell"
    assert "--backend pass" in str(inspect["Spec"]["Driver"]["Options"])
    assert VALUE not in str(inspect)
    args = ["--secret", f"{name},type=env,target=OPENAI_API_KEY"]
    assert container_env(podman_env, podman_home, args) == f"[{VALUE}]"
    # the reference is kept in pass too (legerd is not running)
    assert any(i.name.startswith("leger-driver/") for i in pass_store.backend().list())
    pass_store.insert("ai/openai", b"sk-rotated-in-pass\n")
    assert container_env(podman_env, podman_home, args) == "[sk-rotated-in-pass]"
    # what podman runs at each start takes the fast path: pass opened by its fast entry
    probe = slow_imports_probe(
        "from leger_plugin_podman.fast import main\n"
        "import sys\n"
        "code = main(['--backend', 'pass'])\n"
        "sys.stdout.flush()\n"
        "print()\n"
        "print('exit code', code)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        env={**podman_home.env, "SECRET_ID": inspect["ID"]},
        capture_output=True,
    )
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "sk-rotated-in-pass" and "exit code 0" in lines, proc.stdout + proc.stderr
    slow = lines[-1].split(":", 1)[1].split()
    assert not {"click", "pluggy", "importlib.metadata", "tomllib"} & set(slow), slow


def test_sync_copies_the_account_into_pass_with_legerd_down(home, leger_server, pass_store):
    home.env.update(LEGER_LOAD_PLUGINS="pass,cloud", LEGER_TOKEN_STORE="file")
    home.write_config(
        {
            "identity": {
                "user_id": "u-pass",
                "email": "pass@example.com",
                "tailnet": "example.ts.net",
                "device_id": "dev-pass",
                "hostname": "pass-laptop",
            }
        }
    )
    login = home.run("auth", "login", "--server", leger_server.url)
    assert login.returncode == 0, login.stderr
    assert home.run("secrets", "set", "openai_api_key", input=b"sk-synced-77").returncode == 0
    first = home.run("secrets", "sync", "--backend", "pass", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["added"] == ["openai_api_key"]
    entry = report["prefix"] + "openai_api_key"
    assert pass_store.run("show", entry).stdout == b"sk-synced-77"
    before = (pass_store.dir / f"{entry}.gpg").read_bytes()
    again = json.loads(home.run("secrets", "sync", "--backend", "pass", "--json").stdout)
    assert again["unchanged"] == ["openai_api_key"]
    assert (pass_store.dir / f"{entry}.gpg").read_bytes() == before  # not re-encrypted
    assert b"sk-synced-77" not in first.stdout + first.stderr


@pytest.mark.parametrize(
    "data", [b"plain", b"two\nlines\n", b"\x00\xffbinary\n\n", b"leger-data:x"]
)
def test_driver_keeps_any_bytes_in_pass_verbatim(home, pass_store, data):
    """pass's value is an entry's first line: what podman stores through the driver must still
    come back byte for byte (it is kept wrapped in one line)."""
    home.env["LEGER_LOAD_PLUGINS"] = "pass,podman"
    env = {"SECRET_ID": "0123456789abcdef012345678"}
    stored = home.run("driver", "store", "--backend", "pass", env=env, input=data)
    assert stored.returncode == 0, stored.stderr
    got = home.run("driver", "lookup", "--backend", "pass", env=env)
    assert got.returncode == 0, got.stderr
    assert got.stdout == data
    listed = home.run("driver", "list", "--backend", "pass")
    assert listed.stdout.split() == [b"0123456789abcdef012345678"]
    assert home.run("driver", "delete", "--backend", "pass", env=env).returncode == 0
    assert home.run("driver", "lookup", "--backend", "pass", env=env).returncode == 4
