"""Fixtures: a private home for every test, a stand-in ``systemctl`` first on PATH (systemd is
not PID 1 here) that records its calls and can be told to fail, a ``git`` wrapper that logs
which git commands ran, a real git repository made from ``examples/``, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import leger_plugin_deploy
from leger_plugin_deploy.authoring import refresh_manifest_file

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

SYSTEMCTL = textwrap.dedent(
    """\
    #!{python}
    import json, os, signal, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_SYSTEMCTL_LOG"], "a") as fh:
        fh.write(json.dumps(args) + "\\n")
    # Parse like systemctl (getopt): before "--", anything starting with "-" is an option.
    words, options_done = [], False
    for a in args:
        if options_done or not a.startswith("-"):
            words.append(a)
        elif a == "--":
            options_done = True
        elif a != "--user":
            print("stand-in systemctl: unrecognized option " + repr(a), file=sys.stderr)
            sys.exit(1)
    for rule in filter(None, os.environ.get("FAKE_SYSTEMCTL_FAIL", "").split(";")):
        action, _, pattern = rule.partition(":")
        want = pattern.split()
        if words[: len(want)] == want:
            if action == "kill":
                os.kill(os.getppid(), signal.SIGKILL)
            if words[0] == "is-active":
                print("failed")
                sys.exit(3)
            print("stand-in systemctl: " + " ".join(words) + " failed", file=sys.stderr)
            sys.exit(1)
    if words and words[0] == "is-active":
        print("active")
    """
)

GIT_WRAPPER = textwrap.dedent(
    """\
    #!/bin/sh
    echo "$*" >> "$FAKE_GIT_LOG"
    exec {git} "$@"
    """
)


class StandInSystemctl:
    def __init__(self, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = log
        self.monkeypatch = monkeypatch

    def raw_calls(self) -> list[list[str]]:
        """Each call's arguments exactly as given (``--user`` and ``--`` included)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def calls(self) -> list[list[str]]:
        """Each call's verb and unit names, without ``--user`` and the ``--`` before units."""
        return [[a for a in call if a not in ("--user", "--")] for call in self.raw_calls()]

    def clear(self) -> None:
        self.log.unlink(missing_ok=True)

    def fail(self, *patterns: str) -> None:
        """``fail("daemon-reload")``, ``fail("is-active litellm.service")``; ``kill:restart``
        kills the calling process instead (a crash)."""
        rules = [p if ":" in p else f"fail:{p}" for p in patterns]
        self.monkeypatch.setenv("FAKE_SYSTEMCTL_FAIL", ";".join(rules))

    def ok(self) -> None:
        self.monkeypatch.delenv("FAKE_SYSTEMCTL_FAIL", raising=False)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for var, sub in (
        ("HOME", ""),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("LEGER_CONFIG", str(home / "leger-config.toml"))
    # No podman here: the podman secrets a release names are checked under real systemd
    # and podman 5 (tests/systemd/test_deploy_systemd.py).
    (home / "leger-config.toml").write_text('[deploy]\nsecrets_strategy = "none"\n')
    monkeypatch.setenv("LEGER_QUADLET_DIR", str(home / "quadlets"))
    monkeypatch.delenv("LEGER_SYSTEMD_SCOPE", raising=False)
    # systemd's unit directories, for the shadowing check: the private home's, not this
    # machine's /etc and /usr/lib (test_deploy_shadowing checks the defaults)
    monkeypatch.setenv("LEGER_SYSTEMD_UNIT_PATH", str(home / ".config/systemd/user"))
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "Leger Test")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "test@leger.invalid")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return home


@pytest.fixture
def systemctl(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandInSystemctl:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text(SYSTEMCTL.format(python=sys.executable))
    script.chmod(0o755)
    real_git = shutil.which("git")
    assert real_git, "git is needed for these tests"
    wrapper = bin_dir / "git"
    wrapper.write_text(GIT_WRAPPER.format(git=real_git))
    wrapper.chmod(0o755)
    monkeypatch.setenv("FAKE_GIT_LOG", str(tmp_path / "git.log"))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_LOG", str(tmp_path / "systemctl.log"))
    monkeypatch.delenv("FAKE_SYSTEMCTL_FAIL", raising=False)
    return StandInSystemctl(tmp_path / "systemctl.log", monkeypatch)


@pytest.fixture
def git_log(tmp_path: Path) -> Callable[[], list[str]]:
    def read() -> list[str]:
        path = tmp_path / "git.log"
        return path.read_text().splitlines() if path.exists() else []

    return read


@pytest.fixture
def cli(
    leger_pm, leger_register, leger_invoke, systemctl: StandInSystemctl
) -> Callable[..., Result]:
    """Run ``leger …`` in-process with the deploy plugin; a failing exit code shows output."""
    leger_register(leger_plugin_deploy, name="deploy")

    def run(*args: str, input: str | None = None, expect: int | None = 0) -> Result:
        result = leger_invoke(list(args), input=input)
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    return run


class Repo:
    """A real git repository holding the example release."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True
        ).stdout

    def commit(self, message: str, *, manifest: bool = True, **changes: str | None) -> str:
        """Write (or, with None, delete) files given as ``name_with_underscores=text``; the
        keyword is the file name with ``__`` for ``.``."""
        for key, text in changes.items():
            path = self.path / key.replace("__", ".")
            if text is None:
                path.unlink()
            else:
                path.write_text(text)
        if manifest:
            refresh_manifest_file(self.path)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()


@pytest.fixture
def repo(home: Path, tmp_path: Path) -> Repo:
    path = tmp_path / "ai-stack"
    shutil.copytree(EXAMPLES, path)
    r = Repo(path)
    r.git("init", "-q", "-b", "main")
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "first release")
    return r


@pytest.fixture
def quadlets(home: Path) -> Path:
    return home / "quadlets"


@pytest.fixture
def deployments(home: Path) -> Path:
    return home / ".local/state/leger/deployments"


def snapshot(*roots: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``roots``: equal snapshots mean nothing
    changed, not even an empty folder."""
    out: dict[str, bytes | None] = {}
    for root in roots:
        if not root.exists():
            out[f"{root} (absent)"] = None
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for d in dirnames:
                out[os.path.join(dirpath, d) + "/"] = None
            for f in filenames:
                path = Path(dirpath, f)
                out[str(path)] = path.read_bytes()
    return out


@pytest.fixture
def machine(quadlets: Path, deployments: Path) -> Callable[[], dict[str, bytes | None]]:
    """A snapshot of everything a deployment touches: the quadlet folder and the state
    folder (state files and backups)."""
    return lambda: snapshot(quadlets, deployments)
