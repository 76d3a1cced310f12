"""A command of a first-party plugin that is not loaded says which plugin, and how to get it,
instead of click's bare "No such command". (The not-installed case, ``pip install …``, runs
against the core wheel installed alone: tests/test_packaging.py.)"""

from __future__ import annotations

import pytest

from leger_core.cli import PLUGIN_COMMANDS, build_cli
from leger_core.plugins import get_plugin_manager


def test_local_without_the_setec_plugin_names_it(run_leger):
    proc = run_leger("local", "list", env={"LEGER_LOAD_PLUGINS": "envfile"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("Error: `leger local` comes from the plugin leger-plugin-setec")
    assert "add setec to LEGER_LOAD_PLUGINS" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_command_no_plugin_adds_is_still_click_s_usage_error(run_leger):
    proc = run_leger("lcoal", env={"LEGER_LOAD_PLUGINS": ""})
    assert proc.returncode == 2
    assert "No such command 'lcoal'" in proc.stderr and "plugin" not in proc.stderr


def test_a_loaded_plugin_s_command_runs_as_before(run_leger):
    proc = run_leger("local", "--help", env={"LEGER_LOAD_PLUGINS": "setec"})
    assert proc.returncode == 0 and "put" in proc.stdout


@pytest.mark.parametrize("command", sorted(PLUGIN_COMMANDS))
def test_the_table_names_the_plugin_that_really_adds_each_command(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, _dist = PLUGIN_COMMANDS[command]
    monkeypatch.setenv("LEGER_LOAD_PLUGINS", entry)
    assert command in build_cli(get_plugin_manager()).commands
    monkeypatch.setenv("LEGER_LOAD_PLUGINS", "")
    assert command not in build_cli(get_plugin_manager()).commands
