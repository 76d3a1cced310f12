"""The CLI's contract: version, help, and every user error as one line plus an exit code."""

from __future__ import annotations

import click
import pytest

from leger_core import hookimpl
from leger_core.errors import EXIT_CODES, LegerError, NotFoundError, UnavailableError


def test_version(run_leger):
    result = run_leger("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "leger, version 0.1.0"


def test_help_lists_core_commands(run_leger):
    result = run_leger("--help")
    assert result.returncode == 0
    assert "plugins" in result.stdout and "config" in result.stdout


def test_unknown_command_is_a_usage_error(run_leger):
    result = run_leger("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr


class _Failing:
    @hookimpl
    def leger_register_commands(self, cli):
        @cli.command()
        @click.argument("kind")
        def fail(kind):
            if kind == "missing":
                raise NotFoundError("secret 'x' not found")
            if kind == "down":
                raise UnavailableError("legerd is not running", hint="start it with legerd serve")
            raise RuntimeError("a bug")


@pytest.mark.parametrize(
    ("kind", "code", "line"),
    [
        ("missing", 4, "Error: secret 'x' not found"),
        ("down", 5, "Error: legerd is not running (start it with legerd serve)"),
    ],
)
def test_leger_error_is_one_line_on_stderr_with_its_exit_code(
    leger_register, leger_invoke, kind, code, line
):
    leger_register(_Failing(), name="failing")
    result = leger_invoke(["fail", kind])
    assert result.exit_code == code
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def test_a_bug_is_not_dressed_up_as_a_user_error(leger_register, leger_invoke):
    leger_register(_Failing(), name="failing")
    result = leger_invoke(["fail", "bug"])
    assert isinstance(result.exception, RuntimeError)


def test_every_error_class_has_a_documented_exit_code():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in [LegerError, *subclasses(LegerError)]:
        assert cls.exit_code in EXIT_CODES, cls


def _bash_complete(line: str, tmp_path) -> list[str]:
    """What bash offers after ``line`` once ``leger completion bash`` is sourced, asked the
    way bash asks it (COMP_WORDS/COMP_CWORD, then COMPREPLY), with the real ``leger``."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    leger = Path(sys.executable).with_name("leger")
    env = {
        "PATH": f"{leger.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "LEGER_CONFIG": str(tmp_path / "config.toml"),
    }
    words = line.split(" ")
    script = (
        'eval "$(leger completion bash)"\n'
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_leger_completion leger\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    bash = shutil.which("bash")
    assert bash
    out = subprocess.run(
        [bash, "--norc", "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_bash_completion_offers_commands_and_subcommands(tmp_path):
    assert {"config", "completion", "plugins"} <= set(_bash_complete("leger ", tmp_path))
    assert _bash_complete("leger con", tmp_path) == ["config"]
    assert set(_bash_complete("leger config ", tmp_path)) >= {"get", "set", "unset", "path"}


def test_completion_refuses_an_unknown_shell(run_leger):
    result = run_leger("completion", "tcsh")
    assert result.returncode == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr
    assert result.stdout == ""
