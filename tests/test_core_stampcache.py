"""leger_core.stampcache: a cached answer holds only while the files it came from are unchanged."""

from __future__ import annotations

import json
import os

from leger_core import stampcache


def test_an_entry_holds_until_an_input_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = tmp_path / "config.toml"
    config.write_text("a = 1\n")
    missing = str(tmp_path / "account.json")
    key = stampcache.cache_key(1, ("LEGER_CONFIG",))
    entry = {"inputs": stampcache.stamps([str(config), missing]), "answer": 42}
    stampcache.record("probe.json", key, entry, keep=2)
    assert stampcache.lookup("probe.json", key) == entry
    assert oct(os.stat(tmp_path / "cache/leger/probe.json").st_mode & 0o777) == "0o600"

    config.write_text("a = 2\n")  # a changed input
    assert stampcache.lookup("probe.json", key) is None
    stampcache.record(
        "probe.json", key, {**entry, "inputs": stampcache.stamps([str(config)])}, keep=2
    )
    assert stampcache.lookup("probe.json", key) is not None
    (tmp_path / "account.json").write_text("{}")  # a file that was missing appears
    entry["inputs"] = stampcache.stamps([str(config), missing])
    stampcache.record("probe.json", key, entry, keep=2)
    os.unlink(missing)
    assert stampcache.lookup("probe.json", key) is None


def test_entries_are_per_environment_and_bounded(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    keys = []
    for n in range(3):
        monkeypatch.setenv("LEGER_CONFIG", f"/c{n}")
        keys.append(stampcache.cache_key(1, ("LEGER_CONFIG",)))
        stampcache.record("probe.json", keys[-1], {"inputs": {}, "n": n}, keep=2)
    assert len(set(keys)) == 3
    assert stampcache.lookup("probe.json", keys[0]) is None  # the oldest was dropped
    assert stampcache.lookup("probe.json", keys[2]) == {"inputs": {}, "n": 2}
    assert stampcache.cache_key(2, ("LEGER_CONFIG",)) != keys[2]  # a new format, a new key


def test_a_damaged_cache_is_a_miss_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    key = stampcache.cache_key(1, ())
    (tmp_path / "cache/leger").mkdir(parents=True)
    for text in ("not json", json.dumps({key: []}), json.dumps({key: {"inputs": 3}})):
        (tmp_path / "cache/leger/probe.json").write_text(text)
        assert stampcache.lookup("probe.json", key) is None


def test_both_fast_paths_use_it():
    from leger_plugin_envfile import plans
    from leger_plugin_podman import settings_cache

    assert plans.stampcache is settings_cache.stampcache is stampcache
