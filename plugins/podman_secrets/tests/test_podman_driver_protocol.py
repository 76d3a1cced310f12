"""``leger driver list|lookup|store|delete`` speak podman's shell driver protocol exactly."""

import subprocess
import sys

import pytest

from leger_core.models import SecretValue
from leger_core.testing import slow_imports_probe

SID = "0123456789abcdef012345678"


def put(legerd_daemon, name, value):
    with legerd_daemon.client() as client:
        client.activate(name, client.put(name, SecretValue(value)))


@pytest.mark.parametrize("data", [b"plain", b"ends-with-newline\n", b"\x00\xffbinary\n\n", b""])
def test_store_then_lookup_returns_the_bytes_verbatim(leger_home, data):
    env = {"SECRET_ID": SID}
    stored = leger_home.run("driver", "store", env=env, input=data)
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout == b""
    got = leger_home.run("driver", "lookup", env=env)
    assert got.returncode == 0, got.stderr
    assert got.stdout == data


def test_store_again_replaces_the_data(leger_home):
    env = {"SECRET_ID": SID}
    leger_home.run("driver", "store", env=env, input=b"one")
    leger_home.run("driver", "store", env=env, input=b"two")
    assert leger_home.run("driver", "lookup", env=env).stdout == b"two"


def test_reference_is_resolved_live(leger_home, legerd_daemon):
    put(legerd_daemon, "leger/u/openai", "sk-first")
    env = {"SECRET_ID": SID}
    assert leger_home.run("driver", "store", env=env, input=b"leger:leger/u/openai").returncode == 0
    assert leger_home.run("driver", "lookup", env=env).stdout == b"sk-first"
    put(legerd_daemon, "leger/u/openai", "sk-second")
    assert leger_home.run("driver", "lookup", env=env).stdout == b"sk-second"


def test_reference_to_a_missing_secret_fails_naming_it(leger_home):
    env = {"SECRET_ID": SID}
    leger_home.run("driver", "store", env=env, input=b"leger:team/none")
    got = leger_home.run("driver", "lookup", env=env)
    assert got.returncode == 4 and b"team/none" in got.stderr and got.stdout == b""


def test_a_backend_that_is_not_installed_is_named_not_taken_for_missing_data(leger_home):
    env = {"SECRET_ID": SID}
    assert leger_home.run("driver", "store", env=env, input=b"leger:pass:ai/key").returncode == 0
    got = leger_home.run("driver", "lookup", env=env)
    assert (got.returncode, got.stdout) == (4, b"")
    assert b"unknown secret backend 'pass'" in got.stderr, got.stderr
    other = leger_home.run("driver", "lookup", "--backend", "nosuch", env=env)
    assert other.returncode == 4 and b"unknown secret backend 'nosuch'" in other.stderr
    assert b"holds no data" not in other.stderr


def test_delete_list_and_unknown_ids(leger_home):
    for sid in (SID, "ffffffffffffffffffffffff0"):
        leger_home.run("driver", "store", env={"SECRET_ID": sid}, input=b"x")
    listed = leger_home.run("driver", "list")
    assert listed.stdout.split() == sorted([SID.encode(), b"ffffffffffffffffffffffff0"])
    assert leger_home.run("driver", "delete", env={"SECRET_ID": SID}).returncode == 0
    assert leger_home.run("driver", "delete", env={"SECRET_ID": SID}).returncode == 0
    gone = leger_home.run("driver", "lookup", env={"SECRET_ID": SID})
    assert gone.returncode == 4 and gone.stdout == b""


def test_missing_or_bad_secret_id_is_refused(leger_home):
    assert leger_home.run("driver", "lookup").returncode == 2
    bad = leger_home.run("driver", "lookup", env={"SECRET_ID": "../../x"})
    assert bad.returncode == 7


def test_legerd_down_fails_lookup_with_nothing_on_stdout(leger_home, legerd_daemon):
    leger_home.run("driver", "store", env={"SECRET_ID": SID}, input=b"v")
    legerd_daemon.stop()
    got = leger_home.run("driver", "lookup", env={"SECRET_ID": SID})
    assert got.returncode == 5 and got.stdout == b""
    # podman shows only "no such secret": the driver's stderr (the unit's journal) says why.
    assert b"legerd is not running" in got.stderr and b"'no such secret'" in got.stderr
    assert got.stderr.count(b"\n") == 1


def test_lookup_fast_path_imports_nothing_heavy_and_matches_the_full_cli(leger_home):
    env = {"SECRET_ID": SID}
    leger_home.run("driver", "store", env=env, input=b"value\n")
    assert leger_home.run("driver", "lookup", env=env).stdout == b"value\n"  # fills caches
    probe = slow_imports_probe(
        "from leger_plugin_podman.fast import main\nprint('exit code', main([]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env={**leger_home.env, **env}, capture_output=True
    )
    # lookup's own output first (verbatim, no newline added), then the probe's lines.
    assert proc.stdout == b"value\nexit code 0\nslow imports:\n", proc.stdout + proc.stderr
    full = leger_home.run("driver", "lookup", env={**env, "LEGER_NO_FAST": "1"})
    assert full.stdout == b"value\n"


def test_install_writes_the_options_into_containers_conf(leger_home, tmp_path):
    conf = tmp_path / "containers.conf"
    conf.write_text('[engine]\nruntime = "runc"\n')
    proc = leger_home.run("driver", "install", "--path", str(conf))
    assert proc.returncode == 0, proc.stderr
    import tomllib

    data = tomllib.loads(conf.read_text())
    assert data["engine"] == {"runtime": "runc"}
    opts = data["secrets"]["opts"]
    assert sorted(opts) == ["delete", "list", "lookup", "store"]
    assert opts["lookup"].endswith("leger driver lookup")
    assert f"LEGERD_SOCKET={leger_home.env['LEGERD_SOCKET']}" in opts["lookup"]
    printed = leger_home.run("driver", "install", "--print", "--default")
    assert b'driver = "shell"' in printed.stdout and b"[secrets.opts]" in printed.stdout
