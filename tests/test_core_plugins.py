"""Plugin discovery, selection by name, duplicates and tracing."""

from __future__ import annotations

import json

import click
import pytest

from leger_core import hookimpl
from leger_core.context import Leger
from leger_core.errors import DuplicateNameError, NotFoundError
from leger_core.plugins import get_plugin_manager


def test_plugins_json_lists_every_first_party_plugin_with_its_distribution(run_leger, first_party):
    result = run_leger("plugins", "--json")
    assert result.returncode == 0, result.stderr
    listed = {row["name"]: row for row in json.loads(result.stdout)}
    for name, dist in first_party.items():
        assert listed[name]["distribution"] == dist
        assert listed[name]["version"]
        assert listed[name]["hooks"], f"{name} implements no hook"


def test_empty_load_plugins_loads_none(run_leger):
    result = run_leger("plugins", "--json", env={"LEGER_LOAD_PLUGINS": ""})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_load_plugins_selects_by_entry_point_or_distribution_name(run_leger):
    result = run_leger(
        "plugins", "--json", env={"LEGER_LOAD_PLUGINS": "envfile, leger-plugin-setec"}
    )
    assert sorted(row["name"] for row in json.loads(result.stdout)) == ["envfile", "setec"]


def test_plugins_all_includes_the_builtins(run_leger):
    result = run_leger("plugins", "--all", "--json", env={"LEGER_LOAD_PLUGINS": ""})
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} >= {"leger.core_commands", "leger.config_services"}
    assert all(r["default"] for r in rows)


def test_plugins_text_shows_registered_names(run_leger):
    result = run_leger("plugins")
    assert "injectors: envfile" in result.stdout
    assert "secret backends: setec" in result.stdout


class _First:
    @hookimpl
    def leger_register_injectors(self, register):
        register("clash", object)


class _Second:
    @hookimpl
    def leger_register_injectors(self, register):
        register("clash", object)


def test_duplicate_strategy_name_is_one_error_naming_both(leger_pm, leger_register):
    leger_register(_First(), name="first-plugin")
    leger_register(_Second(), name="second-plugin")
    with pytest.raises(DuplicateNameError) as info:
        _ = Leger(leger_pm).injectors
    message = str(info.value)
    assert "'clash'" in message
    assert "first-plugin" in message and "second-plugin" in message


def test_duplicate_shows_in_cli_as_one_line_and_conflict_exit_code(
    leger_pm, leger_register, leger_invoke
):
    leger_register(_First(), name="first-plugin")
    leger_register(_Second(), name="second-plugin")
    result = leger_invoke(["plugins"])
    assert result.exit_code == 8
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "first-plugin" in errors[0] and "second-plugin" in errors[0]
    assert "Traceback" not in result.output


def test_unknown_strategy_lists_the_known_ones(leger_pm, leger_register):
    leger_register(_First(), name="first-plugin")
    with pytest.raises(NotFoundError, match="known: clash"):
        Leger(leger_pm).injector("nope")


def test_registering_a_plugin_adds_its_command(leger_pm, leger_register, leger_invoke):
    class Hello:
        @hookimpl
        def leger_register_commands(self, cli):
            @cli.command()
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    leger_register(Hello(), name="hello")
    assert "hello" in leger_invoke(["--help"]).output
    assert leger_invoke(["hello"]).output == "hello from a plugin\n"


def test_trace_plugins_writes_hook_calls_to_stderr(run_leger):
    result = run_leger("plugins", env={"LEGER_TRACE_PLUGINS": "1"})
    assert result.returncode == 0
    assert "leger: trace: leger_register_commands" in result.stderr
    assert "leger: trace: leger_register_injectors" in result.stderr
    # what each call returned, and who registered what
    assert "leger: trace: leger_register_commands -> [" in result.stderr
    assert "leger: trace: leger_register_injectors: envfile registers 'envfile'" in (result.stderr)


def test_manager_without_entrypoints_has_only_defaults():
    pm = get_plugin_manager(load_entrypoints=False)
    assert {pm.get_name(p) for p in pm.get_plugins()} == pm.defaults
