"""Config file location, get/set round trips, and bad input changing nothing."""

from __future__ import annotations

import os
import stat
import tomllib


def test_default_path_follows_xdg_config_home(run_leger):
    result = run_leger("config", "path")
    assert result.stdout.strip() == str(run_leger.home / ".config/leger/config.toml")


def test_leger_config_env_then_option_take_precedence(run_leger, tmp_path):
    env_path = tmp_path / "env.toml"
    opt_path = tmp_path / "opt.toml"
    assert run_leger("config", "path", env={"LEGER_CONFIG": str(env_path)}).stdout.strip() == str(
        env_path
    )
    result = run_leger("--config", str(opt_path), "config", "path", env={"LEGER_CONFIG": "x"})
    assert result.stdout.strip() == str(opt_path)


def test_set_then_get_keeps_toml_types(run_leger, tmp_path):
    path = tmp_path / "c.toml"
    env = {"LEGER_CONFIG": str(path)}
    assert run_leger("config", "set", "legerd.socket", "/run/x.sock", env=env).returncode == 0
    assert run_leger("config", "set", "services.web.secrets", '["a", "b"]', env=env).returncode == 0
    assert run_leger("config", "set", "deploy.auto", "true", env=env).returncode == 0
    data = tomllib.loads(path.read_text())
    assert data == {
        "legerd": {"socket": "/run/x.sock"},
        "services": {"web": {"secrets": ["a", "b"]}},
        "deploy": {"auto": True},
    }
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert run_leger("config", "get", "legerd.socket", env=env).stdout == "/run/x.sock\n"
    assert run_leger("config", "get", "deploy.auto", env=env).stdout == "true\n"


def test_unset_removes_a_key(run_leger, tmp_path):
    env = {"LEGER_CONFIG": str(tmp_path / "c.toml")}
    run_leger("config", "set", "a.b", "1", env=env)
    assert run_leger("config", "unset", "a.b", env=env).returncode == 0
    assert run_leger("config", "get", "a.b", env=env).returncode == 4
    assert run_leger("config", "unset", "a.b", env=env).returncode == 4


def test_invalid_toml_is_a_clear_config_error_and_file_is_untouched(run_leger, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("this is [not toml\n")
    env = {"LEGER_CONFIG": str(path)}
    for args in (("config", "get", "a"), ("config", "set", "a", "1")):
        result = run_leger(*args, env=env)
        assert result.returncode == 3
        assert result.stderr.startswith(f"Error: invalid TOML in {path}")
        assert "Traceback" not in result.stderr
    assert path.read_text() == "this is [not toml\n"
    # `config path` still answers, so the user can find the broken file.
    assert run_leger("config", "path", env=env).stdout.strip() == str(path)


def test_invalid_key_is_refused_and_nothing_is_written(run_leger, tmp_path):
    path = tmp_path / "c.toml"
    env = {"LEGER_CONFIG": str(path)}
    result = run_leger("config", "set", "bad key!", "1", env=env)
    assert result.returncode == 7
    assert "invalid config key" in result.stderr
    assert not path.exists()


def test_setting_below_a_non_table_is_refused(run_leger, tmp_path):
    path = tmp_path / "c.toml"
    env = {"LEGER_CONFIG": str(path)}
    run_leger("config", "set", "a", "1", env=env)
    before = path.read_bytes()
    result = run_leger("config", "set", "a.b", "2", env=env)
    assert result.returncode == 7
    assert path.read_bytes() == before


def test_leger_says_which_config_file_it_uses(leger_pm, tmp_path, monkeypatch):
    from leger_core.context import Leger

    monkeypatch.setenv("LEGER_CONFIG", str(tmp_path / "from-env.toml"))
    from_env = Leger(leger_pm)
    assert (from_env.config_path, from_env.config_from_option) == (
        tmp_path / "from-env.toml",
        False,
    )
    chosen = tmp_path / "broken.toml"
    chosen.write_text("not = [toml")
    from_option = Leger(leger_pm, config_path=str(chosen))
    # Known without reading the file (so `leger config path` works on a broken one).
    assert (from_option.config_path, from_option.config_from_option) == (chosen, True)
