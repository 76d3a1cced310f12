"""The fast path: cached mapping of per-container-start commands to one function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from leger_core import fastpath, hookimpl
from leger_core.cli import fast_commands, main
from leger_core.testing import slow_imports_probe


def _cache(tmp_path, monkeypatch, mapping):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LEGER_NO_FAST", raising=False)
    fastpath.update_cache(mapping)


def test_update_cache_writes_mapping_for_this_interpreter(tmp_path, monkeypatch):
    _cache(tmp_path, monkeypatch, {"secrets fetch": "m:f"})
    data = json.loads((tmp_path / "cache/leger/fast-commands.json").read_text())
    assert data == {fastpath.cache_key(): {"secrets fetch": "m:f"}}


def test_find_imports_just_the_registered_function(tmp_path, monkeypatch, capsys):
    mod = tmp_path / "fastmod_for_test.py"
    mod.write_text("def main(args):\n    print('fast', args)\n    return 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _cache(tmp_path, monkeypatch, {"secrets fetch": "fastmod_for_test:main"})
    assert main(["secrets", "fetch", "svc"]) == 3
    assert capsys.readouterr().out == "fast ['svc']\n"


def test_stale_cache_falls_back_to_the_full_cli(tmp_path, monkeypatch, capsys):
    _cache(tmp_path, monkeypatch, {"config path": "no_such_module_xyz:main"})
    assert fastpath.find(["config", "path"]) is None
    monkeypatch.setenv("LEGER_CONFIG", str(tmp_path / "x.toml"))
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "x.toml")


def test_fast_function_returning_none_falls_back(tmp_path, monkeypatch, capsys):
    mod = tmp_path / "fastmod_none.py"
    mod.write_text("def main(args):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LEGER_CONFIG", str(tmp_path / "y.toml"))
    _cache(tmp_path, monkeypatch, {"config path": "fastmod_none:main"})
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "y.toml")


def test_options_before_the_command_skip_the_fast_path(tmp_path, monkeypatch):
    _cache(tmp_path, monkeypatch, {"secrets fetch": "os:getcwd"})
    assert fastpath.find(["--config", "x", "secrets", "fetch"]) is None
    monkeypatch.setenv("LEGER_NO_FAST", "1")
    assert fastpath.find(["secrets", "fetch"]) is None


def test_cache_is_keyed_by_load_plugins(tmp_path, monkeypatch):
    _cache(tmp_path, monkeypatch, {"secrets fetch": "os:getcwd"})
    assert fastpath.find(["secrets", "fetch"]) is not None
    monkeypatch.setenv("LEGER_LOAD_PLUGINS", "")
    assert fastpath.find(["secrets", "fetch"]) is None


def test_fast_commands_are_collected_from_plugins(leger_pm, leger_register):
    class Fast:
        @hookimpl
        def leger_register_fast_commands(self, register):
            register("driver lookup", "pkg.fast:main")

    leger_register(Fast(), name="fast")
    assert fast_commands(leger_pm) == {"driver lookup": "pkg.fast:main"}


def test_core_modules_on_the_container_start_path_import_nothing_heavy():
    # What fast commands may use from the core; each of SLOW_IMPORTS costs milliseconds.
    code = slow_imports_probe(
        "import leger_core.entry, leger_core.fastpath, leger_core.errors, leger_core.values, "
        "leger_core.paths, leger_core.lightjson, leger_core.names, leger_core.stampcache, "
        "leger_core.setec_api, leger_core.unixhttp\n"
        "leger_core.lightjson.loads(leger_core.lightjson.dumps({'a': [1]}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "slow imports:\n"


def _fast_probe_command(tmp_path, run_leger, source: str) -> dict[str, str]:
    """Register ``probe run`` → ``fastprobe:main`` in the fast path's cache; returns the env."""
    (tmp_path / "fastprobe.py").write_text(source)
    # The cache key is the venv prefix plus LEGER_LOAD_PLUGINS ('*' when unset).
    cache = run_leger.home / ".cache/leger"
    cache.mkdir(parents=True, exist_ok=True)
    prefix = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True
    ).stdout.strip()
    (cache / "fast-commands.json").write_text(
        json.dumps({f"{prefix}|*": {"probe run": "fastprobe:main"}})
    )
    return {"PYTHONPATH": str(tmp_path)}


def test_console_script_fast_path_imports_no_click_or_pluggy(tmp_path, run_leger):
    env = _fast_probe_command(
        tmp_path,
        run_leger,
        "import sys\n"
        "def main(args):\n"
        "    heavy = [m for m in ('click', 'pluggy', 'importlib.metadata') if m in sys.modules]\n"
        "    print('heavy:', ','.join(heavy), 'args:', ' '.join(args))\n"
        "    return 0\n",
    )
    result = run_leger("probe", "run", "x", "--y", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "heavy:  args: x --y\n"


def test_a_normal_run_writes_the_fast_command_cache(run_leger):
    run_leger("plugins")
    data = json.loads((run_leger.home / ".cache/leger/fast-commands.json").read_text())
    assert len(data) == 1


def test_fast_command_exit_code_and_all_buffered_output_arrive(tmp_path, run_leger):
    env = _fast_probe_command(
        tmp_path,
        run_leger,
        "import sys\n"
        "def main(args):\n"
        "    sys.stdout.write('x' * 200_000)\n"  # more than any stream buffer holds
        "    sys.stderr.write('Error: it went wrong\\n')\n"
        "    return 5\n",
    )
    result = run_leger("probe", "run", env=env)
    assert result.returncode == 5
    assert result.stdout == "x" * 200_000 and result.stderr == "Error: it went wrong\n"


def test_fast_command_whose_output_cannot_be_delivered_does_not_exit_0(tmp_path, run_leger):
    env = _fast_probe_command(
        tmp_path, run_leger, "import sys\ndef main(args):\n    print('value')\n    return 0\n"
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: flushing stdout fails with EPIPE
    try:
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("leger")), "probe", "run"],
            env=run_leger.environ(env),
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 1
