"""Pytest fixtures for tests that run real containers (entry point ``pytest11`` of the
dev-only ``leger-testkit``, installed by ``./dev setup``).

Podman 4.3 here needs runc and lowered ulimits (crun fails on hybrid cgroups), and there is no
registry: the image is imported from a busybox rootfs. ``podman_env`` prepares all of that once
per session in a private storage root, so tests never touch the machine's containers, images or
secrets:

* ``podman_env.run(["secret", "ls"])`` runs podman with the private config and storage;
* ``podman_env.run_container(["--secret", "s,type=env,target=X"], "printf %s \\"$X\\"")``
  runs ``sh -c SCRIPT`` in the test image (``--rm --network none`` unless told otherwise);
* ``podman_env.service()`` starts ``podman system service`` on a private socket (once; pass
  ``env=`` for a private one with another environment, stopped at session end) and returns
  its ``unix://`` URL;
* ``podman_env.env`` is the environment for anything else that must see the same podman;
* ``leger_home`` is ``leger`` as a real process beside ``legerd_daemon`` (private XDG dirs and
  config), and ``secrets_in_legerd(name, value)`` stores and activates a value in that legerd.

Tests using these are marked ``podman``; when podman or runc is missing they fail (CI installs
them) rather than skip quietly.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from leger_testkit.podmanenv import IMAGE, PodmanEnv, busybox_path, podman_missing
from leger_testkit.userenv import user_env

__all__ = [
    "IMAGE",
    "ArgvWatch",
    "LegerHome",
    "PodmanEnv",
    "leger_home",
    "podman_env",
    "secrets_in_legerd",
]


class ArgvWatch:
    """Reads every process's ``/proc/PID/cmdline`` over and over in a thread while a test runs
    the real thing, and records any that contains one of ``needles`` (secret values)::

        with ArgvWatch([b"sk-value"]) as watch:
            podman_env.run_container(...)
        assert watch.hits == [] and watch.scans > 0
    """

    def __init__(self, needles: list[bytes]) -> None:
        import threading

        self.needles = [n for n in needles if n]
        self.hits: list[tuple[int, bytes]] = []
        self.scans = 0
        self.commands: set[bytes] = set()  # argv[0] of every process seen, to show what ran
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                        cmdline = fh.read()
                except OSError:
                    continue
                self.commands.add(cmdline.split(b"\0", 1)[0])
                if any(n in cmdline for n in self.needles):
                    self.hits.append((int(entry.name), cmdline))
            self.scans += 1

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class LegerHome:
    """A private home for ``leger`` run as a real process next to a real legerd."""

    def __init__(self, root: Path, legerd_env: Mapping[str, str], plugins: str) -> None:
        import sys

        self.root = root
        root.mkdir()
        self.runtime = root / "run"
        self.runtime.mkdir(mode=0o700)
        self.config = root / "config.toml"
        self.config.write_text("")
        self.leger = str(Path(sys.executable).parent / "leger")
        self.env = user_env(
            root / "home",
            runtime=self.runtime,
            drop=("LEGER_NO_FAST",),
            LEGER_CONFIG=str(self.config),
            LEGER_LOAD_PLUGINS=plugins,
            **legerd_env,
        )

    def write_config(self, data: Mapping[str, object]) -> None:
        import tomli_w

        self.config.write_text(tomli_w.dumps(dict(data)))

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.leger, *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            timeout=60,
        )

    def run_text(
        self, *args: str, env: Mapping[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """:meth:`run` with str input and output (UTF-8), for tests that read messages."""
        proc = self.run(*args, env=env, input=None if input is None else input.encode())
        out, err = proc.stdout.decode(), proc.stderr.decode()
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def env_file(self, service: str) -> Path:
        """Where the envfile strategy writes ``service``'s file by default."""
        return self.runtime / "leger" / f"{service}.env"


@pytest.fixture
def leger_home(tmp_path: Path, legerd_daemon: object) -> LegerHome:
    """``leger`` as a process: private XDG dirs, a config file, ``LEGERD_SOCKET`` of
    ``legerd_daemon``; ``.run(*args, env=, input=)`` returns bytes output."""
    env: Mapping[str, str] = legerd_daemon.env  # type: ignore[attr-defined]
    return LegerHome(tmp_path / "leger-home", env, "envfile,setec,podman,initscript")


@pytest.fixture
def secrets_in_legerd(legerd_daemon: Any) -> Callable[[str, str | bytes], None]:
    """``put(name, value)``: store ``value`` in ``legerd_daemon`` and make it the active
    version, as ``leger local put`` would."""
    from leger_core.models import SecretValue

    def put(name: str, value: str | bytes) -> None:
        with legerd_daemon.client() as client:
            client.activate(name, client.put(name, SecretValue(value)))

    return put


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanEnv]:
    missing = podman_missing()
    if missing:
        pytest.fail(f"podman tests need real podman: {missing}")
    root = tmp_path_factory.mktemp("podman")
    env = PodmanEnv(root)
    try:
        busybox = busybox_path()
        assert busybox is not None
        env.import_image(busybox)
        yield env
    finally:
        env.close()
        # Containers are --rm; remove any a failed test left so no overlay stays mounted.
        # (Never `podman system reset`: it would also drop the machine's networks.)
        subprocess.run(["podman", "rm", "-af"], env=env.env, capture_output=True, timeout=60)
