"""The state directory: encrypted, refused when tampered or keyed wrongly, never overwritten,
rotatable, and no value anywhere on disk or in output."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leger_core.errors import UnavailableError
from leger_core.models import SecretValue
from legerd.errors import StateError
from legerd.keys import KeyFiles
from legerd.state import init_state
from legerd.store import SecretStore

VALUE = "sk-super-secret-value-7f3a9c"


def legerd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "legerd", *args], capture_output=True, text=True, timeout=30
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name not in ("legerd.lock", "audit.log")
    }


def test_new_state_dir_is_private(legerd_daemon) -> None:
    state = legerd_daemon.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "keys").stat().st_mode) == 0o700
    for name in ("keys/main.key", "keys/data.key", "secrets.db", "audit.log"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(legerd_daemon.socket.stat().st_mode) == 0o600


def test_no_value_in_state_dir_audit_log_or_output(legerd_daemon) -> None:
    client = legerd_daemon.client()
    client.put("app/key", SecretValue(VALUE))
    client.put("app/key", SecretValue(VALUE + "-v2"))
    client.activate("app/key", 2)
    assert client.get("app/key").reveal() == (VALUE + "-v2").encode()
    client.get("app/key", 1)
    legerd_daemon.restart()
    assert legerd_daemon.client().get("app/key").reveal() == (VALUE + "-v2").encode()
    legerd_daemon.stop()
    import base64

    needles = [VALUE.encode(), base64.b64encode(VALUE.encode()), VALUE[:12].encode()]
    for path in legerd_daemon.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
    assert VALUE not in legerd_daemon.output()
    assert "app/key" not in legerd_daemon.output()


def test_tampered_database_is_refused_and_left_alone(legerd_daemon) -> None:
    legerd_daemon.client().put("k", SecretValue("v"))
    legerd_daemon.stop()
    db = legerd_daemon.state_dir / "secrets.db"
    data = bytearray(db.read_bytes())
    data[-20] ^= 0x01
    db.write_bytes(bytes(data))
    before = snapshot(legerd_daemon.state_dir)
    with pytest.raises(RuntimeError, match="failed authentication"):
        legerd_daemon.start()
    assert legerd_daemon.proc.returncode == 1
    assert snapshot(legerd_daemon.state_dir) == before


def test_the_associated_data_alone_refuses_bytes_sealed_for_something_else(legerd_daemon) -> None:
    """Right key, right plaintext, other associated data (another format or file): refused.
    The key alone would accept these bytes; only the associated data tells them apart."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from legerd.store import DB_AD, MAGIC

    legerd_daemon.client().put("k", SecretValue("v"))
    legerd_daemon.stop()
    db = legerd_daemon.state_dir / "secrets.db"
    raw = db.read_bytes()
    data_key, _ = KeyFiles(legerd_daemon.state_dir).load_data_key()
    nonce = raw[len(MAGIC) : len(MAGIC) + 12]
    plain = AESGCM(data_key).decrypt(nonce, raw[len(MAGIC) + 12 :], DB_AD)  # what legerd wrote
    for other_ad in (MAGIC + b"|secrets.db|format=2", MAGIC + b"|audit.log|format=1", b""):
        fresh = os.urandom(12)
        db.write_bytes(MAGIC + fresh + AESGCM(data_key).encrypt(fresh, plain, other_ad))
        before = snapshot(legerd_daemon.state_dir)
        with pytest.raises(RuntimeError, match="failed authentication"):
            legerd_daemon.start()
        assert snapshot(legerd_daemon.state_dir) == before


def test_wrong_key_is_refused_and_nothing_overwritten(legerd_daemon, tmp_path) -> None:
    legerd_daemon.client().put("k", SecretValue("v"))
    legerd_daemon.stop()
    other = tmp_path / "other"
    init_state(other)
    main_key = legerd_daemon.state_dir / "keys/main.key"
    main_key.write_bytes((other / "keys/main.key").read_bytes())
    before = snapshot(legerd_daemon.state_dir)
    with pytest.raises(RuntimeError, match="wrong key"):
        legerd_daemon.start()
    assert snapshot(legerd_daemon.state_dir) == before


def test_database_from_another_install_is_refused(legerd_daemon, tmp_path) -> None:
    legerd_daemon.stop()
    other = tmp_path / "other"
    init_state(other)
    (legerd_daemon.state_dir / "secrets.db").write_bytes((other / "secrets.db").read_bytes())
    with pytest.raises(RuntimeError, match="failed authentication"):
        legerd_daemon.start()


def test_missing_key_with_existing_database_is_refused(legerd_daemon) -> None:
    legerd_daemon.stop()
    (legerd_daemon.state_dir / "keys/main.key").unlink()
    before = snapshot(legerd_daemon.state_dir)
    with pytest.raises(RuntimeError, match=r"main\.key is missing"):
        legerd_daemon.start()
    assert snapshot(legerd_daemon.state_dir) == before
    assert not (legerd_daemon.state_dir / "keys/main.key").exists()


def test_second_legerd_on_same_state_dir_is_refused(legerd_daemon, legerd_factory) -> None:
    second = legerd_factory(state_dir=legerd_daemon.state_dir, start=False)
    second.start(wait=False)
    assert second.proc.wait(15) == 1
    assert "already serving" in second.output()


def test_rotate_key_rewraps_without_retyping(legerd_daemon) -> None:
    legerd_daemon.client().put("k", SecretValue("kept"))
    legerd_daemon.stop()
    old_key = (legerd_daemon.state_dir / "keys/main.key").read_bytes()
    db_before = (legerd_daemon.state_dir / "secrets.db").read_bytes()
    result = legerd("rotate-key", "--state-dir", str(legerd_daemon.state_dir))
    assert result.returncode == 0, result.stderr
    assert "rotated" in result.stdout
    assert (legerd_daemon.state_dir / "keys/main.key").read_bytes() != old_key
    assert (legerd_daemon.state_dir / "secrets.db").read_bytes() == db_before
    legerd_daemon.start()
    assert legerd_daemon.client().get("k").reveal() == b"kept"
    # The old key no longer opens anything.
    legerd_daemon.stop()
    (legerd_daemon.state_dir / "keys/main.key").write_bytes(old_key)
    with pytest.raises(RuntimeError, match="wrong key"):
        legerd_daemon.start()


def test_rotation_interrupted_after_first_step_still_opens(tmp_path) -> None:
    state = tmp_path / "state"
    init_state(state)
    keys = KeyFiles(state)
    data_key, _ = keys.load_data_key()
    # Step 1 of a rotation done (data.key wraps under old and new), step 2 not yet.
    keys._write_wraps(data_key, [keys.read_kek(), os.urandom(32)])
    assert keys.load_data_key()[0] == data_key


@contextlib.contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """No new file can be made in ``directory``, not even by root (chattr +i)."""
    if os.getuid() == 0:
        if subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode:
            pytest.skip("chattr +i is not supported on this filesystem")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
    else:
        os.chmod(directory, 0o500)
        try:
            yield
        finally:
            os.chmod(directory, 0o700)


def test_failed_write_keeps_old_state_in_memory_and_on_disk(tmp_path) -> None:
    state = tmp_path / "state"
    init_state(state)
    store = SecretStore.open(state)
    store.put("k", b"v1")
    before = (state / "secrets.db").read_bytes()
    with unwritable(state), pytest.raises(OSError):
        store.put("k", b"v2")
    assert store.secret("k").versions == {1: b"v1"}
    assert (state / "secrets.db").read_bytes() == before


def test_failed_write_is_undone_even_as_root(tmp_path, monkeypatch) -> None:
    state = tmp_path / "state"
    init_state(state)
    store = SecretStore.open(state)
    store.put("k", b"v1")
    before = (state / "secrets.db").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("legerd.store.atomic_write", disk_full)
    with pytest.raises(OSError):
        store.put("k", b"v2")
    with pytest.raises(OSError):
        store.delete("k")
    assert store.secret("k").versions == {1: b"v1"}
    assert (state / "secrets.db").read_bytes() == before
    monkeypatch.undo()
    assert SecretStore.open(state).get("k") == (b"v1", 1)


def test_failed_write_answers_500_and_changes_nothing(legerd_daemon) -> None:
    client = legerd_daemon.client()
    client.put("k", SecretValue("v1"))
    with unwritable(legerd_daemon.state_dir), pytest.raises(UnavailableError):
        client.put("k", SecretValue("v2"))
    assert client.info("k").versions == (1,)
    legerd_daemon.restart()
    assert legerd_daemon.client().info("k").versions == (1,)


def test_init_never_overwrites(tmp_path) -> None:
    state = tmp_path / "state"
    assert legerd("init", "--state-dir", str(state)).stdout.startswith("initialised")
    before = snapshot(state)
    again = legerd("init", "--state-dir", str(state))
    assert again.returncode == 0 and "already initialised" in again.stdout
    assert snapshot(state) == before


def test_status_reports_running_and_not_running(legerd_daemon) -> None:
    args = ["--socket", str(legerd_daemon.socket), "--state-dir", str(legerd_daemon.state_dir)]
    legerd_daemon.client().put("k", SecretValue("v"))
    running = legerd("status", *args)
    assert running.returncode == 0
    assert "running on" in running.stdout and "secrets: 1" in running.stdout
    legerd_daemon.stop()
    stopped = legerd("status", *args)
    assert stopped.returncode == 1
    assert "not running" in stopped.stdout and "legerd serve" in stopped.stdout


def test_state_error_messages_name_the_file(tmp_path) -> None:
    state = tmp_path / "state"
    init_state(state)
    (state / "keys/data.key").write_text("{}")
    with pytest.raises(StateError, match=r"data\.key"):
        SecretStore.open(state)


def test_rotate_key_while_running_keeps_serving_and_writing(legerd_daemon) -> None:
    client = legerd_daemon.client()
    client.put("k", SecretValue("before"))
    result = legerd("rotate-key", "--state-dir", str(legerd_daemon.state_dir))
    assert result.returncode == 0, result.stderr
    client.put("k2", SecretValue("after"))
    legerd_daemon.restart()
    client = legerd_daemon.client()
    assert client.get("k").reveal() == b"before"
    assert client.get("k2").reveal() == b"after"


def test_status_json(legerd_daemon) -> None:
    out = legerd("status", "--json", "--socket", str(legerd_daemon.socket),
                 "--state-dir", str(legerd_daemon.state_dir))  # fmt: skip
    doc = json.loads(out.stdout)
    assert doc["running"] is True and doc["secrets_count"] == 0 and doc["initialised"] is True
    assert len(doc["key"]) == 16


def test_sighup_reopens_the_audit_log_for_logrotate(legerd_daemon) -> None:
    import signal
    import time

    client = legerd_daemon.client()
    client.put("k", SecretValue("v"))
    audit = legerd_daemon.state_dir / "audit.log"
    rotated = audit.with_name("audit.log.1")
    audit.rename(rotated)
    os.kill(legerd_daemon.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while not audit.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    client.get("k")
    assert '"action":"put"' in rotated.read_text()
    assert '"action":"get"' in audit.read_text()
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600


def test_sigterm_is_a_clean_stop(legerd_daemon) -> None:
    legerd_daemon.client().put("k", SecretValue("v"))
    assert legerd_daemon.stop() == 0
    assert not legerd_daemon.socket.exists()
    legerd_daemon.start()
    assert legerd_daemon.client().get("k").reveal() == b"v"
