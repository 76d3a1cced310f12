"""password-store's line in ``leger status``: pass and GnuPG installed, the store there and
initialised, how many entries (names and values never shown), against a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leger_testkit.podman import LegerHome

VALUE = "sk-pass-status-VALUE-31"


def leger(tmp_path: Path, store_env: dict[str, str], config: dict[str, object]) -> LegerHome:
    # Only the pass plugin: no legerd line, so the exit code is pass's line alone.
    home = LegerHome(tmp_path / "leger-home", store_env, "pass")
    home.write_config(config)
    return home


def status(home: LegerHome) -> tuple[int, str, dict[str, object]]:
    text = home.run_text("status")
    assert "Traceback" not in text.stderr
    data = json.loads(home.run_text("status", "--json").stdout)
    (line,) = [c for c in data["checks"] if c["section"] == "backend"]
    return text.returncode, text.stdout, line


def test_an_initialised_store_shows_its_entry_count_and_nothing_of_them(tmp_path, pass_store):
    pass_store.insert("ai/openai", f"{VALUE}\nlogin: me\n".encode())
    pass_store.insert("team/anthropic-key", b"sk-ant-other")
    home = leger(tmp_path, pass_store.env, {"secrets": {"backend": "pass"}})
    code, out, line = status(home)
    assert code == 0, out
    assert f"backend  ok    pass {pass_store.dir}: initialised, 2 entries" in out.splitlines()
    assert line["ok"] is True and line["facts"]["entries"] == 2
    assert line["facts"]["initialised"] is True and line["facts"]["used"] is True
    both = out + json.dumps(line)
    for never in (VALUE, "sk-ant-other", "openai", "anthropic-key", "login"):
        assert never not in both


def test_a_store_without_gpg_id_that_a_service_reads_needs_pass_init(tmp_path, pass_store):
    (pass_store.dir / ".gpg-id").unlink()
    config = {"services": {"svc": {"env": {"OPENAI_API_KEY": "pass:ai/openai"}}}}
    code, out, line = status(leger(tmp_path, pass_store.env, config))
    assert code == 1
    assert f"FAIL  pass {pass_store.dir}: the store has no .gpg-id (not initialised)" in out
    assert "→ pass init GPG-ID" in out
    assert line["facts"]["exists"] is True and line["facts"]["initialised"] is False


def test_no_store_is_information_while_nothing_reads_from_pass(tmp_path, gnupg_home):
    store = tmp_path / "no-store"
    env = {"GNUPGHOME": str(gnupg_home), "PASSWORD_STORE_DIR": str(store)}
    code, out, line = status(leger(tmp_path, env, {}))
    assert code == 0, out
    assert f"ok    pass {store}: no password store here; no service reads from pass" in out
    assert line["facts"] == {
        "store": str(store),
        "installed": {"pass": True, "gpg": True},
        "exists": False,
        "initialised": False,
        "used": False,
    }
    assert not store.exists()  # looking made nothing


@pytest.mark.parametrize("key", ["command", "gpg"])
def test_a_missing_program_says_what_to_install(tmp_path, pass_store, key):
    config = {"secrets": {"backend": "pass"}, "pass": {key: str(tmp_path / "not-here")}}
    code, out, line = status(leger(tmp_path, pass_store.env, config))
    assert code == 1
    assert f"'{tmp_path / 'not-here'}' not installed" in out
    assert "→ install password-store and GnuPG (Debian: apt-get install pass)" in out
    assert line["facts"]["installed"][{"command": "pass", "gpg": "gpg"}[key]] is False
